//! Light members: real MLS members of one group that run no engine, simulated together by one
//! pool actor so that groups of thousands fit in one process next to a few fully simulated
//! nodes.
//!
//! A *full* member is a simulated node: a [`demls::Engine`] holding the whole MLS tree and
//! processing everything. Simulating 10,000 of them is out of reach (each would process the
//! 10,000 votes of every decision). A *light* member is what the others see of a member that
//! is not simulated in full:
//!
//! - **A real member.** It has its own Ed25519 identity ([`demls::Identity`], from a seed
//!   derived from the run's seed), and [`Sim::announce_light`] publishes a real KeyPackage for
//!   it on the group's welcome topic, so a steward adds it by an ordinary (voted) commit. It
//!   never processes its Welcome, the ratchet tree or any commit.
//! - **A voter.** When a consensus *proposal* of its group is published, each light member
//!   receives it after its own latency draw (the network's, from the publisher to the pool),
//!   and answers with a correctly signed vote (its own key, the consensus crate's vote
//!   layout), sealed under the epoch key in a [`Kind::Consensus`] envelope carrying the branch
//!   tag of the proposal's envelope — exactly what a full member publishes. That vote then
//!   reaches every full member subscribed to the group topic, each copy with its own latency
//!   draw. Light members vote YES by default ([`LightPool::set_vote`]); only members of the
//!   proposal's epoch vote, and with [`LightPool::set_voters`] only those listed (a small
//!   consensus model).
//! - **Deaf to everything else.** The pool receives one copy of each consensus message on the
//!   group topic (not one per light member), ignores votes and repeated proposals, and is sent
//!   nothing else. Per copy of a light vote the simulator does O(1) work; per proposal the pool
//!   signs and seals one vote per light member.
//!
//! The epoch key is what a light member would hold had it processed its Welcome and the
//! commits since: the pool reads it from the stored state of a full member in the same epoch
//! (`mls_view.rs`), once per epoch. The pool's own CPU time (one signature and one seal per
//! vote) is counted in [`LightStats::cpu_us`] but never charged to virtual time.
//!
//! What a light member does **not** do: propose, commit, send application messages, status
//! beacons or repair requests, catch up, or receive anything but proposals. Traffic to and
//! from light members other than their votes is therefore absent from [`Stats`](crate::Stats).

use std::collections::{BTreeMap, BTreeSet};

use consensus_hashgraph::{ConsensusMessage, Vote, own_vote_id, proposal_digest, vote_hash};
use demls::engine::GroupTopics;
use demls::internals::entropy::Entropy;
use demls::internals::mls::{Crypto, Provider, new_key_package};
use demls::internals::txn::Txn;
use demls::internals::wire::{Envelope, Kind, sealed};
use demls::{Epoch, GroupId, Identity, IdentitySigner, MemberId, Topic};
use demls_storage_memory::MemoryStorage;

use crate::error::SimError;
use crate::network::Verdict;
use crate::node::NodeId;
use crate::run::Publication;
use crate::sim::Sim;

/// The pseudo node the light-member pool sends from (it is not in [`Sim::nodes`]).
pub const LIGHT_POOL: NodeId = NodeId(usize::MAX);

/// What the light members did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LightStats {
    /// KeyPackages announced.
    pub key_packages: u64,
    /// Distinct proposals answered with at least one vote.
    pub proposals: u64,
    /// Votes published.
    pub votes: u64,
    /// Bytes of the vote envelopes published (each sent once; copies are in `Stats`).
    pub vote_bytes: u64,
    /// Consensus messages received that needed no answer (votes, proposals seen before,
    /// proposals no light member may vote on).
    pub ignored: u64,
    /// Consensus messages the pool could not open (no member in that epoch, bad bytes).
    pub unreadable: u64,
    /// Thread CPU time the pool spent (KeyPackages, signing and sealing votes), in µs.
    pub cpu_us: u64,
}

/// The light members of one group (see the module docs).
pub struct LightPool {
    group: GroupId,
    topics: GroupTopics,
    members: Vec<Identity>,
    ids: Vec<MemberId>,
    by_id: BTreeMap<MemberId, usize>,
    yes: bool,
    voters: Option<BTreeSet<MemberId>>,
    answered: BTreeSet<[u8; 32]>,
    keys: BTreeMap<Epoch, [u8; 16]>,
    crypto: Crypto,
    nonces: u64,
    stats: LightStats,
}

impl LightPool {
    /// The group the light members belong to.
    pub fn group(&self) -> &GroupId {
        &self.group
    }

    /// The light members, in creation order.
    pub fn members(&self) -> &[MemberId] {
        &self.ids
    }

    /// How many light members there are.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether `member` is one of the light members.
    pub fn contains(&self, member: &MemberId) -> bool {
        self.by_id.contains_key(member)
    }

    /// What the light members did so far.
    pub fn stats(&self) -> LightStats {
        self.stats
    }

    /// Light members vote YES (`true`, the default) or NO on every proposal.
    pub fn set_vote(&mut self, yes: bool) {
        self.yes = yes;
    }

