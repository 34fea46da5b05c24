//! Publishing: how the engine puts its own traffic on the group topic. Application-level
//! frames travel as MLS application messages ([`publish_frame`]); consensus messages and
//! control frames (repair requests, status beacons, catch-up) are sealed under the current
//! epoch's key ([`publish_consensus`], [`publish_control`]). Every envelope published here is
//! remembered as seen, so its echo is dropped.

use super::group::Group;
use super::step::{Abort, Step};
use crate::types::ProposalId;
use crate::wire::{self, Envelope, Frame, Kind, sealed};

/// Encrypts `frame` as an MLS application message of the current epoch and publishes it.
/// Returns the published envelope bytes.
pub(crate) fn publish_frame(
    group: &mut Group,
    step: &mut Step<'_>,
    frame: &Frame,
) -> Result<Vec<u8>, Abort> {
    group.touch_mls();
    let ciphertext = group
        .mls
        .encrypt(&step.provider(), step.identity, &wire::encode(frame))?;
    let env = enveloped(group, Kind::Mls, group.epoch(), ciphertext);
    step.out.publish(&group.topics.group, env.clone());
    Ok(env)
}

/// Seals a consensus message under the current epoch's key and publishes it as a
/// [`Kind::Consensus`] envelope. Returns the envelope bytes.
///
/// Consensus messages do not travel inside MLS application messages: each one is signed by
/// its owner or voter already, so the MLS sender signature would be a second signature check
/// per vote at every receiver, and the sender ratchet a second piece of per-message state.
/// The epoch key keeps them unreadable to non-members, as MLS would.
pub(crate) fn publish_consensus(
    group: &mut Group,
    step: &mut Step<'_>,
    message: &[u8],
) -> Result<Vec<u8>, Abort> {
    let env = seal_current(
        group,
        step,
        Kind::Consensus,
        sealed::seal_consensus,
        message,
    )?;
    step.out.publish(&group.topics.group, env.clone());
    Ok(env)
}

/// Seals a control frame (status beacon or repair request) under the current epoch's key and
/// publishes it as a [`Kind::Control`] envelope.
pub(crate) fn publish_control(
    group: &mut Group,
    step: &mut Step<'_>,
    frame: &Frame,
) -> Result<(), Abort> {
    let env = seal_control(group, step, frame)?;
    step.out.publish(&group.topics.group, env);
    Ok(())
}

/// A control envelope carrying `frame`, sealed under the current epoch key (marked seen, so
/// its echo is ignored), to publish now or later.
pub(crate) fn seal_control(
    group: &mut Group,
    step: &mut Step<'_>,
    frame: &Frame,
) -> Result<Vec<u8>, Abort> {
    let plain = wire::encode(frame);
    seal_current(group, step, Kind::Control, sealed::seal_control, &plain)
}

/// Publishes consensus messages about `proposal`, keeping the envelopes for re-sends.
pub(crate) fn broadcast(
    group: &mut Group,
    step: &mut Step<'_>,
    proposal: ProposalId,
    messages: Vec<Vec<u8>>,
) -> Result<(), Abort> {
    for message in messages {
        let envelope = publish_consensus(group, step, &message)?;
        group.repair.note_own(proposal, envelope);
    }
    Ok(())
}

/// One of the `sealed::seal_*` functions: (epoch key, group id, epoch, nonce, plaintext) to
/// the sealed body.
type Sealer = fn(&[u8; 16], &[u8], u64, [u8; sealed::SEAL_NONCE_LEN], &[u8]) -> Vec<u8>;

/// An envelope of `kind` carrying `plain` sealed with `seal` under the current epoch's key
/// (marked seen).
fn seal_current(
    group: &mut Group,
    step: &mut Step<'_>,
    kind: Kind,
    seal: Sealer,
    plain: &[u8],
) -> Result<Vec<u8>, Abort> {
    let nonce = step
        .crypto
        .entropy()
        .array::<{ sealed::SEAL_NONCE_LEN }>()?;
    let epoch = group.epoch();
    let body = seal(group.epochs.key(), group.id.as_bytes(), epoch, nonce, plain);
    Ok(enveloped(group, kind, epoch, body))
}

/// The envelope of `kind` carrying `body` for `epoch`, tagged with the current branch and
/// marked seen (so its echo is dropped).
fn enveloped(group: &mut Group, kind: Kind, epoch: u64, body: Vec<u8>) -> Vec<u8> {
    let env = Envelope::new(kind, group.id.as_bytes(), epoch, body)
        .with_branch(group.epochs.branch())
        .encode_to_vec();
    group.repair.mark_seen(&env);
    env
}
