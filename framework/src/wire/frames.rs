//! What travels inside MLS application messages, and a commit's authenticated data.

/// The plaintext of an MLS application message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Frame {
    /// The content.
    #[prost(oneof = "frame::Body", tags = "1, 2")]
    pub body: Option<frame::Body>,
}

/// The variants of [`Frame`].
pub mod frame {
    /// What a frame carries.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Body {
        /// A user's chat message.
        #[prost(message, tag = "1")]
        Chat(super::Chat),
        /// Opaque bytes for the consensus plugin (a proposal or a vote).
        #[prost(bytes, tag = "2")]
        Consensus(Vec<u8>),
    }
}

/// A user's application message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Chat {
    /// 16 random bytes chosen by the sender; the message's identity for delivery tracking.
    #[prost(bytes = "vec", tag = "1")]
    pub message_id: Vec<u8>,
    /// The application payload.
    #[prost(bytes = "vec", tag = "2")]
    pub payload: Vec<u8>,
    /// The sender's clock when sending (ms since the Unix epoch); informational.
    #[prost(uint64, tag = "3")]
    pub sent_at: u64,
}

/// The authenticated data of every commit: which finalized voting proposals it applies.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CommitInfo {
    /// Proposal ids (32-byte consensus digests), strictly ascending.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub proposals: Vec<Vec<u8>>,
}