    /// Restricts voting to the light members in `voters` (`None`: every light member in the
    /// proposal's epoch votes), e.g. to follow a small consensus model where only stewards
    /// vote.
    pub fn set_voters(&mut self, voters: Option<BTreeSet<MemberId>>) {
        self.voters = voters;
    }

    /// Whether publications on `topic` may concern the pool.
    pub(crate) fn listens_to(&self, topic: &Topic) -> bool {
        *topic == self.topics.group
    }

    /// A fresh nonce: a pool tag and a counter, so no two seals under one key share one.
    fn nonce(&mut self) -> [u8; sealed::SEAL_NONCE_LEN] {
        self.nonces += 1;
        let mut nonce = [0u8; sealed::SEAL_NONCE_LEN];
        nonce[..4].copy_from_slice(b"lite");
        nonce[4..].copy_from_slice(&self.nonces.to_be_bytes());
        nonce
    }
}

/// A signed YES/NO vote of `identity` on the proposal with `digest`, stamped `timestamp`,
/// as the consensus crate's engine signs its own (gossipsub mode: no hash chain).
fn sign_vote(
    identity: &Identity,
    digest: &consensus_hashgraph::ProposalDigest,
    yes: bool,
    timestamp: u64,
) -> Vote {
    let owner = identity.public_key().to_vec();
    let mut vote = Vote {
        vote_id: own_vote_id(digest, &owner, timestamp),
        vote_owner: owner,
        proposal_id: digest.proposal_id(),
        timestamp,
        vote: yes,
        parent_hash: Vec::new(),
        received_hash: Vec::new(),
        vote_hash: Vec::new(),
        signature: Vec::new(),
        proposal_hash: digest.as_bytes().to_vec(),
    };
    let hash = vote_hash(&vote);
    vote.signature = IdentitySigner::sign(identity, &hash);
    vote.vote_hash = hash.to_vec();
    vote
}

impl Sim {
    /// Creates `count` more light members of `group` (the first call creates the pool; all
    /// light members of a simulation belong to one group). They are not members until a
    /// steward adds them: see [`announce_light`](Sim::announce_light).
    pub fn add_light_members(
        &mut self,
        group: &GroupId,
        count: usize,
    ) -> Result<Vec<MemberId>, SimError> {
        let seed = self.seed;
        let pool = self.light.get_or_insert_with(|| LightPool {
            group: group.clone(),
            topics: GroupTopics::of(group),
            members: Vec::new(),
            ids: Vec::new(),
            by_id: BTreeMap::new(),
            yes: true,
            voters: None,
            answered: BTreeSet::new(),
            keys: BTreeMap::new(),
            crypto: Crypto::new(Entropy::seeded(crate::seeds::light_entropy_seed(seed))),
            nonces: 0,
            stats: LightStats::default(),
        });
        if pool.group != *group {
            return Err(SimError::Light(format!(
                "the light members belong to group {}",
                pool.group.display()
            )));
        }
        let mut added = Vec::with_capacity(count);
        for _ in 0..count {
            let index = pool.members.len() as u64;
            let identity = Identity::from_seed(crate::seeds::light_seed(seed, index))
                .map_err(|e| SimError::Light(e.to_string()))?;
            let id = identity.member_id();
            pool.by_id.insert(id, pool.members.len());
            pool.members.push(identity);
            pool.ids.push(id);
            added.push(id);
        }
        Ok(added)
    }

    /// The light members, if any were created.
    pub fn light(&self) -> Option<&LightPool> {
        self.light.as_ref()
    }

    /// The light members, to change how they vote.
    pub fn light_mut(&mut self) -> Option<&mut LightPool> {
        self.light.as_mut()
    }

    /// Each light member in `members` generates a KeyPackage and announces it on the group's
    /// welcome topic now, as a node asking to join does (once; light members do not
    /// re-announce). Returns how many were announced.
    pub fn announce_light(&mut self, members: &[MemberId]) -> Result<usize, SimError> {
        let Some(pool) = self.light.as_mut() else {
            return Err(SimError::Light("no light members".into()));
        };
        let start = crate::cpu::process_cpu_us();
        let now = self.now;
        // The KeyPackages' private keys are written to a scratch store and dropped: light
        // members never process their Welcome.
        let scratch = MemoryStorage::new();
        let mut envelopes = Vec::with_capacity(members.len());
        for member in members {
            let Some(&i) = pool.by_id.get(member) else {
                return Err(SimError::Light(format!("{member} is not a light member")));
            };
            let txn = Txn::new(&scratch);
            let kp = new_key_package(&Provider::new(&pool.crypto, &txn), &pool.members[i], now)
                .map_err(|e| SimError::Light(e.to_string()))?;
            envelopes.push(
                Envelope::new(Kind::KeyPackage, pool.group.as_bytes(), 0, kp.message)
                    .encode_to_vec(),
            );
        }
        pool.stats.key_packages += envelopes.len() as u64;
        pool.stats.cpu_us += crate::cpu::process_cpu_us().saturating_sub(start);
        let topic = pool.topics.welcome.clone();
        let count = envelopes.len();
        for envelope in envelopes {
            self.publish_at(LIGHT_POOL, topic.clone(), envelope, now);
        }
        Ok(count)
    }

