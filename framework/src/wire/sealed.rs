//! Sealed envelopes: bodies encrypted with AES-128-GCM under the epoch key (a key exported from
//! the epoch they belong to), for what members of an epoch must be able to read at any time —
//! after a crash, or while catching up — without consuming MLS ratchet state.
//!
//! - **Commits**: an MLS commit (a signed `PublicMessage`). Layout of the sealed body:
//!   `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`; the AEAD's associated data is
//!   `"demls/commit/v1" ‖ len(group_id) as u8 ‖ group_id ‖ epoch as u64 big-endian`.
//! - **Certificate parts**: one part of the proof of a proposal's outcome, for members still in
//!   `epoch`. Body: `proposal_id (32 bytes) ‖ nonce ‖ ciphertext ‖ tag`, associated data
//!   `"demls/certificate/v1" ‖ len(group_id) as u8 ‖ group_id ‖ epoch ‖ proposal_id`. The
//!   proposal id is in the clear so that members who already answered can tell the part was sent.
//! - **Consensus messages**: a proposal or a vote of the consensus plugin, which carries its
//!   own signature. Body: `nonce ‖ ciphertext ‖ tag`, associated data
//!   `"demls/consensus/v1" ‖ len(group_id) as u8 ‖ group_id ‖ epoch`. Sealing instead of an
//!   MLS application message spares every receiver a second signature check per vote (the MLS
//!   sender signature) and the sender-ratchet bookkeeping: at 10,000 voters that is most of
//!   the cost of a decision.
//! - **Control frames**: a status beacon or a repair request (a `Frame`). Body and associated
//!   data as for consensus messages, domain `"demls/control/v1"`. Nothing depends on who sent
//!   one (they name messages and proposals the sender has or lacks), so an MLS signature would
//!   be a signature check per beacon at every member for nothing.
//! - **Catch-up requests**: proof that the asker holds the key of the epoch it is stuck in, so
//!   that only a (former) member of that epoch can make others re-publish history. Body:
//!   `nonce ‖ ciphertext ‖ tag`, the plaintext one byte: how many requests the asker made
//!   before this one in a row (answerers answer more readily the more it asked; an empty
//!   plaintext reads as 0), associated data
//!   `"demls/catch-up/v1" ‖ len(group_id) as u8 ‖ group_id ‖ epoch`.

use ring::aead::{AES_128_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::WireError;
use crate::types::Epoch;

const DOMAIN: &[u8] = b"demls/commit/v1";
const CERTIFICATE_DOMAIN: &[u8] = b"demls/certificate/v1";
const CATCH_UP_DOMAIN: &[u8] = b"demls/catch-up/v1";
const VERDICT_DOMAIN: &[u8] = b"demls/fork-verdict/v1";
const CONSENSUS_DOMAIN: &[u8] = b"demls/consensus/v1";
const CONTROL_DOMAIN: &[u8] = b"demls/control/v1";

/// Length of the proposal id in front of a sealed certificate part.
pub const PROPOSAL_ID_LEN: usize = 32;

fn aad_in(domain: &[u8], group_id: &[u8], epoch: Epoch, context: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(domain.len() + 1 + group_id.len() + 8 + context.len());
    out.extend_from_slice(domain);
    out.push(group_id.len() as u8);
    out.extend_from_slice(group_id);
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(context);
    out
}

fn aad(group_id: &[u8], epoch: Epoch) -> Vec<u8> {
    aad_in(DOMAIN, group_id, epoch, &[])
}

fn key(raw: &[u8; 16]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_128_GCM, raw).expect("a 16-byte AES-128 key"))
}

/// Length of the random nonce a sealed commit starts with.
pub const SEAL_NONCE_LEN: usize = NONCE_LEN;

/// Seals `commit` for `group_id` at `epoch` under `raw_key`, with a fresh random `nonce`
/// (each key seals exactly one commit per member, so a random nonce never repeats in practice).
pub fn seal(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    nonce: [u8; SEAL_NONCE_LEN],
    commit: &[u8],
) -> Vec<u8> {
    seal_with(raw_key, aad(group_id, epoch), nonce, commit)
}

fn seal_with(
    raw_key: &[u8; 16],
    aad: Vec<u8>,
    nonce: [u8; SEAL_NONCE_LEN],
    plain: &[u8],
) -> Vec<u8> {
    let mut in_out = plain.to_vec();
    key(raw_key)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut in_out,
        )
        .expect("AES-GCM sealing of an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(NONCE_LEN + in_out.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&in_out);
    out
}

/// Opens a sealed commit; fails if the key, group, epoch or bytes do not match.
pub fn open(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    sealed: &[u8],
) -> Result<Vec<u8>, WireError> {
    open_with(raw_key, aad(group_id, epoch), sealed)
}

