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
    /// Set when the sender publishes the message again after a rejoin or a fork: the epoch it
    /// was first sent in (receivers that already have the message id drop the copy).
    #[prost(uint64, optional, tag = "5")]
    pub resent_from_epoch: Option<u64>,
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
    /// Application message ids the sender holds from a member that is gone (removed since),
    /// and takes only once a current member vouches for them: a member that has one answers
    /// with a status beacon naming it.
    #[prost(bytes = "vec", repeated, tag = "5")]
    pub vouch: Vec<Vec<u8>>,
}

/// The authenticated data of every commit: which finalized voting proposals it applies.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CommitInfo {
    /// Proposal ids (32-byte consensus digests), strictly ascending.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub proposals: Vec<Vec<u8>>,
    /// Members re-added without a vote (each removed from its old leaf and added with a fresh
    /// KeyPackage of the same identity), in ascending member id order.
    #[prost(message, repeated, tag = "2")]
    pub rejoins: Vec<Rejoin>,
}

/// One member re-added by a commit: it fell behind beyond the retained history, or was on a
/// branch that lost a fork.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Rejoin {
    /// The member (20 bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub member_id: Vec<u8>,
    /// The reference of the KeyPackage it is added with.
    #[prost(bytes = "vec", tag = "2")]
    pub key_package_ref: Vec<u8>,
    /// The last epoch it shares with the group: members re-send what they sent after it.
    #[prost(uint64, tag = "3")]
    pub since_epoch: u64,
}

/// The body of a `FORK_NOTICE` envelope (in the clear: a member of another branch must read it).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ForkNotice {
    /// The sender's branch tags of its current and retained epochs, ascending by epoch.
    #[prost(message, repeated, tag = "1")]
    pub tags: Vec<BranchTag>,
    /// The last epoch the sender shares with the branch it answers, when `commit` is set.
    #[prost(uint64, tag = "2")]
    pub commit_epoch: u64,
    /// The sender's sealed commit that ended `commit_epoch` (sealed under that epoch's key,
    /// which both branches hold); empty in a first notice.
    #[prost(bytes = "vec", tag = "3")]
    pub commit: Vec<u8>,
    /// Set by a member whose branch lost, just before it rejoins: the fork epoch sealed under
    /// the sender's current epoch key ([`super::sealed::seal_verdict`]), so that members of its
    /// branch that cannot apply the rule themselves follow it.
    #[prost(bytes = "vec", tag = "4")]
    pub verdict: Vec<u8>,
}

/// One epoch's branch tag.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BranchTag {
    /// The epoch.
    #[prost(uint64, tag = "1")]
    pub epoch: u64,
    /// Its tag (8 bytes).
    #[prost(bytes = "vec", tag = "2")]
    pub tag: Vec<u8>,
}
