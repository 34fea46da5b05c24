//! MLS traffic of a member: application messages (chat, status beacons, repair requests) and
//! sealed commits, each checked against the epoch window and the roster of its epoch.

use openmls::prelude::ProtocolMessage;

use super::epoch_window;
use super::state::Held;
use crate::engine::chat;
use crate::engine::event::RejectReason;
use crate::engine::group::Group;
use crate::engine::silent::Silent;
use crate::engine::step::{Abort, Step, reject};
use crate::engine::{repair, selection, validation};
use crate::mls::{MlsState, Processed};
use crate::types::Topic;
use crate::wire::{Envelope, Frame, frame, sealed};

/// Decodes an MLS message whose header must name the envelope's group and epoch.
fn peek_matching(bytes: &[u8], group_id: &[u8], epoch: u64) -> Result<ProtocolMessage, Abort> {
    let (message, mls_gid, mls_epoch) = match MlsState::peek(bytes) {
        Ok(v) => v,
        Err(e) => return reject(RejectReason::Malformed, e.to_string()),
    };
    if mls_gid != group_id || mls_epoch != epoch {
        return reject(
            RejectReason::Malformed,
            "MLS header does not match the envelope",
        );
    }
    Ok(message)
}

/// An MLS application message: a chat message or a consensus message.
pub(super) fn on_mls(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    let oldest = group
        .epoch()
        .saturating_sub(step.params.max_past_epochs as u64);
    let epoch = env.epoch;
    if !epoch_window(group, step, topic, raw.to_vec(), epoch, oldest)? {
        return Ok(());
    }
    group.repair.mark_seen(raw);
    let message = peek_matching(&env.body, &env.group_id, epoch)?;
    let Some(sender_roster) = group.members_at(epoch).map(|m| m.roster.clone()) else {
        return reject(
            RejectReason::StaleEpoch,
            format!("no roster for epoch {epoch}"),
        );
    };
    // A message OpenMLS refuses changes nothing in it (a ratchet moves only on success), so
    // only a processed one can need undoing if this step is refused later.
    let processed = match group.mls.process(&step.provider(), message) {
        Ok(p) => {
            group.touch_mls();
            p
        }
        Err(e) => return reject(RejectReason::MlsRejected, e.to_string()),
    };
    let (sender_leaf, plaintext) = match processed {
        Processed::Own => {
            step.out.silent(Silent::OwnEcho);
            return Ok(());
        }
        Processed::Commit { .. } => {
            return reject(RejectReason::Malformed, "commit outside a commit envelope");
        }
        Processed::Application {
            sender_leaf,
            plaintext,
        } => (sender_leaf, plaintext),
    };
    let Some(sender) = sender_roster.at_leaf(sender_leaf).map(|e| e.id) else {
        return reject(
            RejectReason::NotAMember,
            format!("no member at leaf {sender_leaf}"),
        );
    };
    // A member removed by a commit this member applied keeps its old epochs' keys for a
    // while; what it sends under them after its removal looks like what it sent before. Of a
    // member that is gone, only messages a current member vouched for are taken (§9).
    let removed_since = epoch < group.epoch() && !group.roster().contains(&sender);
    let frame: Frame = match crate::wire::decode_frame(&plaintext) {
        Ok(f) => f,
        Err(e) => return reject(RejectReason::Malformed, e.to_string()),
    };
    match frame.body {
        Some(frame::Body::Chat(chat)) => {
            chat::receive(group, step, topic, raw, sender, epoch, chat)
        }
        Some(frame::Body::Consensus(_)) => reject(
            RejectReason::Malformed,
            "consensus traffic travels in consensus envelopes",
        ),
        // A beacon is evidence of nothing but the messages it names: one from an earlier epoch
        // may simply have crossed the commit (members that are behind ask, see `catch_up`).
        _ if removed_since => reject(
            RejectReason::NotAMember,
            format!("sender removed since epoch {epoch}"),
        ),
        Some(frame::Body::Status(status)) => {
            let released = group.repair.note_references(&status.recent, step.now);
            step.requeue.extend(released);
            Ok(())
        }
        Some(frame::Body::Repair(repair)) => repair::on_repair(group, step, epoch, repair),
        None => reject(RejectReason::Malformed, "empty frame"),
    }
}

/// A sealed commit.
pub(super) fn on_commit(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: Envelope,
    raw_bytes: &[u8],
) -> Result<(), Abort> {
    let epoch = env.epoch;
    let current = group.epoch();
    if epoch < current {
        let known = group
            .epochs
            .commit(epoch)
            .is_some_and(|c| c.sealed == env.body);
        if known || epoch < group.meta.joined_epoch {
            // The commit we applied, or one from before we joined, sent again for a member
            // catching up: nothing to do.
            step.out.silent(if known {
                Silent::AlreadyApplied
            } else {
                Silent::BeforeJoined
            });
            return Ok(());
        }
        return reject(
            RejectReason::StaleEpoch,
            format!("commit for epoch {epoch}, current {current}"),
        );
    }
    let raw = raw_bytes.to_vec();
    if !epoch_window(group, step, topic, raw.clone(), epoch, current)? {
        return Ok(());
    }
    // Seen from now on (a parked commit is un-seen below: it will be processed again).
    group.repair.mark_seen(&raw);
    let Ok(commit_bytes) = sealed::open(group.epochs.key(), &env.group_id, epoch, &env.body) else {
        return reject(
            RejectReason::NotAMember,
            "sealed commit does not open with this epoch's key",
        );
    };
    let message = peek_matching(&commit_bytes, &env.group_id, epoch)?;
    let (sender_leaf, aad, staged) = match group.mls.process(&step.provider(), message) {
        Ok(Processed::Commit {
            sender_leaf,
            aad,
            staged,
        }) => {
            group.touch_mls();
            (sender_leaf, aad, staged)
        }
        Ok(_) => return reject(RejectReason::Malformed, "not a commit"),
        Err(e) => return reject(RejectReason::MlsRejected, e.to_string()),
    };
    match validation::validate(group, step, sender_leaf, &aad, &staged, &env.body)? {
        validation::CommitJudgement::Accept(plan, rank) => {
            selection::accept(group, step, plan, rank, env.body, *staged)
        }
        validation::CommitJudgement::Park {
            detail,
            waiting,
            author,
        } => {
            validation::make_room(group, step, author, epoch);
            group.repair.catch_up.confirm_ending(epoch);
            if group.inbound.is_full(step.params.max_buffered_messages) {
                return reject(RejectReason::BufferFull, "parked-commit buffer full");
            }
            tracing::debug!(group = %group.id.display(), %detail, "commit parked");
            step.out.silent(Silent::Held);
            group.repair.unmark_seen(&raw);
            group.inbound.park(Held {
                topic: topic.clone(),
                payload: raw,
                epoch,
                since: step.now,
                waiting,
                author: Some(author),
            });
            // Nothing was merged, and staging changed nothing in the group: the staged commit
            // is simply dropped.
            Ok(())
        }
    }
}