/// Seals a certificate part of proposal `proposal_id` for members in `epoch`.
pub fn seal_certificate(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    proposal_id: &[u8; PROPOSAL_ID_LEN],
    nonce: [u8; SEAL_NONCE_LEN],
    part: &[u8],
) -> Vec<u8> {
    let aad = aad_in(CERTIFICATE_DOMAIN, group_id, epoch, proposal_id);
    let mut out = proposal_id.to_vec();
    out.extend(seal_with(raw_key, aad, nonce, part));
    out
}

/// The proposal id a sealed certificate part names (readable without the key).
pub fn certificate_proposal(body: &[u8]) -> Result<[u8; PROPOSAL_ID_LEN], WireError> {
    body.get(..PROPOSAL_ID_LEN)
        .and_then(|b| <[u8; PROPOSAL_ID_LEN]>::try_from(b).ok())
        .ok_or(WireError::Unseal)
}

/// Opens a sealed certificate part; returns the proposal id and the part.
pub fn open_certificate(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    body: &[u8],
) -> Result<([u8; PROPOSAL_ID_LEN], Vec<u8>), WireError> {
    let id = certificate_proposal(body)?;
    let aad = aad_in(CERTIFICATE_DOMAIN, group_id, epoch, &id);
    Ok((id, open_with(raw_key, aad, &body[PROPOSAL_ID_LEN..])?))
}

/// Seals a fork verdict (the fork epoch `fork_epoch` lost) for members of the sender's branch in
/// `epoch`.
pub fn seal_verdict(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    nonce: [u8; SEAL_NONCE_LEN],
    fork_epoch: Epoch,
) -> Vec<u8> {
    seal_with(
        raw_key,
        aad_in(VERDICT_DOMAIN, group_id, epoch, &[]),
        nonce,
        &fork_epoch.to_be_bytes(),
    )
}

/// Opens a fork verdict; returns the fork epoch.
pub fn open_verdict(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    body: &[u8],
) -> Result<Epoch, WireError> {
    let plain = open_with(raw_key, aad_in(VERDICT_DOMAIN, group_id, epoch, &[]), body)?;
    let bytes: [u8; 8] = plain.as_slice().try_into().map_err(|_| WireError::Unseal)?;
    Ok(Epoch::from_be_bytes(bytes))
}

/// Seals a consensus message for members of `epoch`.
pub fn seal_consensus(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    nonce: [u8; SEAL_NONCE_LEN],
    message: &[u8],
) -> Vec<u8> {
    seal_with(
        raw_key,
        aad_in(CONSENSUS_DOMAIN, group_id, epoch, &[]),
        nonce,
        message,
    )
}

/// Opens a sealed consensus message of `epoch`.
pub fn open_consensus(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    body: &[u8],
) -> Result<Vec<u8>, WireError> {
    open_with(
        raw_key,
        aad_in(CONSENSUS_DOMAIN, group_id, epoch, &[]),
        body,
    )
}

/// Seals a control frame (status beacon or repair request) for members of `epoch`.
pub fn seal_control(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    nonce: [u8; SEAL_NONCE_LEN],
    frame: &[u8],
) -> Vec<u8> {
    seal_with(
        raw_key,
        aad_in(CONTROL_DOMAIN, group_id, epoch, &[]),
        nonce,
        frame,
    )
}

/// Opens a sealed control frame of `epoch`.
pub fn open_control(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    body: &[u8],
) -> Result<Vec<u8>, WireError> {
    open_with(raw_key, aad_in(CONTROL_DOMAIN, group_id, epoch, &[]), body)
}

/// Seals the `attempt`-th catch-up request in a row (from 0) of a member stuck in `epoch`.
pub fn seal_catch_up(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    nonce: [u8; SEAL_NONCE_LEN],
    attempt: u8,
) -> Vec<u8> {
    seal_with(
        raw_key,
        aad_in(CATCH_UP_DOMAIN, group_id, epoch, &[]),
        nonce,
        &[attempt],
    )
}

/// Checks a catch-up request: it must open under the key of `epoch` and carry at most the
/// attempt byte. Returns the attempt.
pub fn open_catch_up(
    raw_key: &[u8; 16],
    group_id: &[u8],
    epoch: Epoch,
    body: &[u8],
) -> Result<u8, WireError> {
    let plain = open_with(raw_key, aad_in(CATCH_UP_DOMAIN, group_id, epoch, &[]), body)?;
    match plain.as_slice() {
        [] => Ok(0),
        [attempt] => Ok(*attempt),
        _ => Err(WireError::Unseal),
    }
}

