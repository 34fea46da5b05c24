//! A malicious or compromised member for bad-input tests: it works on a private *copy* of a
//! real member's storage, so it can decrypt, forge and commit as that member without touching
//! the real member's state.

use demls::mls::Crypto;
use demls::mls::{MlsState, Processed, Provider};
use demls::storage::{Space, Storage, WriteBatch};
use demls::txn::Txn;
use demls::wire::{self, CommitInfo, Envelope, Frame, Kind, frame, sealed};
use demls::{GroupId, Identity};
use demls_storage_memory::MemoryStorage;

pub struct Adversary {
    storage: MemoryStorage,
    identity: Identity,
    group: GroupId,
    crypto: Crypto,
}

/// A deep copy of a store (clones of a `MemoryStorage` share data).
pub fn snapshot(from: &MemoryStorage) -> MemoryStorage {
    let copy = MemoryStorage::new();
    let mut batch = WriteBatch::new();
    for space in Space::ALL {
        for (k, v) in from.scan_prefix(space, b"").unwrap() {
            batch.put(space, k, v);
        }
    }
    copy.apply(batch).unwrap();
    copy
}

impl Adversary {
    /// Impersonates member `i` (seed `seed`) of group `g`, from a copy of its storage.
    pub fn of(net: &super::Net, i: usize, g: &GroupId) -> Adversary {
        Adversary {
            storage: snapshot(&net.members[i].storage),
            identity: Identity::from_seed(super::seed(i)).unwrap(),
            group: g.clone(),
            crypto: Crypto::default(),
        }
    }

    fn with_group<T>(&self, f: impl FnOnce(&mut MlsState, &Provider) -> T) -> T {
        let txn = Txn::new(&self.storage);
        let provider = Provider::new(&self.crypto, &txn);
        let mut mls = MlsState::load(&provider, &self.group).unwrap();
        let out = f(&mut mls, &provider);
        txn.commit().unwrap();
        out
    }

    /// The current epoch of the copy.
    pub fn epoch(&self) -> u64 {
        self.with_group(|m, _| m.epoch())
    }

    /// Decrypts an `Mls` envelope published by another member and returns its frame.
    pub fn decrypt(&self, envelope: &[u8]) -> Frame {
        let (env, kind) = Envelope::decode_checked(envelope).unwrap();
        assert_eq!(kind, Kind::Mls);
        self.with_group(|mls, p| {
            let (msg, _, _) = MlsState::peek(&env.body).unwrap();
            match mls.process(p, msg).unwrap() {
                Processed::Application { plaintext, .. } => wire::decode_frame(&plaintext).unwrap(),
                _ => panic!("not an application message"),
            }
        })
    }

    /// Encrypts any frame as this member and wraps it in an `Mls` envelope.
    pub fn encrypt_frame(&self, f: &Frame) -> Vec<u8> {
        self.encrypt_bytes(&wire::encode(f))
    }

    /// Encrypts raw plaintext bytes (possibly not a frame at all).
    pub fn encrypt_bytes(&self, plaintext: &[u8]) -> Vec<u8> {
        self.with_group(|mls, p| {
            let ct = mls.encrypt(p, &self.identity, plaintext).unwrap();
            Envelope::new(Kind::Mls, self.group.as_bytes(), mls.epoch(), ct).encode_to_vec()
        })
    }

    /// Encrypts consensus bytes as this member.
    pub fn encrypt_consensus(&self, bytes: Vec<u8>) -> Vec<u8> {
        self.encrypt_frame(&Frame {
            body: Some(frame::Body::Consensus(bytes)),
        })
    }

    /// Moves the copy to the next epoch with an empty commit of its own (nobody else sees it).
    pub fn advance_epoch(&self) {
        self.with_group(|mls, p| {
            mls.commit(p, &self.identity, vec![], vec![], vec![], None)
                .unwrap();
            mls.merge_pending(p).unwrap();
        })
    }

    /// Builds a sealed commit removing `removes` (leaf indices) that names `proposals`.
    pub fn commit(&self, removes: Vec<u32>, proposals: Vec<[u8; 32]>) -> Vec<u8> {
        self.with_group(|mls, p| {
            let epoch = mls.epoch();
            let key = mls.commit_envelope_key(&self.crypto).unwrap();
            let info = CommitInfo {
                proposals: proposals.iter().map(|x| x.to_vec()).collect(),
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
                .unwrap();
            let body = sealed::seal(&key, self.group.as_bytes(), epoch, [9; 12], &out.commit);
            Envelope::new(Kind::Commit, self.group.as_bytes(), epoch, body).encode_to_vec()
        })
    }
}
