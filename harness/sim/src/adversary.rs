//! A malicious or compromised member, for fault experiments: it works on a private *copy* of a
//! real member's storage, so it can decrypt, forge and commit as that member (with the keys
//! that member holds) without disturbing the member itself.

use std::sync::Arc;

use consensus_hashgraph::Config;
use demls::consensus::{Consensus, Electorate, OpenRequest};
use demls::internals::mls::{Crypto, MlsState, Processed};
use demls::internals::txn::Txn;
use demls::internals::wire::{
    self, CommitInfo, Envelope, Frame, GroupProposal, Kind, RemoveMember, frame, group_proposal,
    sealed,
};
use demls::storage::{Space, Storage, WriteBatch};
use demls::{GroupId, Identity, MemberId, Timestamp};
use demls_consensus_hashgraph::HashgraphConsensus;
use demls_storage_memory::MemoryStorage;

/// Acts as one member from a snapshot of its state.
pub struct Adversary {
    storage: MemoryStorage,
    identity: Identity,
    seed: [u8; 32],
    group: GroupId,
    crypto: Crypto,
    /// Consensus envelopes sealed so far (varies their nonces).
    sealed: std::cell::Cell<u64>,
}

/// A deep copy of a store (clones of a `MemoryStorage` share data).
pub fn snapshot(from: &MemoryStorage) -> MemoryStorage {
    let copy = MemoryStorage::new();
    let mut batch = WriteBatch::new();
    for space in Space::ALL {
        for (k, v) in from
            .scan_prefix(space, b"")
            .expect("memory storage reads cannot fail")
        {
            batch.put(space, k, v);
        }
    }
    copy.apply(batch)
        .expect("memory storage without capacity cannot fail");
    copy
}

/// The adversary's entropy seed: derived from, never equal to, the member's own.
fn adversary_seed(identity_seed: &[u8; 32]) -> [u8; 32] {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        &[b"demls-sim/adversary".as_slice(), identity_seed].concat(),
    );
    let mut seed = [0u8; 32];
    seed.copy_from_slice(digest.as_ref());
    seed
}

impl Adversary {
    /// Impersonates the member whose identity seed and storage are given, in group `group`.
    pub fn new(storage: &MemoryStorage, identity_seed: [u8; 32], group: &GroupId) -> Adversary {
        Adversary {
            storage: snapshot(storage),
            identity: Identity::from_seed(identity_seed).expect("any 32 bytes are a seed"),
            seed: identity_seed,
            group: group.clone(),
            // Seeded from the impersonated identity: a forged commit's random path secrets
            // (and so the digest of any proposal citing it) repeat with the run's seed.
            crypto: Crypto::new(demls::internals::entropy::Entropy::seeded(adversary_seed(
                &identity_seed,
            ))),
            sealed: std::cell::Cell::new(0),
        }
    }

