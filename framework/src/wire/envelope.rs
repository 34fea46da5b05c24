//! The outer envelope of every de-MLS message on the transport.

use super::WireError;
use crate::types::Epoch;

/// The envelope version this build writes and accepts.
pub const WIRE_VERSION: u32 = 1;

/// What an envelope's body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Kind {
    /// Invalid / absent.
    Unspecified = 0,
    /// An MLS `PrivateMessage` whose plaintext is a [`Frame`](super::Frame) (chat, status,
    /// repair).
    Mls = 1,
    /// An MLS commit sealed under its epoch's commit-envelope key ([`super::sealed`]).
    Commit = 2,
    /// A would-be member's KeyPackage (`MlsMessage`), published on the group's welcome topic.
    KeyPackage = 3,
    /// An MLS Welcome (`MlsMessage`), published on the welcome topic.
    Welcome = 4,
    /// The ratchet tree of `epoch` (TLS-serialized), published next to a Welcome.
    RatchetTree = 5,
    /// A part of the proof of a proposal's outcome, sealed for members still in `epoch`
    /// ([`super::sealed::seal_certificate`]), sent to members catching up.
    Certificate = 6,
    /// A member stuck in `epoch` asks for the commits it missed; the body is sealed under that
    /// epoch's key ([`super::sealed::seal_catch_up`]) so only a member of it can ask.
    CatchUp = 7,
    /// Several envelopes of the group to process in order ([`super::bundle`]).
    Bundle = 8,
    /// A member's fresh KeyPackage (`MlsMessage`) asking to be re-added without a vote, on the
    /// welcome topic; `epoch` is the last epoch it shares with the group.
    Rejoin = 9,
    /// In the clear: the sender's branch history, to find where two branches of the group
    /// diverged, and possibly its commit ending the last common epoch ([`super::ForkNotice`]).
    ForkNotice = 10,
    /// A consensus plugin message (a proposal or a vote), sealed under the key of `epoch`
    /// ([`super::sealed::seal_consensus`]). Its own signature authenticates it.
    Consensus = 11,
    /// A status beacon or a repair request ([`Frame`](super::Frame) with a `status` or `repair`
    /// body), sealed under the key of `epoch` ([`super::sealed::seal_control`]).
    Control = 12,
    /// In the clear, for members stuck in `epoch`: a member of that epoch signs that it has
    /// moved beyond the history it retains for it ([`super::BeyondHistory`]), the evidence on
    /// which a stuck member rejoins.
    Beyond = 13,
}

/// The outer message: which group and epoch it belongs to and what it carries.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Envelope {
    /// Always [`WIRE_VERSION`].
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// What `body` is.
    #[prost(enumeration = "Kind", tag = "2")]
    pub kind: i32,
    /// The MLS group id.
    #[prost(bytes = "vec", tag = "3")]
    pub group_id: Vec<u8>,
    /// The epoch the body belongs to (for a Welcome or tree: the epoch the joiner enters).
    #[prost(uint64, tag = "4")]
    pub epoch: u64,
    /// The payload.
    #[prost(bytes = "vec", tag = "5")]
    pub body: Vec<u8>,
    /// The branch tag of `epoch` as the sender knows it (8 bytes derived from the epoch
    /// authenticator; empty where not applicable). Two members whose tags for one epoch differ
    /// are on different branches of a fork.
    #[prost(bytes = "vec", tag = "6")]
    pub branch: Vec<u8>,
}

impl Envelope {
    /// This envelope with branch tag `branch`.
    pub fn with_branch(mut self, branch: &[u8]) -> Envelope {
        self.branch = branch.to_vec();
        self
    }

    /// Builds an envelope of the current version.
    pub fn new(kind: Kind, group_id: &[u8], epoch: Epoch, body: Vec<u8>) -> Envelope {
        Envelope {
            version: WIRE_VERSION,
            kind: kind as i32,
            group_id: group_id.to_vec(),
            epoch,
            body,
            branch: Vec::new(),
        }
    }

    /// Encodes to bytes.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }

    /// Decodes and checks version, kind and group id length.
    pub fn decode_checked(bytes: &[u8]) -> Result<(Envelope, Kind), WireError> {
        let env: Envelope = super::decode("envelope", bytes)?;
        if env.version != WIRE_VERSION {
            return Err(WireError::Invalid {
                what: "envelope",
                reason: "unsupported version",
            });
        }
        let kind = Kind::try_from(env.kind).map_err(|_| WireError::Invalid {
            what: "envelope",
            reason: "unknown kind",
        })?;
        if kind == Kind::Unspecified {
            return Err(WireError::Invalid {
                what: "envelope",
                reason: "kind missing",
            });
        }
        if env.group_id.is_empty() || env.group_id.len() > crate::types::MAX_GROUP_ID_LEN {
            return Err(WireError::Invalid {
                what: "envelope",
                reason: "group id length",
            });
        }
        Ok((env, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_reject_garbage() {
        let env = Envelope::new(Kind::Commit, b"g", 7, vec![1, 2, 3]);
        let (back, kind) = Envelope::decode_checked(&env.encode_to_vec()).unwrap();
        assert_eq!((back, kind), (env, Kind::Commit));
        assert!(Envelope::decode_checked(&[0xff, 0xff, 0xff]).is_err());
        assert!(Envelope::decode_checked(&[]).is_err());
        let mut bad = Envelope::new(Kind::Mls, b"g", 1, vec![]);
        bad.kind = 99;
        assert!(Envelope::decode_checked(&bad.encode_to_vec()).is_err());
        bad.kind = Kind::Mls as i32;
        bad.version = 2;
        assert!(Envelope::decode_checked(&bad.encode_to_vec()).is_err());
    }
}
