//! The members of a [`Net`]: what each one holds, the seeds its identity and randomness come
//! from, how its engine is opened and reopened, and what a member does on its own initiative
//! (create a group, ask to join, send, propose a removal). It does not deliver anything: what a
//! member publishes goes through [`Net::apply`] (see [`delivery`](super::delivery)).

use std::collections::BTreeSet;
use std::sync::Arc;

use demls::engine::{Engine, EngineParams, GroupEvent};
use demls::{GroupId, MemberId, Storage, Topic};
use demls_consensus_hashgraph::HashgraphFactory;
use demls_storage_memory::MemoryStorage;

use super::Net;

/// One member of a [`Net`].
pub struct Member {
    /// Its engine.
    pub engine: Engine,
    /// What the engine stores into: reopen an engine on it to restart the member.
    pub store: Arc<dyn Storage>,
    /// The same store when members use the memory backend (adversaries and snapshots copy it).
    pub memory: Option<MemoryStorage>,
    /// The parameters its engine was last opened with.
    pub params: EngineParams,
    /// Every event it reported since they were last cleared.
    pub events: Vec<GroupEvent>,
    /// The topics it is subscribed to.
    pub subscribed: BTreeSet<Topic>,
    /// Whether it currently receives traffic and runs its timers.
    pub online: bool,
}

/// The identity seed of member `i`.
pub fn seed(i: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    s
}

impl Net {
    /// Adds a member with identity seed [`seed`]`(i)` and `params` on this net's backend;
    /// returns its index.
    pub fn add_member(&mut self, i: usize, params: EngineParams) -> usize {
        let (store, memory) = self.open_store();
        let engine = self.open_engine(store.clone(), i, params.clone());
        self.members.push(Member {
            engine,
            store,
            memory,
            params,
            events: Vec::new(),
            subscribed: BTreeSet::new(),
            online: true,
        });
        self.members.len() - 1
    }

    /// Member `i`'s engine on `store`, as this net opens them: identity seed [`seed`]`(i)`, the
    /// hashgraph consensus, this net's policy and, when the net is seeded, an entropy seed made
    /// of `seed(i)` and the run seed.
    pub(super) fn open_engine(
        &self,
        store: Arc<dyn Storage>,
        i: usize,
        params: EngineParams,
    ) -> Engine {
        let mut engine = Engine::open(
            store,
            Arc::new(HashgraphFactory::default()),
            self.policy.clone(),
            params,
            Some(seed(i)),
            self.now,
        )
        .unwrap_or_else(|e| panic!("member {i}'s engine does not open: {e}"));
        if let Some(run_seed) = self.entropy {
            let mut s = seed(i);
            s[24..].copy_from_slice(&run_seed.to_be_bytes());
            engine.set_entropy_seed(s);
        }
        engine
    }

    /// Restarts member `i`: a new engine opened on its storage (what was only in memory is
    /// gone, as after a crash). Its seeds are those of index `i`.
    pub fn restart(&mut self, i: usize, params: EngineParams) {
        let store = self.members[i].store.clone();
        self.members[i].engine = self.open_engine(store, i, params.clone());
        self.members[i].params = params;
    }

    /// Member `i`'s memory store (memory backend only).
    pub fn memory(&self, i: usize) -> &MemoryStorage {
        self.members[i]
            .memory
            .as_ref()
            .expect("a member on the memory backend")
    }

    /// A malicious copy of member `i` in group `g` (memory backend only).
    pub fn adversary(&self, i: usize, g: &GroupId) -> demls_sim::adversary::Adversary {
        demls_sim::adversary::Adversary::new(self.memory(i), seed(i), g)
    }

    /// Member `i`'s id.
    pub fn id(&self, i: usize) -> MemberId {
        self.members[i].engine.member_id()
    }

    /// Member `i` creates group `g`.
    pub fn create(&mut self, i: usize, g: &GroupId) {
        let out = self.members[i]
            .engine
            .create_group(g.clone(), self.now)
            .unwrap_or_else(|e| panic!("member {i} does not create the group: {e}"));
        self.apply(i, out);
    }

    /// Member `i` asks to join group `g`.
    pub fn join(&mut self, i: usize, g: &GroupId) {
        let out = self.members[i]
            .engine
            .request_join(g.clone(), self.now)
            .unwrap_or_else(|e| panic!("member {i} does not ask to join: {e}"));
        self.apply(i, out);
    }

    /// Member `i` sends `payload` to group `g`; returns the message id.
    pub fn send(&mut self, i: usize, g: &GroupId, payload: &[u8]) -> Vec<u8> {
        let (id, out) = self.members[i]
            .engine
            .send_message(g, payload, self.now)
            .unwrap_or_else(|e| panic!("member {i} does not send: {e}"));
        self.apply(i, out);
        id
    }

    /// Member `i` proposes to remove `target` from group `g`.
    pub fn propose_remove(&mut self, i: usize, g: &GroupId, target: MemberId) {
        let (_, out) = self.members[i]
            .engine
            .propose_remove(g, target, self.now)
            .unwrap_or_else(|e| panic!("member {i} does not propose the removal: {e}"));
        self.apply(i, out);
    }

    /// Member `i` alone (nobody else hears it) takes a KeyPackage `announcement` on `g`'s
    /// welcome topic and runs its own timers until it publishes a Welcome: with `i` the only
    /// member, it votes and commits the add by itself. Returns the Welcome and the ratchet
    /// tree it published, as published.
    pub fn add_alone(&mut self, i: usize, g: &GroupId, announcement: Vec<u8>) -> Vec<Vec<u8>> {
        use demls::internals::wire::{Envelope, Kind};
        let kind = |p: &[u8]| Envelope::decode_checked(p).map(|(_, k)| k).ok();
        let topic = demls::engine::GroupTopics::of(g).welcome;
        let mut published = self.inject(i, &topic, announcement).publish;
        for _ in 0..50 {
            if published
                .iter()
                .any(|p| kind(&p.payload) == Some(Kind::Welcome))
            {
                break;
            }
            let Some(t) = self.members[i].engine.next_deadline() else {
                break;
            };
            self.now = self.now.max(t);
            let out = self.members[i]
                .engine
                .tick(self.now)
                .unwrap_or_else(|e| panic!("member {i} failed on a tick: {e}"));
            published.extend(out.publish);
        }
        let answer: Vec<Vec<u8>> = published
            .into_iter()
            .filter(|p| matches!(kind(&p.payload), Some(Kind::Welcome | Kind::RatchetTree)))
            .map(|p| p.payload)
            .collect();
        assert_eq!(answer.len(), 2, "member {i} produced a Welcome and a tree");
        answer
    }
}
