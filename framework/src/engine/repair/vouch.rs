//! Vouching: a message of a member removed since its epoch is held until a current member
//! vouches for it (names it in a chat message's history or a status beacon). Held messages are
//! asked for a vouch in repair requests; a member that took such a message itself answers with
//! a beacon of its own after a random backoff, unless another member's beacon named it first
//! (one vouch per request, not one per holder).

use super::answers::answer_key;
use super::state::Unvouched;
use super::{Abort, Group, Repair, RepairState, STATUS_RECENT, Step};
use crate::engine::event::{GroupEvent, RejectReason};
use crate::engine::publish;
use crate::types::Topic;
use crate::wire::{Frame, Status, frame};

/// Messages of gone members held at once while waiting for a current member to vouch.
const UNVOUCHED: usize = 64;
/// Vouch requests per held message before it is refused.
const VOUCH_ATTEMPTS: u32 = 4;

/// What identifies a vouch for message `id` (a status beacon naming it), whoever sends it.
pub(super) fn vouch_key(id: &[u8]) -> [u8; 32] {
    answer_key(b"demls/vouch-answer", &[id])
}

impl RepairState {
    /// Holds a message of a member that is gone until a current member vouches for it (it is
    /// asked for a vouch at the next tick). True if it is held (also from an earlier copy),
    /// false if no room is left.
    pub(crate) fn hold_unvouched(&mut self, id: &[u8], topic: &Topic, raw: &[u8]) -> bool {
        if self.unvouched.contains_key(id) {
            return true;
        }
        if self.unvouched.len() >= UNVOUCHED {
            return false;
        }
        self.unvouched.insert(
            id.to_vec(),
            Unvouched {
                topic: topic.clone(),
                raw: raw.to_vec(),
                asked: None,
                attempts: 0,
            },
        );
        true
    }
}

/// Vouches for the messages of a gone member that `asked` names: only those this member took
/// itself, each in a status beacon of its own after a random backoff, unless another member's
/// beacon named it first (so one vouch answers, not every member holding the message).
pub(super) fn answer_vouches(
    group: &mut Group,
    step: &mut Step<'_>,
    asked: &[Vec<u8>],
) -> Result<(), Abort> {
    let topic = group.topics.group.clone();
    let vouched: Vec<Vec<u8>> = asked
        .iter()
        .take(STATUS_RECENT)
        .filter(|id| group.repair.log.contains_key(*id))
        .cloned()
        .collect();
    let epoch = group.epoch();
    for id in vouched {
        let key = vouch_key(&id);
        if group.repair.is_scheduled(&key) {
            continue;
        }
        let env = publish::seal_control(
            group,
            step,
            &Frame {
                body: Some(frame::Body::Status(Status {
                    epoch,
                    recent: vec![id],
                })),
            },
        )?;
        group
            .repair
            .schedule_answer(key, step, topic.clone(), vec![env]);
    }
    Ok(())
}

/// Asks for a vouch for the held messages that are due (each `repair_retry_ms`), and refuses
/// those nobody vouched for after the last request.
pub(super) fn request_vouches(group: &mut Group, step: &mut Step<'_>, request: &mut Repair) {
    let now = step.now;
    let params = step.params;
    let mut unvouched = Vec::new();
    for (id, held) in group.repair.unvouched.iter_mut() {
        let due = held
            .asked
            .map_or(now, |t| t.plus_ms(params.repair_retry_ms));
        if due > now {
            continue;
        }
        if held.attempts >= VOUCH_ATTEMPTS {
            unvouched.push(id.clone());
        } else if request.vouch.len() < STATUS_RECENT {
            held.asked = Some(now);
            held.attempts += 1;
            request.vouch.push(id.clone());
        }
    }
    for id in unvouched {
        group.repair.unvouched.remove(&id);
        step.out.event(GroupEvent::Rejected {
            group_id: Some(group.id.clone()),
            reason: RejectReason::NotAMember,
            detail: "message of a member removed since its epoch: no current member vouched for it"
                .into(),
        });
    }
}
