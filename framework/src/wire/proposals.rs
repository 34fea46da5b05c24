//! The payload of a voting proposal: which group change is being voted on.

/// A group change put to a vote. It is bound to the group and to the epoch whose roster votes
/// on it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupProposal {
    /// The MLS group id.
    #[prost(bytes = "vec", tag = "1")]
    pub group_id: Vec<u8>,
    /// The epoch in which the proposal was opened; its roster is the voter set.
    #[prost(uint64, tag = "2")]
    pub epoch: u64,
    /// The change.
    #[prost(oneof = "group_proposal::Action", tags = "3, 4, 5, 6, 7")]
    pub action: Option<group_proposal::Action>,
}

/// The variants of [`GroupProposal`].
pub mod group_proposal {
    /// The change a proposal asks for.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Action {
        /// Admit a new member.
        #[prost(message, tag = "3")]
        Add(super::AddMember),
        /// Remove a member.
        #[prost(message, tag = "4")]
        Remove(super::RemoveMember),
        /// Install a steward list.
        #[prost(message, tag = "5")]
        Election(super::StewardElection),
        /// An emergency criteria proposal.
        #[prost(message, tag = "6")]
        Emergency(super::EmergencyCriteria),
        /// A member leaving: valid only from that member itself, and final without a vote.
        #[prost(message, tag = "7")]
        Leave(super::RemoveMember),
    }
}

/// Admit the holder of a KeyPackage.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddMember {
    /// The KeyPackage as an `MlsMessage` (TLS-serialized), exactly as announced.
    #[prost(bytes = "vec", tag = "1")]
    pub key_package: Vec<u8>,
}

/// Remove a member.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemoveMember {
    /// The member id (20 bytes) of the member to remove.
    #[prost(bytes = "vec", tag = "1")]
    pub member_id: Vec<u8>,
}

/// A Steward Election Proposal: the steward list for the epoch in `GroupProposal.epoch`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StewardElection {
    /// Re-election counter within that epoch.
    #[prost(uint32, tag = "1")]
    pub retry_round: u32,
    /// Member ids (20 bytes each) in commit order.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub stewards: Vec<Vec<u8>>,
}

/// An Emergency Criteria Proposal.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EmergencyCriteria {
    /// The violation code (1 broken commit, 2 conflicting commit, 3 inactivity, 4 deadlock).
    #[prost(uint32, tag = "1")]
    pub violation: u32,
    /// The member to remove (20 bytes); empty for a deadlock.
    #[prost(bytes = "vec", tag = "2")]
    pub target: Vec<u8>,
    /// Supporting evidence (for a broken commit: the sealed commit).
    #[prost(bytes = "vec", tag = "3")]
    pub evidence: Vec<u8>,
}