fn open_with(raw_key: &[u8; 16], aad: Vec<u8>, sealed: &[u8]) -> Result<Vec<u8>, WireError> {
    if sealed.len() < NONCE_LEN + AES_128_GCM.tag_len() {
        return Err(WireError::Unseal);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| WireError::Unseal)?;
    let mut in_out = body.to_vec();
    let plain = key(raw_key)
        .open_in_place(nonce, Aad::from(aad), &mut in_out)
        .map_err(|_| WireError::Unseal)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_commits_open_only_with_the_same_key_group_and_epoch() {
        let k = [9u8; 16];
        let sealed = seal(&k, b"g", 3, [7; SEAL_NONCE_LEN], b"commit");
        assert_eq!(open(&k, b"g", 3, &sealed).unwrap(), b"commit");
        assert!(open(&[8u8; 16], b"g", 3, &sealed).is_err());
        assert!(open(&k, b"h", 3, &sealed).is_err());
        assert!(open(&k, b"g", 4, &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(open(&k, b"g", 3, &tampered).is_err());
        assert!(open(&k, b"g", 3, &sealed[..10]).is_err());
    }

    #[test]
    fn certificate_parts_are_bound_to_their_proposal_and_are_not_commits() {
        let k = [9u8; 16];
        let id = [4u8; PROPOSAL_ID_LEN];
        let body = seal_certificate(&k, b"g", 3, &id, [7; SEAL_NONCE_LEN], b"part");
        assert_eq!(certificate_proposal(&body).unwrap(), id);
        assert_eq!(
            open_certificate(&k, b"g", 3, &body).unwrap(),
            (id, b"part".to_vec())
        );
        let mut renamed = body.clone();
        renamed[0] ^= 1;
        assert!(
            open_certificate(&k, b"g", 3, &renamed).is_err(),
            "id bound by the AAD"
        );
        assert!(open_certificate(&k, b"g", 4, &body).is_err());
        assert!(
            open(&k, b"g", 3, &body[PROPOSAL_ID_LEN..]).is_err(),
            "domains differ"
        );
        assert!(open_certificate(&k, b"g", 3, &body[..20]).is_err());
    }

    #[test]
    fn consensus_messages_open_only_under_their_epoch_key_and_domain() {
        let k = [9u8; 16];
        let body = seal_consensus(&k, b"g", 5, [7; SEAL_NONCE_LEN], b"vote");
        assert_eq!(open_consensus(&k, b"g", 5, &body).unwrap(), b"vote");
        assert!(open_consensus(&[8u8; 16], b"g", 5, &body).is_err());
        assert!(open_consensus(&k, b"g", 6, &body).is_err());
        assert!(open_consensus(&k, b"h", 5, &body).is_err());
        assert!(open(&k, b"g", 5, &body).is_err(), "not a commit");
        let commit = seal(&k, b"g", 5, [7; SEAL_NONCE_LEN], b"vote");
        assert!(
            open_consensus(&k, b"g", 5, &commit).is_err(),
            "domains differ"
        );
        assert!(open_consensus(&k, b"g", 5, &body[..10]).is_err());
    }

    #[test]
    fn control_frames_open_only_under_their_epoch_key_and_domain() {
        let k = [9u8; 16];
        let body = seal_control(&k, b"g", 5, [7; SEAL_NONCE_LEN], b"beacon");
        assert_eq!(open_control(&k, b"g", 5, &body).unwrap(), b"beacon");
        assert!(open_control(&[8u8; 16], b"g", 5, &body).is_err());
        assert!(open_control(&k, b"g", 6, &body).is_err());
        assert!(
            open_consensus(&k, b"g", 5, &body).is_err(),
            "not a consensus message"
        );
        let vote = seal_consensus(&k, b"g", 5, [7; SEAL_NONCE_LEN], b"beacon");
        assert!(open_control(&k, b"g", 5, &vote).is_err(), "domains differ");
    }

    #[test]
    fn catch_up_requests_open_only_under_their_epoch_key_and_are_nothing_else() {
        let k = [9u8; 16];
        let body = seal_catch_up(&k, b"g", 5, [7; SEAL_NONCE_LEN], 3);
        assert_eq!(open_catch_up(&k, b"g", 5, &body).unwrap(), 3);
        assert!(open_catch_up(&[8u8; 16], b"g", 5, &body).is_err());
        assert!(open_catch_up(&k, b"g", 6, &body).is_err());
        assert!(open_catch_up(&k, b"h", 5, &body).is_err());
        assert!(open(&k, b"g", 5, &body).is_err(), "not a commit");
        let commit = seal(&k, b"g", 5, [7; SEAL_NONCE_LEN], b"");
        assert!(
            open_catch_up(&k, b"g", 5, &commit).is_err(),
            "domains differ"
        );
        let long = seal_with(
            &k,
            aad_in(CATCH_UP_DOMAIN, b"g", 5, &[]),
            [7; SEAL_NONCE_LEN],
            &[1, 2],
        );
        assert!(open_catch_up(&k, b"g", 5, &long).is_err(), "nothing else");
        let mut tampered = body.clone();
        tampered[0] ^= 1;
        assert!(open_catch_up(&k, b"g", 5, &tampered).is_err());
        assert!(open_catch_up(&k, b"g", 5, &body[..10]).is_err());
    }
}
