//! The signed statement "I was a member in your epoch and have moved beyond the history I
//! retain for it": the only evidence on which a member that is stuck in an epoch starts a
//! rejoin (the envelope's epoch is the stuck member's; everything else a member hears of
//! later epochs is unauthenticated and may be an outsider's invention).

use super::WireError;
use crate::types::{Epoch, MEMBER_ID_LEN, MemberId};

/// Domain separation for the signed bytes.
const LABEL: &[u8] = b"demls/v1/beyond-history";

/// The body of a `Beyond` envelope for a member stuck in the envelope's epoch.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BeyondHistory {
    /// The signer's current epoch (later than the envelope's).
    #[prost(uint64, tag = "1")]
    pub epoch: u64,
    /// The signer's member id (a member of the envelope's epoch).
    #[prost(bytes = "vec", tag = "2")]
    pub signer: Vec<u8>,
    /// Ed25519 signature of [`signed_bytes`] by the signer's identity key.
    #[prost(bytes = "vec", tag = "3")]
    pub signature: Vec<u8>,
}

impl BeyondHistory {
    /// Decodes a statement and checks the signer id's length.
    pub fn decode_checked(bytes: &[u8]) -> Result<BeyondHistory, WireError> {
        let statement: BeyondHistory = super::decode("beyond-history statement", bytes)?;
        if statement.signer.len() != MEMBER_ID_LEN {
            return Err(WireError::Invalid {
                what: "beyond-history statement",
                reason: "signer id length",
            });
        }
        Ok(statement)
    }

    /// The signer's member id (after [`BeyondHistory::decode_checked`]).
    pub fn signer_id(&self) -> Option<MemberId> {
        let bytes: [u8; MEMBER_ID_LEN] = self.signer.as_slice().try_into().ok()?;
        Some(MemberId(bytes))
    }
}

/// What the signer signs: the group, the stuck member's epoch and the signer's epoch.
pub fn signed_bytes(group_id: &[u8], stuck: Epoch, signer_epoch: Epoch) -> Vec<u8> {
    let mut out = Vec::with_capacity(LABEL.len() + 2 + group_id.len() + 16);
    out.extend_from_slice(LABEL);
    out.extend_from_slice(&(group_id.len() as u16).to_be_bytes());
    out.extend_from_slice(group_id);
    out.extend_from_slice(&stuck.to_be_bytes());
    out.extend_from_slice(&signer_epoch.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn statements_round_trip_and_signed_bytes_bind_every_field() {
        let s = BeyondHistory {
            epoch: 9,
            signer: vec![3; MEMBER_ID_LEN],
            signature: vec![1; 64],
        };
        let back = BeyondHistory::decode_checked(&s.encode_to_vec()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.signer_id(), Some(MemberId([3; MEMBER_ID_LEN])));
        let short = BeyondHistory {
            signer: vec![3; 4],
            ..s
        };
        assert!(BeyondHistory::decode_checked(&short.encode_to_vec()).is_err());
        assert!(BeyondHistory::decode_checked(&[0xff, 0xff]).is_err());
        let base = signed_bytes(b"g", 1, 2);
        assert_ne!(base, signed_bytes(b"h", 1, 2));
        assert_ne!(base, signed_bytes(b"g", 2, 2));
        assert_ne!(base, signed_bytes(b"g", 1, 3));
        // The group id is length-prefixed: no two (id, epochs) tuples share bytes.
        assert_ne!(signed_bytes(b"g\0", 1, 2), signed_bytes(b"g", 1, 2));
    }
}
