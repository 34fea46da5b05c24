//! The group engine's persistent records and their storage keys.
//!
//! Each record is its own key (postcard-encoded) so a step writes only what it changed: a new
//! vote never rewrites the proposal table, and a commit never rewrites the commit history.
//! Key layout in [`Space::Engine`](crate::Space::Engine):
//! `g ‖ len(group id) ‖ group id ‖ / ‖ kind ‖ id`.

use serde::{Deserialize, Serialize};

use super::event::ProposalAction;
use crate::consensus::Verdict;
use crate::types::{Epoch, GroupId, MemberId, ProposalId, Timestamp};

/// Where a proposal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalStatus {
    /// Voting.
    Open,
    /// Voting ended with this outcome; not (yet) committed.
    Decided(Verdict),
    /// Applied by the commit that started this epoch.
    Committed(Epoch),
    /// Decided YES but no longer applicable (target gone, KeyPackage expired).
    Obsolete,
}

/// A voting proposal as the engine tracks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProposalRecord {
    /// Consensus id.
    pub id: ProposalId,
    /// The epoch whose roster votes on it.
    pub epoch: Epoch,
    /// Who opened it.
    pub owner: MemberId,
    /// What it asks for.
    pub action: ProposalAction,
    /// For adds: the KeyPackage message and its reference.
    pub key_package: Option<(Vec<u8>, Vec<u8>)>,
    /// Evidence carried by an emergency proposal.
    pub evidence: Vec<u8>,
    /// Whether this member found it valid when it arrived.
    pub locally_valid: bool,
    /// Current status.
    pub status: ProposalStatus,
    /// When it was opened or first seen here.
    pub seen_at: Timestamp,
    /// When it was decided here.
    pub decided_at: Option<Timestamp>,
    /// How many times its owner opened the same change before, each ending without a decision
    /// for want of votes (0 for a first attempt; see `EngineParams::max_vote_attempts`).
    pub attempt: u32,
}

/// A proposal record as written before `attempt` existed.
#[derive(Deserialize)]
struct LegacyProposalRecord {
    id: ProposalId,
    epoch: Epoch,
    owner: MemberId,
    action: ProposalAction,
    key_package: Option<(Vec<u8>, Vec<u8>)>,
    evidence: Vec<u8>,
    locally_valid: bool,
    status: ProposalStatus,
    seen_at: Timestamp,
    decided_at: Option<Timestamp>,
}

/// Decodes a proposal record, also one written before `attempt` existed (it reads as 0).
pub(crate) fn decode_proposal(
    bytes: &[u8],
) -> Result<ProposalRecord, crate::storage::StorageError> {
    if let Ok(rec) = postcard::from_bytes::<ProposalRecord>(bytes) {
        return Ok(rec);
    }
    let old: LegacyProposalRecord = decode("proposal record", bytes)?;
    Ok(ProposalRecord {
        id: old.id,
        epoch: old.epoch,
        owner: old.owner,
        action: old.action,
        key_package: old.key_package,
        evidence: old.evidence,
        locally_valid: old.locally_valid,
        status: old.status,
        seen_at: old.seen_at,
        decided_at: old.decided_at,
        attempt: 0,
    })
}

impl ProposalRecord {
    /// True when decided YES and not yet committed.
    pub(crate) fn is_ready(&self) -> bool {
        self.status == ProposalStatus::Decided(Verdict::Yes)
    }
}

/// A KeyPackage announced on the welcome topic, kept for a few epochs so any steward can use it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BufferedKeyPackage {
    /// The would-be member.
    pub member: MemberId,
    /// The KeyPackage message.
    pub message: Vec<u8>,
    /// Its reference.
    pub reference: Vec<u8>,
    /// The epoch in which it was received.
    pub received_epoch: Epoch,
    /// The add proposal opened for it, if any.
    pub proposal: Option<ProposalId>,
    /// When it was first received.
    pub received_at: Timestamp,
}

