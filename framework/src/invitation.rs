//! Invitations: what a member hands a would-be member out of band so that its join lands in
//! *this* group and not in a look-alike created by someone else under the same id.
//!
//! Every group has a *genesis*, 32 random bytes its creator drew, kept in the MLS GroupContext
//! (so every member agrees on it and every Welcome carries it under the key schedule). An
//! invitation names the group id and a digest of the genesis; a joiner holding one accepts only
//! a Welcome whose GroupContext carries a genesis with that digest. Only current and former
//! members know a genesis, so an outsider cannot build a group that passes (spec §5a).
//!
//! The text form, for links and QR codes, is `demls-invite:1:<group id hex>:<digest hex>`.

use std::fmt;
use std::str::FromStr;

use crate::mls::GENESIS_LEN;
use crate::types::GroupId;

/// Domain separation of the genesis digest.
const DIGEST_LABEL: &[u8] = b"demls/genesis/v1";

/// Prefix and version of the text form.
const TEXT_PREFIX: &str = "demls-invite:1:";

/// The digest an invitation names: SHA-256 over the label, the group id's length and bytes,
/// and the genesis.
pub fn genesis_digest(group_id: &GroupId, genesis: &[u8; GENESIS_LEN]) -> [u8; 32] {
    let id = group_id.as_bytes();
    let mut input = Vec::with_capacity(DIGEST_LABEL.len() + 1 + id.len() + GENESIS_LEN);
    input.extend_from_slice(DIGEST_LABEL);
    // A group id is 1–255 bytes (`GroupId::new`), so its length fits one byte.
    input.push(id.len() as u8);
    input.extend_from_slice(id);
    input.extend_from_slice(genesis);
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, &input).as_ref());
    out
}

/// An invitation to one group: its id and the digest of its genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// The group.
    pub group_id: GroupId,
    /// [`genesis_digest`] of the group's genesis.
    pub genesis_digest: [u8; 32],
}

impl Invitation {
    /// The invitation to the group with this id and genesis.
    pub fn new(group_id: GroupId, genesis: &[u8; GENESIS_LEN]) -> Invitation {
        let genesis_digest = genesis_digest(&group_id, genesis);
        Invitation {
            group_id,
            genesis_digest,
        }
    }

    /// True if a group with this id and genesis is the one invited to.
    pub fn matches(&self, group_id: &GroupId, genesis: &[u8; GENESIS_LEN]) -> bool {
        self.group_id == *group_id && genesis_digest(group_id, genesis) == self.genesis_digest
    }
}

impl fmt::Display for Invitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TEXT_PREFIX}{}:{}",
            hex::encode(self.group_id.as_bytes()),
            hex::encode(self.genesis_digest)
        )
    }
}

/// Why a text is not an invitation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvitationError {
    /// It does not start with `demls-invite:1:` (another format or version).
    #[error("not a demls invitation (expected it to start with {TEXT_PREFIX})")]
    NotAnInvitation,
    /// The group id part is not 1–255 bytes of hex.
    #[error("the group id of the invitation is not 1-255 bytes of hex")]
    BadGroupId,
    /// The digest part is not 32 bytes of hex.
    #[error("the genesis digest of the invitation is not 32 bytes of hex")]
    BadDigest,
}

impl FromStr for Invitation {
    type Err = InvitationError;

    fn from_str(text: &str) -> Result<Invitation, InvitationError> {
        let rest = text
            .trim()
            .strip_prefix(TEXT_PREFIX)
            .ok_or(InvitationError::NotAnInvitation)?;
        let (id, digest) = rest.split_once(':').ok_or(InvitationError::BadDigest)?;
        let group_id = hex::decode(id)
            .ok()
            .and_then(GroupId::new)
            .ok_or(InvitationError::BadGroupId)?;
        let genesis_digest = hex::decode(digest)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok())
            .ok_or(InvitationError::BadDigest)?;
        Ok(Invitation {
            group_id,
            genesis_digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gid(s: &str) -> GroupId {
        GroupId::new(s.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn text_form_round_trips() {
        let inv = Invitation::new(gid("garden"), &[7; GENESIS_LEN]);
        let text = inv.to_string();
        assert!(text.starts_with("demls-invite:1:67617264656e:"));
        assert_eq!(text.parse::<Invitation>(), Ok(inv));
    }

    #[test]
    fn matches_only_its_group_and_genesis() {
        let inv = Invitation::new(gid("garden"), &[7; GENESIS_LEN]);
        assert!(inv.matches(&gid("garden"), &[7; GENESIS_LEN]));
        assert!(!inv.matches(&gid("garden"), &[8; GENESIS_LEN]));
        assert!(!inv.matches(&gid("gardens"), &[7; GENESIS_LEN]));
    }

    #[test]
    fn the_digest_separates_id_from_genesis() {
        // The id's length is hashed, so moving a byte between id and genesis changes it.
        let a = genesis_digest(&gid("ab"), &[b'c'; GENESIS_LEN]);
        let b = genesis_digest(&gid("a"), &[b'b'; GENESIS_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn malformed_texts_get_typed_errors() {
        let bad = |t: &str| t.parse::<Invitation>().unwrap_err();
        assert_eq!(bad("garden"), InvitationError::NotAnInvitation);
        assert_eq!(
            bad("demls-invite:2:61:00"),
            InvitationError::NotAnInvitation
        );
        assert_eq!(bad("demls-invite:1:61"), InvitationError::BadDigest);
        let digest = "00".repeat(32);
        assert_eq!(
            bad(&format!("demls-invite:1::{digest}")),
            InvitationError::BadGroupId
        );
        assert_eq!(
            bad(&format!("demls-invite:1:6g:{digest}")),
            InvitationError::BadGroupId
        );
        assert_eq!(bad("demls-invite:1:61:0011"), InvitationError::BadDigest);
        assert_eq!(
            bad(&format!("demls-invite:1:{}:{digest}", "61".repeat(256))),
            InvitationError::BadGroupId
        );
    }
}
