//! This member's own recent application messages, kept to send them again to members that
//! could not read them (after a rejoin or a fork) and, after a restart, to send again what may
//! have died with the process.

use std::collections::VecDeque;

use super::HISTORY;
use super::state::{KNOWN, RepairState};
use crate::engine::group::Group;
use crate::engine::publish;
use crate::engine::step::{Abort, Step};
use crate::types::Epoch;
use crate::wire::{Chat, Frame, frame};

impl RepairState {
    /// Records an application message this member sent (keeping at most `cap`).
    pub(crate) fn note_sent(&mut self, id: &[u8], payload: &[u8], epoch: Epoch, cap: usize) {
        if self.outbox.iter().any(|(i, _, _)| i == id) {
            return;
        }
        self.outbox
            .push_back((id.to_vec(), payload.to_vec(), epoch));
        while self.outbox.len() > cap.max(1) {
            self.outbox.pop_front();
        }
    }

    /// After a restart: restores this member's own recent messages (from the durable history)
    /// and makes the next tick send them again.
    pub(crate) fn restore_sent_after_restart(&mut self, sent: Vec<(Vec<u8>, Vec<u8>, Epoch)>) {
        if sent.is_empty() {
            return;
        }
        for (id, _, _) in &sent {
            self.known.insert(id.clone(), KNOWN);
        }
        self.outbox.extend(sent);
        self.resend_after_restart = true;
    }

    /// This member's own messages first sent in `epoch` or later, oldest first.
    pub(crate) fn sent_since(&self, epoch: Epoch) -> Vec<(Vec<u8>, Vec<u8>, Epoch)> {
        self.outbox
            .iter()
            .filter(|(_, _, e)| *e >= epoch)
            .cloned()
            .collect()
    }

    /// Takes the outbox (to carry it into a replacement of this group after a rejoin).
    pub(crate) fn take_outbox(&mut self) -> VecDeque<(Vec<u8>, Vec<u8>, Epoch)> {
        std::mem::take(&mut self.outbox)
    }

    /// Installs an outbox carried over from a replaced instance of the group.
    pub(crate) fn restore_outbox(&mut self, outbox: VecDeque<(Vec<u8>, Vec<u8>, Epoch)>) {
        self.outbox = outbox;
    }
}

/// Restarted: what this member sent in its current epoch just before it died may never have
/// left it (a member that is behind or rejoining sends it again once it is back instead).
pub(crate) fn resend_after_restart(group: &mut Group, step: &mut Step<'_>) -> Result<(), Abort> {
    if std::mem::take(&mut group.repair.resend_after_restart)
        && !group.repair.catch_up.is_ahead_known()
        && !group.rejoin.is_rejoining()
    {
        let epoch = group.epoch();
        resend_since(group, step, epoch)?;
    }
    Ok(())
}

/// Sends again, in the current epoch and marked as re-sent, this member's own messages first
/// sent in epoch `since` or later (messages of `since` itself may have been sent after the
/// split; receivers that have one drop the copy).
///
/// Each copy goes out once, so a receiver that loses one must learn its id to ask for it
/// (§11 repair). The copies name each other: each carries as causal history the ids of the
/// [`HISTORY`] copies of the same burst before it, counted cyclically (the first names the
/// last ones), so every copy is named by up to [`HISTORY`] others and a receiver misses one
/// for good only if it loses all of them too. The burst's ids also become this member's latest
/// messages, which its next chat message and status beacons name.
pub(crate) fn resend_since(
    group: &mut Group,
    step: &mut Step<'_>,
    since: Epoch,
) -> Result<(), Abort> {
    let again = group.repair.sent_since(since);
    if !again.is_empty() {
        tracing::debug!(group = %group.id.display(), since, count = again.len(), "re-sending own messages");
    }
    let ids: Vec<Vec<u8>> = again.iter().map(|(id, _, _)| id.clone()).collect();
    for (i, (id, payload, first_epoch)) in again.into_iter().enumerate() {
        let history = burst_history(&ids, i);
        let frame = Frame {
            body: Some(frame::Body::Chat(Chat {
                message_id: id.clone(),
                payload,
                sent_at: step.now.0,
                history,
                resent_from_epoch: Some(first_epoch),
            })),
        };
        let envelope = publish::publish_frame(group, step, &frame)?;
        let epoch = group.epoch();
        group
            .repair
            .replace_logged(&id, epoch, &envelope, step.params.message_log);
    }
    group.repair.note_recent(&ids);
    Ok(())
}

/// The causal history of copy `i` of a burst of re-sent messages `ids`: the ids of the
/// [`HISTORY`] copies before it, newest first, wrapping around to the end of the burst.
fn burst_history(ids: &[Vec<u8>], i: usize) -> Vec<Vec<u8>> {
    let n = ids.len();
    (1..=HISTORY.min(n.saturating_sub(1)))
        .map(|back| ids[(i + n - back) % n].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burst(n: u8) -> Vec<Vec<u8>> {
        (0..n).map(|i| vec![i]).collect()
    }

    #[test]
    fn every_copy_of_a_burst_is_named_by_the_copies_after_it_cyclically() {
        let ids = burst(6);
        assert_eq!(
            burst_history(&ids, 5),
            vec![vec![4], vec![3], vec![2], vec![1]]
        );
        assert_eq!(
            burst_history(&ids, 0),
            vec![vec![5], vec![4], vec![3], vec![2]]
        );
        for (j, id) in ids.iter().enumerate() {
            let namers = (0..ids.len())
                .filter(|&i| burst_history(&ids, i).contains(id))
                .count();
            assert_eq!(namers, HISTORY, "copy {j}");
        }
    }

    #[test]
    fn a_short_burst_names_every_other_copy_and_a_single_copy_names_none() {
        let ids = burst(3);
        assert_eq!(burst_history(&ids, 1), vec![vec![0], vec![2]]);
        assert!(burst_history(&burst(1), 0).is_empty());
        assert!(burst_history(&[], 0).is_empty());
    }
}