/// An accepted commit, retained for catch-up and fork detection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CommitRecord {
    /// The epoch the commit was applied in (it started `epoch + 1`).
    pub epoch: Epoch,
    /// The sealed commit exactly as published (envelope body).
    pub sealed: Vec<u8>,
    /// Who committed.
    pub committer: MemberId,
    /// The authenticator of the epoch the commit started.
    pub authenticator_after: Vec<u8>,
    /// The branch tag of `epoch` (the epoch the commit ended), so that a member knows the tag
    /// of the epoch it joined in even after leaving it (forks are found by comparing tags).
    pub branch_before: Vec<u8>,
    /// The epoch key of `epoch` (seals this commit, certificate parts and catch-up requests
    /// for members still in `epoch`), kept so that a member far behind can still be answered.
    pub key: [u8; 16],
    /// Certificate parts proving the outcome of each proposal the commit applied, built when it
    /// was applied (while the votes were at hand), served to members catching up.
    pub certificates: Vec<(ProposalId, Vec<Vec<u8>>)>,
}

/// A request waiting for the freeze to end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeferredRequest {
    /// What to propose.
    pub action: ProposalAction,
    /// For an add: the KeyPackage message and its reference.
    pub key_package: Option<(Vec<u8>, Vec<u8>)>,
    /// 0 for an application request; for this member's own proposal that failed for want of
    /// votes and whose retry the freeze held back, the attempt it opens as (its lifetime
    /// doubles per attempt, as for any retry).
    pub attempt: u32,
}

/// A deferred request as stored before `attempt` existed.
#[derive(Deserialize)]
pub(crate) struct LegacyDeferredRequest {
    action: ProposalAction,
    key_package: Option<(Vec<u8>, Vec<u8>)>,
}

impl From<LegacyDeferredRequest> for DeferredRequest {
    fn from(old: LegacyDeferredRequest) -> DeferredRequest {
        DeferredRequest {
            action: old.action,
            key_package: old.key_package,
            attempt: 0,
        }
    }
}

/// Small per-group scalars.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupMeta {
    /// When this member should next try to commit, if it is a steward with work.
    pub commit_due: Option<Timestamp>,
    /// When the commit selection window of the current epoch closes.
    pub selection_due: Option<Timestamp>,
    /// Proposals whose vote is held back while a higher-priority proposal is open.
    pub deferred_votes: Vec<ProposalId>,
    /// The first epoch this member was in (traffic from before it was not meant for it).
    pub joined_epoch: Epoch,
    /// Application requests waiting for a higher-priority vote to end.
    pub deferred_requests: Vec<DeferredRequest>,
}

/// [`GroupMeta`] as stored before deferred requests carried an attempt.
#[derive(Deserialize)]
struct LegacyGroupMeta {
    commit_due: Option<Timestamp>,
    selection_due: Option<Timestamp>,
    deferred_votes: Vec<ProposalId>,
    joined_epoch: Epoch,
    deferred_requests: Vec<LegacyDeferredRequest>,
}

/// Decodes the group's scalars, also as written before deferred requests had an attempt.
pub(crate) fn decode_meta(bytes: &[u8]) -> Result<GroupMeta, crate::storage::StorageError> {
    if let Ok(meta) = postcard::from_bytes::<GroupMeta>(bytes) {
        return Ok(meta);
    }
    let old: LegacyGroupMeta = decode("group meta", bytes)?;
    Ok(GroupMeta {
        commit_due: old.commit_due,
        selection_due: old.selection_due,
        deferred_votes: old.deferred_votes,
        joined_epoch: old.joined_epoch,
        deferred_requests: old.deferred_requests.into_iter().map(Into::into).collect(),
    })
}

/// Storage keys of one group's records.
pub(crate) struct Keys {
    prefix: Vec<u8>,
}

impl Keys {
    pub(crate) fn of(group_id: &GroupId) -> Keys {
        let gid = group_id.as_bytes();
        let mut prefix = Vec::with_capacity(gid.len() + 3);
        prefix.push(b'g');
        prefix.push(gid.len() as u8);
        prefix.extend_from_slice(gid);
        prefix.push(b'/');
        Keys { prefix }
    }

    fn with(&self, kind: u8, id: &[u8]) -> Vec<u8> {
        let mut k = self.prefix.clone();
        k.push(kind);
        k.extend_from_slice(id);
        k
    }

    /// Everything of the group.
    pub(crate) fn all(&self) -> Vec<u8> {
        self.prefix.clone()
    }

