//! Chat: application messages. Sending one encrypts it as an MLS application message of the
//! current epoch, logs it for repair and records it in the durable history; receiving one
//! checks its sender (a member removed since its epoch only when a current member vouches for
//! the message), notes the history it references, drops re-sends and delivers it once.

use super::event::{GroupEvent, RejectReason};
use super::group::Group;
use super::history::{self, LoggedMessage};
use super::publish;
use super::silent::Silent;
use super::step::{Abort, Step, reject};
use crate::types::{Epoch, MemberId, Topic};
use crate::wire::{Chat, Frame, frame};

/// Publishes application message `id` with `payload` in the current epoch.
pub(crate) fn send(
    group: &mut Group,
    step: &mut Step<'_>,
    id: &[u8],
    payload: &[u8],
) -> Result<(), Abort> {
    let now = step.now;
    let max_log = step.params.message_log;
    let frame = Frame {
        body: Some(frame::Body::Chat(Chat {
            message_id: id.to_vec(),
            payload: payload.to_vec(),
            sent_at: now.0,
            history: group.repair.history(),
            resent_from_epoch: None,
        })),
    };
    let envelope = publish::publish_frame(group, step, &frame)?;
    let epoch = group.epoch();
    group.repair.note_message(id, epoch, &envelope, max_log);
    group.repair.note_sent(id, payload, epoch, max_log);
    let me = step.me();
    history::record(
        step,
        &group.id,
        &LoggedMessage {
            message_id: id.to_vec(),
            sender: me,
            payload: payload.to_vec(),
            epoch,
            at: now,
        },
    );
    Ok(())
}

/// A chat message `sender` sent in `epoch` (`raw` is its envelope, as it arrived on `topic`).
pub(crate) fn receive(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    raw: &[u8],
    sender: MemberId,
    epoch: Epoch,
    chat: Chat,
) -> Result<(), Abort> {
    // A member removed by a commit this member applied keeps its old epochs' keys for a
    // while; what it sends under them after its removal looks like what it sent before. Of a
    // member that is gone, only messages a current member vouched for are taken (§9).
    let removed_since = epoch < group.epoch() && !group.roster().contains(&sender);
    if chat.payload.len() > step.params.max_app_message_bytes {
        return reject(RejectReason::Oversized, "application payload");
    }
    if removed_since
        && !group.repair.is_missing(&chat.message_id)
        && !in_flight(group, step, &sender)
    {
        // Held (rolled back, so that it can be processed again) until a current
        // member vouches for it.
        if group.repair.hold_unvouched(&chat.message_id, topic, raw) {
            group.repair.unmark_seen(raw);
            return Err(Abort::Hold);
        }
        return reject(
            RejectReason::NotAMember,
            format!(
                "sender removed since epoch {epoch}, message referenced by nobody \
                 (no room to hold it for a vouch)"
            ),
        );
    }
    let released = group.repair.note_references(&chat.history, step.now);
    step.requeue.extend(released);
    // A re-send of a message delivered here before (in another envelope, maybe before
    // a restart): keep quiet.
    if group.repair.knows_message(&chat.message_id)
        || history::contains(step, &group.id, &chat.message_id)?
    {
        let resent = chat.resent_from_epoch.is_some();
        group.repair.note_copy(&chat.message_id, epoch, raw, resent);
        step.out.silent(Silent::Duplicate);
        return Ok(());
    }
    group
        .repair
        .note_message(&chat.message_id, epoch, raw, step.params.message_log);
    history::record(
        step,
        &group.id,
        &LoggedMessage {
            message_id: chat.message_id.clone(),
            sender,
            payload: chat.payload.clone(),
            epoch,
            at: step.now,
        },
    );
    step.out.event(GroupEvent::MessageReceived {
        group_id: group.id.clone(),
        sender,
        message_id: chat.message_id,
        payload: chat.payload,
        epoch,
        resent: chat.resent_from_epoch.is_some(),
    });
    Ok(())
}

/// Whether a message from `sender`, removed by a commit this member applied, may still be on
/// its way from before the removal: within this member's patience (its delivery spread, at
/// most 30 s) of applying that commit.
fn in_flight(group: &Group, step: &Step<'_>, sender: &MemberId) -> bool {
    let patience = group.repair.catch_up.patience_ms(step.params);
    group.inbound.removed_within(sender, step.now, patience)
}
