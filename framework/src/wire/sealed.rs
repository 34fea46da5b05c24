//! The commit envelope: an MLS commit (a signed `PublicMessage`) sealed with AES-128-GCM under
//! a key exported from the epoch it applies to.
//!
//! Members of that epoch — and only they — can open it, and can open it again at any time
//! (after a crash, or while catching up), because no ratchet state is consumed. Layout of the
//! sealed body: `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`; the AEAD's associated data is
//! `"demls/commit/v1" ‖ len(group_id) as u8 ‖ group_id ‖ epoch as u64 big-endian`.

use ring::aead::{AES_128_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::WireError;
use crate::types::Epoch;

const DOMAIN: &[u8] = b"demls/commit/v1";

fn aad(group_id: &[u8], epoch: Epoch) -> Vec<u8> {
    let mut out = Vec::with_capacity(DOMAIN.len() + 1 + group_id.len() + 8);
    out.extend_from_slice(DOMAIN);
    out.push(group_id.len() as u8);
    out.extend_from_slice(group_id);
    out.extend_from_slice(&epoch.to_be_bytes());
    out
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
    let mut in_out = commit.to_vec();
    key(raw_key)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(group_id, epoch)),
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
    if sealed.len() < NONCE_LEN + AES_128_GCM.tag_len() {
        return Err(WireError::Unseal);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| WireError::Unseal)?;
    let mut in_out = body.to_vec();
    let plain = key(raw_key)
        .open_in_place(nonce, Aad::from(aad(group_id, epoch)), &mut in_out)
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
}