    pub(crate) fn meta(&self) -> Vec<u8> {
        self.with(b'm', &[])
    }

    pub(crate) fn policy(&self) -> Vec<u8> {
        self.with(b's', &[])
    }

    pub(crate) fn proposals(&self) -> Vec<u8> {
        self.with(b'p', &[])
    }

    pub(crate) fn proposal(&self, id: &ProposalId) -> Vec<u8> {
        self.with(b'p', id.as_bytes())
    }

    pub(crate) fn key_packages(&self) -> Vec<u8> {
        self.with(b'k', &[])
    }

    pub(crate) fn key_package(&self, member: &MemberId) -> Vec<u8> {
        self.with(b'k', member.as_bytes())
    }

    pub(crate) fn commits(&self) -> Vec<u8> {
        self.with(b'c', &[])
    }

    pub(crate) fn commit(&self, epoch: Epoch) -> Vec<u8> {
        self.with(b'c', &epoch.to_be_bytes())
    }

    /// Prefix of the consensus plugin's records (in the consensus space).
    pub(crate) fn consensus(&self) -> Vec<u8> {
        self.prefix.clone()
    }

    /// The group id of a meta key, for listing groups.
    pub(crate) fn group_of_meta_key(key: &[u8]) -> Option<GroupId> {
        let (&b'g', rest) = key.split_first()? else {
            return None;
        };
        let (&len, rest) = rest.split_first()?;
        let len = usize::from(len);
        if rest.len() != len + 2 || rest[len] != b'/' || rest[len + 1] != b'm' {
            return None;
        }
        GroupId::new(rest[..len].to_vec())
    }
}

/// Encodes a record.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("engine records always encode")
}

/// Decodes a record, reporting corruption as a storage error.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    what: &str,
    bytes: &[u8],
) -> Result<T, crate::storage::StorageError> {
    postcard::from_bytes(bytes)
        .map_err(|e| crate::storage::StorageError::Corrupt(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_keys_name_their_group_and_nothing_else() {
        let gid = GroupId::new(b"abc".to_vec()).unwrap();
        let k = Keys::of(&gid);
        assert_eq!(Keys::group_of_meta_key(&k.meta()), Some(gid));
        assert_eq!(Keys::group_of_meta_key(&k.policy()), None);
        assert_eq!(
            Keys::group_of_meta_key(&k.proposal(&ProposalId([1; 32]))),
            None
        );
        assert!(k.proposal(&ProposalId([1; 32])).starts_with(&k.proposals()));
        assert!(k.commit(5) < k.commit(6));
    }

    #[derive(Serialize)]
    struct OldRequest {
        action: ProposalAction,
        key_package: Option<(Vec<u8>, Vec<u8>)>,
    }

    #[derive(Serialize)]
    struct OldMeta {
        commit_due: Option<Timestamp>,
        selection_due: Option<Timestamp>,
        deferred_votes: Vec<ProposalId>,
        joined_epoch: Epoch,
        deferred_requests: Vec<OldRequest>,
    }

    #[test]
    fn group_meta_written_before_deferred_attempts_still_decodes() {
        let member = MemberId::from_signature_key(b"someone");
        let old = OldMeta {
            commit_due: Some(Timestamp(5)),
            selection_due: None,
            deferred_votes: vec![ProposalId([3; 32])],
            joined_epoch: 7,
            deferred_requests: vec![OldRequest {
                action: ProposalAction::Remove { member },
                key_package: None,
            }],
        };
        let meta = decode_meta(&encode(&old)).expect("legacy meta decodes");
        assert_eq!(meta.commit_due, Some(Timestamp(5)));
        assert_eq!(meta.joined_epoch, 7);
        assert_eq!(meta.deferred_votes, vec![ProposalId([3; 32])]);
        assert_eq!(
            meta.deferred_requests,
            vec![DeferredRequest {
                action: ProposalAction::Remove { member },
                key_package: None,
                attempt: 0,
            }]
        );
        let now = decode_meta(&encode(&meta)).expect("current meta decodes");
        assert_eq!(now, meta);
        assert!(decode_meta(b"\xff\xff").is_err());
    }
}
