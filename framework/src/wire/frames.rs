//! What travels inside MLS application messages, and a commit's authenticated data.

/// The plaintext of an MLS application message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Frame {
    /// The content.
    #[prost(oneof = "frame::Body", tags = "1, 2, 3, 4")]
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
        /// A member's periodic status (lets others notice what they missed).
        #[prost(message, tag = "3")]
        Status(super::Status),
        /// A request for messages or commits the sender missed.
        #[prost(message, tag = "4")]
        Repair(super::Repair),
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
    /// Ids of the last few application messages the sender had seen (causal history, so a
    /// receiver notices what it missed).
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub history: Vec<Vec<u8>>,
}

/// A member's periodic status: its epoch and the application messages it has seen lately.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    /// The sender's epoch (also in the envelope; repeated for clarity).
    #[prost(uint64, tag = "1")]
    pub epoch: u64,
    /// Ids of the latest application messages the sender sent or received in this group.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub recent: Vec<Vec<u8>>,
}

/// A request for missing traffic, answered by any member that has it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Repair {
    /// Application message ids the sender is missing.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub messages: Vec<Vec<u8>>,
    // Tags 2 and 3 are retired (a commit request, replaced by the `CatchUp` envelope).
    /// Proposal ids whose proposal or votes the sender is missing.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub proposals: Vec<Vec<u8>>,
}

/// The authenticated data of every commit: which finalized voting proposals it applies.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CommitInfo {
    /// Proposal ids (32-byte consensus digests), strictly ascending.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub proposals: Vec<Vec<u8>>,
}
