//! The SHA-256 digest the engine identifies envelopes and commits by (duplicates, lost
//! commits of a fork, catch-up answers).

/// SHA-256 of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}
