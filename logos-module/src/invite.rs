//! The inbox invitation frame: what `add_group_member` publishes to the invitee's inbox
//! topic (see [`crate::ids::inbox_topic`]), and how a received one is checked.
//!
//! Wire form (protobuf, **signed plaintext**, not sealed to the invitee: an address is a hash
//! of the invitee's key, so the inviter does not know a key to seal to):
//!
//! ```protobuf
//! message DemlsInboxInvitation {
//!   uint32 version     = 1;  // 1
//!   string invitation  = 2;  // "demls-invite:1:<group id hex>:<genesis digest hex>"
//!   string name        = 3;  // the group's name
//!   string description = 4;  // the group's description
//!   bytes  inviter_key = 5;  // the inviter's Ed25519 public key (32 bytes)
//!   bytes  invitee     = 6;  // the invitee's member id (20 bytes)
//!   uint64 sent_at_ms  = 7;
//!   bytes  signature   = 8;  // Ed25519 by inviter_key over the signed bytes below
//! }
//! ```
//!
//! Signed bytes: `"demls/inbox-invitation/1"` followed by fields 2–7, each as a 4-byte
//! big-endian length and its bytes (`sent_at_ms` as 8 big-endian bytes, no length). The
//! inviter's address is `hex(member id of inviter_key)`. A receiver drops a frame that does
//! not parse, has another version, is addressed to another member, carries a bad invitation
//! text or a bad signature.

use demls::identity::verify_ed25519;
use demls::{Identity, IdentitySigner, Invitation, MemberId};
use prost::Message as _;

use crate::ids;

/// The frame version this module writes and reads.
pub const VERSION: u32 = 1;
/// The signature's domain separator.
pub const SIGNING_DOMAIN: &[u8] = b"demls/inbox-invitation/1";
/// Largest name or description carried (longer ones are cut at a character boundary).
pub const MAX_TEXT: usize = 1024;

#[derive(Clone, PartialEq, prost::Message)]
struct Frame {
    #[prost(uint32, tag = "1")]
    version: u32,
    #[prost(string, tag = "2")]
    invitation: String,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    description: String,
    #[prost(bytes = "vec", tag = "5")]
    inviter_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    invitee: Vec<u8>,
    #[prost(uint64, tag = "7")]
    sent_at_ms: u64,
    #[prost(bytes = "vec", tag = "8")]
    signature: Vec<u8>,
}

impl Frame {
    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = SIGNING_DOMAIN.to_vec();
        for field in [
            self.invitation.as_bytes(),
            self.name.as_bytes(),
            self.description.as_bytes(),
            &self.inviter_key,
            &self.invitee,
        ] {
            out.extend_from_slice(&(field.len() as u32).to_be_bytes());
            out.extend_from_slice(field);
        }
        out.extend_from_slice(&self.sent_at_ms.to_be_bytes());
        out
    }
}

/// A checked invitation from the inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxInvitation {
    /// The invitation.
    pub invitation: Invitation,
    /// The group's name.
    pub name: String,
    /// The group's description.
    pub description: String,
    /// The inviter's address.
    pub inviter: String,
}

/// Why a received frame was dropped.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    /// Not a frame of this version.
    #[error("not an inbox invitation of version {VERSION}")]
    Malformed,
    /// Addressed to another member.
    #[error("addressed to another member")]
    NotForMe,
    /// The invitation text is not one.
    #[error("bad invitation text")]
    BadInvitation,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The signed frame inviting `invitee` with `invitation`.
pub fn seal(
    inviter: &Identity,
    invitation: &Invitation,
    name: &str,
    description: &str,
    invitee: &MemberId,
) -> Vec<u8> {
    let mut frame = Frame {
        version: VERSION,
        invitation: invitation.to_string(),
        name: cut(name),
        description: cut(description),
        inviter_key: IdentitySigner::public_key(inviter).to_vec(),
        invitee: invitee.as_bytes().to_vec(),
        sent_at_ms: ids::now_ms(),
        signature: Vec::new(),
    };
    frame.signature = IdentitySigner::sign(inviter, &frame.signed_bytes());
    frame.encode_to_vec()
}

/// Checks a frame received in `me`'s inbox.
pub fn open(bytes: &[u8], me: &MemberId) -> Result<InboxInvitation, InviteError> {
    let frame = Frame::decode(bytes).map_err(|_| InviteError::Malformed)?;
    if frame.version != VERSION || frame.inviter_key.len() != 32 {
        return Err(InviteError::Malformed);
    }
    if frame.invitee != me.as_bytes() {
        return Err(InviteError::NotForMe);
    }
    let invitation: Invitation = frame
        .invitation
        .parse()
        .map_err(|_| InviteError::BadInvitation)?;
    if !verify_ed25519(&frame.inviter_key, &frame.signed_bytes(), &frame.signature) {
        return Err(InviteError::BadSignature);
    }
    Ok(InboxInvitation {
        invitation,
        name: frame.name,
        description: frame.description,
        inviter: ids::address(&MemberId::from_signature_key(&frame.inviter_key)),
    })
}

#[cfg(test)]
mod tests {
    use demls::GroupId;

    use super::*;

    fn invitation() -> Invitation {
        Invitation {
            group_id: GroupId::new(vec![1u8; 16]).unwrap(),
            genesis_digest: [2u8; 32],
        }
    }

    #[test]
    fn a_sealed_invitation_opens_for_its_invitee_only() {
        let alice = Identity::from_seed([1u8; 32]).unwrap();
        let bob = Identity::from_seed([2u8; 32]).unwrap();
        let carol = Identity::from_seed([3u8; 32]).unwrap();
        let frame = seal(
            &alice,
            &invitation(),
            "book club",
            "tuesdays",
            &bob.member_id(),
        );
        let opened = open(&frame, &bob.member_id()).unwrap();
        assert_eq!(opened.invitation, invitation());
        assert_eq!(opened.name, "book club");
        assert_eq!(opened.inviter, ids::address(&alice.member_id()));
        assert_eq!(open(&frame, &carol.member_id()), Err(InviteError::NotForMe));
    }

    #[test]
    fn a_tampered_or_garbage_frame_is_refused() {
        let alice = Identity::from_seed([1u8; 32]).unwrap();
        let bob = Identity::from_seed([2u8; 32]).unwrap();
        let mut frame =
            Frame::decode(&seal(&alice, &invitation(), "n", "d", &bob.member_id())[..]).unwrap();
        frame.name = "evil".into();
        assert_eq!(
            open(&frame.encode_to_vec(), &bob.member_id()),
            Err(InviteError::BadSignature)
        );
        assert_eq!(
            open(&[0xff, 0xff, 0xff], &bob.member_id()),
            Err(InviteError::Malformed)
        );
    }
}
