//! This member's own recent application messages, kept to send them again to members that
//! could not read them (after a rejoin or a fork) and, after a restart, to send again what may
//! have died with the process.

use std::collections::VecDeque;

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
pub(crate) fn resend_since(
    group: &mut Group,
    step: &mut Step<'_>,
    since: Epoch,
) -> Result<(), Abort> {
    let again = group.repair.sent_since(since);
    if !again.is_empty() {
        tracing::debug!(group = %group.id.display(), since, count = again.len(), "re-sending own messages");
    }
    for (id, payload, first_epoch) in again {
        let frame = Frame {
            body: Some(frame::Body::Chat(Chat {
                message_id: id.clone(),
                payload,
                sent_at: step.now.0,
                history: Vec::new(),
                resent_from_epoch: Some(first_epoch),
            })),
        };
        let envelope = publish::publish_frame(group, step, &frame)?;
        let epoch = group.epoch();
        group
            .repair
            .replace_logged(&id, epoch, &envelope, step.params.message_log);
    }
    Ok(())
}