    fn with_group<T>(
        &self,
        f: impl FnOnce(&mut MlsState, &demls::internals::mls::Provider<'_, '_, '_>) -> T,
    ) -> T {
        let txn = Txn::new(&self.storage);
        let provider = self.crypto.provider(&txn);
        let mut mls = MlsState::load(&provider, &self.group)
            .expect("the impersonated member is in the group");
        let out = f(&mut mls, &provider);
        txn.commit().expect("memory storage cannot fail");
        out
    }

    /// The current epoch of the copy.
    pub fn epoch(&self) -> u64 {
        self.with_group(|m, _| m.epoch())
    }

    /// Decrypts an `Mls` envelope published by another member and returns its frame; a sealed
    /// `Consensus` envelope comes back as a frame with a consensus body.
    pub fn decrypt(&self, envelope: &[u8]) -> Option<Frame> {
        let (env, kind) = Envelope::decode_checked(envelope).ok()?;
        if kind == Kind::Consensus {
            let key = self.epoch_key_of(env.epoch)?;
            let bytes = sealed::open_consensus(&key, &env.group_id, env.epoch, &env.body).ok()?;
            return Some(Frame {
                body: Some(frame::Body::Consensus(bytes)),
            });
        }
        if kind != Kind::Mls {
            return None;
        }
        self.with_group(|mls, p| {
            let (msg, _, _) = MlsState::peek(&env.body).ok()?;
            match mls.process(p, msg).ok()? {
                Processed::Application { plaintext, .. } => wire::decode_frame(&plaintext).ok(),
                _ => None,
            }
        })
    }

    /// Encrypts raw plaintext bytes (possibly not a frame at all) as this member.
    pub fn encrypt_bytes(&self, plaintext: &[u8]) -> Vec<u8> {
        self.with_group(|mls, p| {
            let ct = mls
                .encrypt(p, &self.identity, plaintext)
                .expect("encryption works");
            Envelope::new(Kind::Mls, self.group.as_bytes(), mls.epoch(), ct).encode_to_vec()
        })
    }

    /// Skips `n` generations of this member's application ratchet (by encrypting and discarding
    /// `n` messages), so that forged messages do not reuse a generation the real member, which
    /// keeps running, also uses — receivers would refuse the second one. Receivers accept the
    /// jump (up to the group's maximum forward distance).
    pub fn jump(&self, n: u32) {
        self.with_group(|mls, p| {
            for _ in 0..n {
                mls.encrypt(p, &self.identity, b"")
                    .expect("encryption works");
            }
        });
    }

    /// Encrypts a frame as this member.
    pub fn encrypt_frame(&self, f: &Frame) -> Vec<u8> {
        self.encrypt_bytes(&wire::encode(f))
    }

    /// The epoch key of the copy's current epoch, if `epoch` is it.
    fn epoch_key_of(&self, epoch: u64) -> Option<[u8; 16]> {
        self.with_group(|mls, _| {
            (mls.epoch() == epoch).then(|| mls.commit_envelope_key(&self.crypto).ok())?
        })
    }

    /// Seals consensus bytes (possibly not a consensus message at all) as a `Consensus`
    /// envelope of the copy's current epoch, as a member would.
    pub fn encrypt_consensus(&self, bytes: Vec<u8>) -> Vec<u8> {
        self.with_group(|mls, _| {
            let epoch = mls.epoch();
            let key = mls
                .commit_envelope_key(&self.crypto)
                .expect("exporter works");
            // A nonce derived from the message and a counter: deterministic runs, a fresh
            // envelope per call, and never one nonce for two different plaintexts.
            let count = self.sealed.get();
            self.sealed.set(count + 1);
            let digest = ring::digest::digest(
                &ring::digest::SHA256,
                &[&bytes[..], &count.to_be_bytes()].concat(),
            );
            let mut nonce = [0u8; 12];
            nonce.copy_from_slice(&digest.as_ref()[..12]);
            let body = sealed::seal_consensus(&key, self.group.as_bytes(), epoch, nonce, &bytes);
            Envelope::new(Kind::Consensus, self.group.as_bytes(), epoch, body).encode_to_vec()
        })
    }

    /// A `Consensus` envelope, sent as this member, opening a leave proposal (owned and signed by
    /// this member) that claims `member` leaves — a forgery unless `member` is this member.
    pub fn leave_for(&self, member: MemberId, now: Timestamp) -> Vec<u8> {
        let (epoch, keys) = self.with_group(|mls, _| {
            let roster = mls.roster();
            let keys: Vec<Vec<u8>> = roster
                .entries()
                .iter()
                .map(|e| e.signature_key.clone())
                .collect();
            (mls.epoch(), keys)
        });
        let payload = wire::encode(&GroupProposal {
            group_id: self.group.as_bytes().to_vec(),
            epoch,
            action: Some(group_proposal::Action::Leave(RemoveMember {
                member_id: member.as_bytes().to_vec(),
            })),
        });
        let signer = Arc::new(Identity::from_seed(self.seed).expect("any 32 bytes are a seed"));
        let mut consensus = HashgraphConsensus::new(Config::default(), signer);
        let opened = consensus
            .open(
                OpenRequest {
                    payload: &payload,
                    voters: &Electorate::new(keys),
                    expires_at: now.plus_ms(10_000),
                    liveness_yes: true,
                    own_vote: Some(true),
                },
                now,
            )
            .expect("the impersonated member is a voter");
        let message = opened
            .messages
            .into_iter()
            .next()
            .expect("a proposal message");
        self.encrypt_consensus(message)
    }

    /// Moves the copy to the next epoch with an empty commit of its own (nobody else sees it).
    pub fn advance_epoch(&self) {
        self.with_group(|mls, p| {
            mls.commit(p, &self.identity, vec![], vec![], vec![], None)
                .expect("commit");
            mls.merge_pending(p).expect("merge");
        })
    }

    /// A sealed commit envelope removing the members at `removes` (leaf indices) and naming
    /// `proposals` as the voting proposals it applies — whether or not anyone voted for them.
    pub fn commit(&self, removes: Vec<u32>, proposals: Vec<[u8; 32]>) -> Vec<u8> {
        self.with_group(|mls, p| {
            let epoch = mls.epoch();
            let key = mls
                .commit_envelope_key(&self.crypto)
                .expect("exporter works");
            let info = CommitInfo {
                proposals: proposals.iter().map(|x| x.to_vec()).collect(),
                rejoins: Vec::new(),
            };
            let out = mls
                .commit(
                    p,
                    &self.identity,
                    vec![],
                    removes,
                    wire::encode(&info),
                    None,
                )
                .expect("commit");
            let body = sealed::seal(&key, self.group.as_bytes(), epoch, [9; 12], &out.commit);
            Envelope::new(Kind::Commit, self.group.as_bytes(), epoch, body).encode_to_vec()
        })
    }
}

impl crate::Sim {
    /// An [`Adversary`] impersonating `node` in `group`, from a copy of its current state.
    pub fn adversary(&self, node: crate::NodeId, group: &GroupId) -> Adversary {
        let n = self.node(node);
        Adversary::new(&n.storage, n.identity_seed, group)
    }
}
