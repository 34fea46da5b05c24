//! The joiner's side: announce a KeyPackage, wait for a Welcome addressed to it and for the
//! ratchet tree of the same epoch (delivered separately, never inside the Welcome), then join.
//! Group traffic that arrives before the Welcome is held and replayed after joining.
//!
//! A *rejoin* is the same with a `Rejoin` announcement, by a member whose current state of the
//! group cannot follow the others any more (§13 of the spec): the old state stays in place, but
//! frozen, until the Welcome arrives; then it is erased and replaced in one storage transaction,
//! keeping only this member's own unsent work — its recent messages (sent again in the new
//! state) and its pending membership requests.
//!
//! This file holds the pending join itself; what arrives for it, and joining, is in
//! [`arrival`].

mod arrival;

use serde::{Deserialize, Serialize};

use super::error::EngineError;
use super::event::GroupEvent;
use super::output::Output;
use super::params::EngineParams;
use super::records::{decode, encode};
use super::topics::GroupTopics;
use crate::identity::Identity;
use crate::mls::{Provider, new_key_package};
use crate::storage::Space;
use crate::txn::Txn;
use crate::types::{Epoch, GroupId, Timestamp, Topic};
use crate::wire::{Envelope, Kind};

const MAX_WELCOMES: usize = 4;
const MAX_TREES: usize = 8;

/// What survives a restart of a pending join.
#[derive(Serialize, Deserialize)]
struct JoinRecord {
    group_id: Vec<u8>,
    key_package: Vec<u8>,
    references: Vec<Vec<u8>>,
    rejoin_since: Option<Epoch>,
}

fn record_key(group_id: &GroupId) -> Vec<u8> {
    [b"j/".as_slice(), group_id.as_bytes()].concat()
}

/// The genesis digest a pending join must match, a record of its own beside the
/// [`JoinRecord`] (whose encoding predates it).
fn digest_key(group_id: &GroupId) -> Vec<u8> {
    [b"jd/".as_slice(), group_id.as_bytes()].concat()
}

/// What kind of join this is and what the group joined must be.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct JoinTerms {
    /// For a rejoin: the last epoch this member shares with the group.
    pub rejoin_since: Option<Epoch>,
    /// The digest of the genesis the group joined must have (from an invitation, or for a
    /// rejoin from the member's own state); `None` joins the first group under the id.
    pub genesis_digest: Option<[u8; 32]>,
}

/// A join in progress.
pub(crate) struct PendingJoin {
    pub group_id: GroupId,
    pub topics: GroupTopics,
    key_package: Vec<u8>,
    references: Vec<Vec<u8>>,
    /// For a rejoin: the last epoch this member shares with the group.
    pub rejoin_since: Option<Epoch>,
    /// The digest of the genesis the group joined must have (from an invitation, or for a
    /// rejoin from the member's own state); `None` joins the first group under the id.
    genesis_digest: Option<[u8; 32]>,
    pub next_announce: Timestamp,
    welcomes: Vec<(Epoch, Vec<u8>)>,
    trees: Vec<(Epoch, Vec<u8>)>,
    buffered: Vec<(Topic, Vec<u8>)>,
}

impl PendingJoin {
    /// Generates a KeyPackage and announces it (as a rejoin when `terms.rejoin_since` is set).
    pub(crate) fn start(
        group_id: GroupId,
        provider: &Provider<'_, '_, '_>,
        identity: &Identity,
        params: &EngineParams,
        terms: JoinTerms,
        now: Timestamp,
        out: &mut Output,
    ) -> Result<PendingJoin, EngineError> {
        let JoinTerms {
            rejoin_since,
            genesis_digest,
        } = terms;
        let kp = new_key_package(provider, identity, now)?;
        let join = PendingJoin {
            topics: GroupTopics::of(&group_id),
            group_id,
            key_package: kp.message,
            references: vec![kp.reference.clone()],
            rejoin_since,
            genesis_digest,
            next_announce: now.plus_ms(params.join_announce_interval_ms),
            welcomes: Vec::new(),
            trees: Vec::new(),
            buffered: Vec::new(),
        };
        out.subscribe.push(join.topics.join.clone());
        out.subscribe.push(join.topics.group.clone());
        join.announce(out);
        out.event(GroupEvent::JoinRequested {
            group_id: join.group_id.clone(),
            key_package_ref: kp.reference,
        });
        tracing::info!(group = %join.group_id.display(), ?rejoin_since, "join requested");
        Ok(join)
    }

    fn announce(&self, out: &mut Output) {
        let (kind, epoch) = match self.rejoin_since {
            Some(since) => (Kind::Rejoin, since),
            None => (Kind::KeyPackage, 0),
        };
        let env = Envelope::new(
            kind,
            self.group_id.as_bytes(),
            epoch,
            self.key_package.clone(),
        );
        out.publish(&self.topics.welcome, env.encode_to_vec());
    }

    /// Re-announces the KeyPackage when due.
    pub(crate) fn tick(&mut self, now: Timestamp, params: &EngineParams, out: &mut Output) {
        if now >= self.next_announce {
            self.announce(out);
            self.next_announce = now.plus_ms(params.join_announce_interval_ms);
        }
    }

    pub(crate) fn persist(&self, txn: &Txn<'_>) {
        let rec = JoinRecord {
            group_id: self.group_id.as_bytes().to_vec(),
            key_package: self.key_package.clone(),
            references: self.references.clone(),
            rejoin_since: self.rejoin_since,
        };
        txn.put(Space::Node, record_key(&self.group_id), encode(&rec));
        match self.genesis_digest {
            Some(digest) => txn.put(Space::Node, digest_key(&self.group_id), digest.to_vec()),
            None => txn.delete(Space::Node, digest_key(&self.group_id)),
        }
    }

    /// Erases what [`persist`](Self::persist) wrote, in `txn`.
    fn forget(group_id: &GroupId, txn: &Txn<'_>) {
        txn.delete(Space::Node, record_key(group_id));
        txn.delete(Space::Node, digest_key(group_id));
    }

    pub(crate) fn load_all(txn: &Txn<'_>) -> Result<Vec<PendingJoin>, EngineError> {
        let mut out = Vec::new();
        for (_, v) in txn.scan_prefix(Space::Node, b"j/")? {
            let rec: JoinRecord = decode("pending join", &v)?;
            let Some(group_id) = GroupId::new(rec.group_id) else {
                continue;
            };
            let genesis_digest = match txn.get(Space::Node, &digest_key(&group_id))? {
                None => None,
                Some(bytes) => Some(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    EngineError::Storage(crate::storage::StorageError::Corrupt(
                        "genesis digest of a pending join is not 32 bytes".into(),
                    ))
                })?),
            };
            out.push(PendingJoin {
                topics: GroupTopics::of(&group_id),
                group_id,
                key_package: rec.key_package,
                references: rec.references,
                rejoin_since: rec.rejoin_since,
                genesis_digest,
                next_announce: Timestamp(0),
                welcomes: Vec::new(),
                trees: Vec::new(),
                buffered: Vec::new(),
            });
        }
        Ok(out)
    }
}
