//! Envelopes sealed under the key of their epoch (only that epoch's members hold it):
//! consensus messages, control frames (status beacons, repair requests), certificate parts and
//! catch-up requests.

use super::epoch_window;
use crate::engine::event::RejectReason;
use crate::engine::group::Group;
use crate::engine::silent::Silent;
use crate::engine::step::{Abort, Step, reject};
use crate::engine::{catch_up, governance, repair};
use crate::types::Topic;
use crate::wire::{Envelope, Frame, frame, sealed};

/// One of the `sealed::open_*` functions: (epoch key, group id, epoch, body) to plaintext.
type Opener = fn(&[u8; 16], &[u8], u64, &[u8]) -> Result<Vec<u8>, crate::wire::WireError>;

/// Opens an envelope sealed under the key of its epoch (only that epoch's members hold it):
/// `None` when it was buffered for a later epoch; `what` names it in the refusal.
fn open_epoch_sealed(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: &Envelope,
    raw: &[u8],
    open: Opener,
    what: &str,
) -> Result<Option<Vec<u8>>, Abort> {
    let oldest = group
        .epoch()
        .saturating_sub(step.params.max_past_epochs as u64);
    let epoch = env.epoch;
    if !epoch_window(group, step, topic, raw.to_vec(), epoch, oldest)? {
        return Ok(None);
    }
    let Some(key) = group.members_at(epoch).map(|m| m.key) else {
        return reject(
            RejectReason::StaleEpoch,
            format!("no key for epoch {epoch}"),
        );
    };
    let Ok(plain) = open(&key, &env.group_id, epoch, &env.body) else {
        return reject(
            RejectReason::NotAMember,
            format!("{what} does not open with its epoch's key"),
        );
    };
    group.repair.mark_seen(raw);
    Ok(Some(plain))
}

/// A sealed consensus message (a proposal or a vote), handed to the consensus plugin, which
/// checks signatures.
pub(super) fn on_consensus(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    let open = sealed::open_consensus;
    match open_epoch_sealed(group, step, topic, &env, raw, open, "consensus message")? {
        Some(message) => governance::ingest(group, step, &message),
        None => Ok(()),
    }
}

/// A sealed control frame: a status beacon or a repair request. Nothing depends on who sent
/// it.
pub(super) fn on_control(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    let open = sealed::open_control;
    let Some(plain) = open_epoch_sealed(group, step, topic, &env, raw, open, "control frame")?
    else {
        return Ok(());
    };
    let frame: Frame = match crate::wire::decode_frame(&plain) {
        Ok(f) => f,
        Err(e) => return reject(RejectReason::Malformed, e.to_string()),
    };
    match frame.body {
        Some(frame::Body::Status(status)) => {
            let released = group.repair.note_references(&status.recent, step.now);
            step.requeue.extend(released);
            Ok(())
        }
        Some(frame::Body::Repair(repair)) => repair::on_repair(group, step, env.epoch, repair),
        _ => reject(
            RejectReason::Malformed,
            "a control frame carries a status or a repair request",
        ),
    }
}

/// A sealed certificate part: proof of a proposal's outcome for members catching up in
/// `env.epoch`. Parts for a later epoch are held until this member gets there (a catch-up
/// answer sends them ahead of the commit that needs them); members past that epoch only note
/// that it was sent (their own answer to the same request is then unnecessary).
pub(super) fn on_certificate(
    group: &mut Group,
    step: &mut Step<'_>,
    topic: &Topic,
    env: Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    let Ok(id) = sealed::certificate_proposal(&env.body) else {
        group.repair.mark_seen(raw);
        return reject(
            RejectReason::Malformed,
            "certificate part without a proposal id",
        );
    };
    let current = group.epoch();
    if env.epoch > current {
        epoch_window(group, step, topic, raw.to_vec(), env.epoch, current)?;
        return Ok(());
    }
    group.repair.mark_seen(raw);
    group
        .repair
        .note_answered(repair::certificate_key(env.epoch, &id), step.now);
    if env.epoch != current {
        step.out.silent(Silent::NotForThisMember);
        return Ok(());
    }
    let Ok((_, part)) =
        sealed::open_certificate(group.epochs.key(), &env.group_id, env.epoch, &env.body)
    else {
        return reject(
            RejectReason::NotAMember,
            "certificate part does not open with this epoch's key",
        );
    };
    governance::ingest_certificate(group, step, &part)
}

/// A member stuck in `env.epoch` asks to catch up. Members that left that epoch and still
/// retain its commit check that the request opens under that epoch's key (only its members
/// can ask) and may answer (see [`catch_up::answer`]); a request from this member's own epoch
/// will be answered for everyone, so this member need not ask too; one from a later epoch
/// shows this member is behind.
pub(super) fn on_catch_up(
    group: &mut Group,
    step: &mut Step<'_>,
    env: Envelope,
    raw: &[u8],
) -> Result<(), Abort> {
    group.repair.mark_seen(raw);
    let current = group.epoch();
    if env.epoch > current {
        // (A claim of a later epoch: it may make this member ask, nothing more — §11.)
        group.repair.catch_up.note_ahead(env.epoch, step.now);
        step.out.silent(Silent::NotForThisMember);
        return Ok(());
    }
    if env.epoch == current {
        if sealed::open_catch_up(group.epochs.key(), &env.group_id, env.epoch, &env.body).is_err() {
            return reject(
                RejectReason::NotAMember,
                "catch-up request does not open with its epoch's key",
            );
        }
        group.repair.catch_up.note_request_seen(current, step.now);
        step.out.silent(Silent::NotForThisMember);
        return Ok(());
    }
    if env.epoch < group.meta.joined_epoch {
        step.out.silent(Silent::BeforeJoined);
        return Ok(());
    }
    let Some(key) = group.epochs.commit(env.epoch).map(|c| c.key) else {
        tracing::debug!(group = %group.id.display(), epoch = env.epoch, "catch-up request beyond retained history");
        crate::engine::beyond::answer(group, step, env.epoch);
        return Ok(());
    };
    let Ok(attempt) = sealed::open_catch_up(&key, &env.group_id, env.epoch, &env.body) else {
        return reject(
            RejectReason::NotAMember,
            "catch-up request does not open with its epoch's key",
        );
    };
    catch_up::answer(group, step, env.epoch, attempt)
}