    /// The key of `epoch`, from the cache or from the stored state of a full member in that
    /// epoch (`from` first).
    fn light_key(&mut self, epoch: Epoch, from: NodeId) -> Option<[u8; 16]> {
        let pool = self.light.as_ref()?;
        if let Some(key) = pool.keys.get(&epoch) {
            return Some(*key);
        }
        let group = pool.group.clone();
        let candidates = std::iter::once(from).chain((0..self.nodes.len()).map(NodeId));
        let key = candidates
            .filter(|n| {
                self.nodes
                    .get(n.0)
                    .and_then(|node| node.engine.as_ref())
                    .and_then(|e| e.group_summary(&group))
                    .is_some_and(|s| s.epoch == epoch)
            })
            .find_map(|n| {
                crate::mls_view::epoch_key(&self.nodes[n.0].storage, &group)
                    .filter(|(e, _)| *e == epoch)
            })
            .map(|(_, key)| key)?;
        let pool = self.light.as_mut()?;
        pool.keys.insert(epoch, key);
        Some(key)
    }

    /// The members of `group` in `epoch` as a full member in that epoch knows them.
    fn roster_at(&self, group: &GroupId, epoch: Epoch, from: NodeId) -> Option<BTreeSet<MemberId>> {
        std::iter::once(from)
            .chain((0..self.nodes.len()).map(NodeId))
            .filter_map(|n| self.nodes.get(n.0)?.engine.as_ref()?.group_summary(group))
            .find(|s| s.epoch == epoch)
            .map(|s| s.members.into_iter().collect())
    }

    /// A consensus message of the pool's group reached the pool: a proposal seen for the first
    /// time is answered with one vote per eligible light member.
    pub(crate) fn light_receive(&mut self, from: NodeId, publication: &Publication) {
        let start = crate::cpu::process_cpu_us();
        self.stats.items += 1;
        let answered = self.light_answer(from, publication);
        if let Some(pool) = self.light.as_mut() {
            match answered {
                Some(true) => pool.stats.proposals += 1,
                Some(false) => pool.stats.ignored += 1,
                None => pool.stats.unreadable += 1,
            }
            pool.stats.cpu_us += crate::cpu::process_cpu_us().saturating_sub(start);
        }
    }

    /// Answers a proposal: `Some(true)` if votes were sent, `Some(false)` if there was
    /// nothing to answer (a vote, a proposal seen before, no eligible light member), `None` if
    /// the message could not be read.
    fn light_answer(&mut self, from: NodeId, publication: &Publication) -> Option<bool> {
        let (env, kind) = Envelope::decode_checked(&publication.payload).ok()?;
        let group = self.light.as_ref()?.group.clone();
        if kind != Kind::Consensus || env.group_id != group.as_bytes() {
            return None;
        }
        let key = self.light_key(env.epoch, from)?;
        let plain = sealed::open_consensus(&key, group.as_bytes(), env.epoch, &env.body).ok()?;
        let ConsensusMessage::Proposal(mut header) = ConsensusMessage::decode(&plain).ok()? else {
            return Some(false);
        };
        header.votes.clear();
        header.round = 0;
        let digest = proposal_digest(&header);
        if !self.light.as_mut()?.answered.insert(*digest.as_bytes()) {
            return Some(false);
        }
        let roster = self.roster_at(&group, env.epoch, from)?;
        let sent_at = self.now;
        let bytes = publication.payload.len();
        let pool = self.light.as_ref()?;
        let voting: Vec<usize> = pool
            .ids
            .iter()
            .enumerate()
            .filter(|(_, m)| roster.contains(m))
            .filter(|(_, m)| pool.voters.as_ref().is_none_or(|v| v.contains(m)))
            .map(|(i, _)| i)
            .collect();
        let topic = pool.topics.group.clone();
        let yes = pool.yes;
        let mut voted = false;
        for i in voting {
            // When this light member received the proposal.
            let received = match self.network.route(
                from,
                LIGHT_POOL,
                sent_at,
                false,
                true,
                bytes,
                &mut self.rng,
            ) {
                Verdict::Arrive(at) => at,
                Verdict::Drop(_) => continue,
            };
            let pool = self.light.as_mut()?;
            let vote = sign_vote(&pool.members[i], &digest, yes, received.0);
            let message = ConsensusMessage::Vote(vote).encode();
            let nonce = pool.nonce();
            let body = sealed::seal_consensus(&key, group.as_bytes(), env.epoch, nonce, &message);
            let envelope = Envelope::new(Kind::Consensus, group.as_bytes(), env.epoch, body)
                .with_branch(&env.branch)
                .encode_to_vec();
            pool.stats.votes += 1;
            pool.stats.vote_bytes += envelope.len() as u64;
            self.publish_at(LIGHT_POOL, topic.clone(), envelope, received);
            voted = true;
        }
        Some(voted)
    }
}
