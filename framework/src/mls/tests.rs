//! The MLS wrapper end to end over the KV-backed storage provider: every step runs in its own
//! transaction that is committed, and state is reloaded from storage between steps, so the
//! postcard encoding of every OpenMLS entity is exercised.

use crate::mls::Crypto;

use super::group::{CIPHERSUITE, CommitOutline};
use super::store::MlsStore;
use super::*;
use crate::identity::Identity;
use crate::storage::Storage as _;
use crate::testing::MapStorage;
use crate::txn::Txn;
use crate::types::GroupId;
use openmls_traits::OpenMlsProvider as _;

fn step<T>(store: &MapStorage, f: impl FnOnce(&Provider) -> T) -> T {
    let crypto = Crypto::default();
    let txn = Txn::new(store);
    let out = f(&Provider::new(&crypto, &txn));
    txn.commit().unwrap();
    out
}

#[test]
fn create_add_join_message_and_remove_through_kv_storage() {
    let crypto = Crypto::default();
    let params = MlsParams::default();
    let gid = GroupId::new(b"g".to_vec()).unwrap();
    let (alice, bob) = (
        Identity::from_seed([1; 32]).unwrap(),
        Identity::from_seed([2; 32]).unwrap(),
    );
    let (sa, sb) = (MapStorage::default(), MapStorage::default());

    step(&sa, |p| {
        MlsState::create(p, &alice, &gid, &[7; GENESIS_LEN], &params, now()).unwrap()
    });
    let kp = step(&sb, |p| new_key_package(p, &bob, now()).unwrap());
    let valid = validate_key_package(&crypto, &kp.message).unwrap();
    assert_eq!(valid.member_id, bob.member_id());
    assert_eq!(valid.reference, kp.reference);

    let (out, tree, auth_a) = step(&sa, |p| {
        let mut g = MlsState::load(p, &gid).unwrap();
        let out = g
            .commit(
                p,
                &alice,
                vec![valid.key_package.clone()],
                vec![],
                b"info".to_vec(),
                Some(b"policy state".to_vec()),
            )
            .unwrap();
        g.merge_pending(p).unwrap();
        // The roster reports the added leaf's key as the KeyPackage carried it (how a replayed
        // rejoin KeyPackage is recognized).
        let bob_entry = g.roster().get(&bob.member_id()).cloned().unwrap();
        assert_eq!(
            bob_entry.encryption_key,
            leaf_encryption_key(&valid.key_package)
        );
        assert!(!bob_entry.encryption_key.is_empty());
        (out, g.export_tree().unwrap(), g.epoch_authenticator())
    });
    let (welcome, refs) = decode_welcome(out.welcome.as_ref().unwrap()).unwrap();
    assert_eq!(refs, vec![kp.reference.clone()]);
    let auth_b = step(&sb, |p| {
        let (group, policy_state) = MlsState::join(p, welcome, &tree, &params, &gid).unwrap();
        assert_eq!(
            policy_state.as_deref(),
            Some(&b"policy state"[..]),
            "carried in the GroupInfo"
        );
        assert_eq!(
            group.genesis(),
            Some([7; GENESIS_LEN]),
            "the joiner has the genesis"
        );
        group.epoch_authenticator()
    });
    assert_eq!(auth_a, auth_b);

    // Alice -> Bob and Bob -> Alice, each on freshly loaded state.
    let ct = step(&sa, |p| {
        MlsState::load(p, &gid)
            .unwrap()
            .encrypt(p, &alice, b"hi bob")
            .unwrap()
    });
    let got = step(&sb, |p| {
        let mut g = MlsState::load(p, &gid).unwrap();
        let (msg, group, epoch) = MlsState::peek(&ct).unwrap();
        assert_eq!((group.as_slice(), epoch), (&b"g"[..], 1));
        match g.process(p, msg).unwrap() {
            Processed::Application {
                sender_leaf,
                plaintext,
            } => (sender_leaf, plaintext),
            _ => panic!("expected an application message"),
        }
    });
    assert_eq!(got, (0, b"hi bob".to_vec()));

    // Alice removes Bob; Bob processes the commit and sees himself removed.
    let out = step(&sa, |p| {
        let mut g = MlsState::load(p, &gid).unwrap();
        let out = g.commit(p, &alice, vec![], vec![1], vec![], None).unwrap();
        g.merge_pending(p).unwrap();
        assert_eq!(g.roster().len(), 1);
        out
    });
    // Read without processing, the commit names the same committer and removal.
    assert_eq!(
        commit_outline(&out.commit).unwrap(),
        CommitOutline {
            sender_leaf: 0,
            removed_leaves: vec![1]
        }
    );
    assert!(commit_outline(&out.commit[..out.commit.len() - 1]).is_err());
    step(&sb, |p| {
        let mut g = MlsState::load(p, &gid).unwrap();
        let (msg, _, _) = MlsState::peek(&out.commit).unwrap();
        let Processed::Commit {
            sender_leaf,
            staged,
            ..
        } = g.process(p, msg).unwrap()
        else {
            panic!("expected a commit")
        };
        assert_eq!(sender_leaf, 0);
        let changes = MlsState::changes(&crypto, &staged).unwrap();
        assert_eq!(changes.removed_leaves, vec![1]);
        assert!(!changes.has_other_proposals);
        g.merge_staged(p, *staged).unwrap();
        assert!(!g.is_active());
    });
}

/// Alice's and Bob's storage with both in group `g` (epoch 1).
fn pair() -> (MapStorage, MapStorage, GroupId, Identity, Identity) {
    let crypto = Crypto::default();
    let params = MlsParams::default();
    let gid = GroupId::new(b"g".to_vec()).unwrap();
    let (alice, bob) = (
        Identity::from_seed([1; 32]).unwrap(),
        Identity::from_seed([2; 32]).unwrap(),
    );
    let (sa, sb) = (MapStorage::default(), MapStorage::default());
    step(&sa, |p| {
        MlsState::create(p, &alice, &gid, &[7; GENESIS_LEN], &params, now()).unwrap()
    });
    let kp = step(&sb, |p| new_key_package(p, &bob, now()).unwrap());
    let valid = validate_key_package(&crypto, &kp.message).unwrap();
    let (out, tree) = step(&sa, |p| {
        let mut g = MlsState::load(p, &gid).unwrap();
        let out = g
            .commit(p, &alice, vec![valid.key_package], vec![], vec![], None)
            .unwrap();
        g.merge_pending(p).unwrap();
        (out, g.export_tree().unwrap())
    });
    let (welcome, _) = decode_welcome(out.welcome.as_ref().unwrap()).unwrap();
    step(&sb, |p| {
        MlsState::join(p, welcome, &tree, &params, &gid).unwrap()
    });
    (sa, sb, gid, alice, bob)
}

fn send(store: &MapStorage, gid: &GroupId, who: &Identity, text: &[u8]) -> Vec<u8> {
    step(store, |p| {
        MlsState::load(p, gid)
            .unwrap()
            .encrypt(p, who, text)
            .unwrap()
    })
}

/// Processes `ct` in a step of its own on freshly loaded state.
fn receive(store: &MapStorage, gid: &GroupId, ct: &[u8]) -> Result<Vec<u8>, MlsError> {
    step(store, |p| {
        let mut g = MlsState::load(p, gid).unwrap();
        let (msg, _, _) = MlsState::peek(ct).unwrap();
        match g.process(p, msg)? {
            Processed::Application { plaintext, .. } => Ok(plaintext),
            _ => panic!("expected an application message"),
        }
    })
}

fn journal_len(store: &MapStorage) -> usize {
    store
        .scan_prefix(crate::storage::Space::Mls, b"ratchet_journal\x1f")
        .unwrap()
        .len()
}

#[test]
fn received_messages_are_journaled_and_replayed_when_the_group_is_loaded() {
    let (sa, sb, gid, alice, bob) = pair();
    let sent: Vec<Vec<u8>> = (0..5u8)
        .map(|i| send(&sa, &gid, &alice, &[i; 10]))
        .collect();
    for (i, ct) in sent.iter().enumerate() {
        assert_eq!(receive(&sb, &gid, ct).unwrap(), vec![i as u8; 10]);
    }
    assert_eq!(journal_len(&sb), 5, "one entry per received message");
    // Every step above loaded the group afresh, so the journal was replayed each time: a
    // message received before is refused (its key is gone), as it would be without a journal.
    assert!(matches!(
        receive(&sb, &gid, &sent[2]),
        Err(MlsError::Rejected(_))
    ));
    assert_eq!(journal_len(&sb), 5, "a refused message is not journaled");
    let later = send(&sa, &gid, &alice, b"later");
    assert_eq!(receive(&sb, &gid, &later).unwrap(), b"later");
    // Sending writes the secrets in full, which makes the journal redundant.
    let reply = send(&sb, &gid, &bob, b"reply");
    assert_eq!(journal_len(&sb), 0);
    assert_eq!(receive(&sa, &gid, &reply).unwrap(), b"reply");
    assert!(receive(&sb, &gid, &sent[4]).is_err(), "still consumed");
}

#[test]
fn the_journal_is_folded_into_the_stored_secrets_every_checkpoint() {
    let (sa, sb, gid, alice, _) = pair();
    let total = super::journal::CHECKPOINT_AFTER + 3;
    let sent: Vec<Vec<u8>> = (0..total)
        .map(|i| send(&sa, &gid, &alice, &(i as u32).to_be_bytes()))
        .collect();
    for ct in &sent {
        receive(&sb, &gid, ct).unwrap();
    }
    assert_eq!(journal_len(&sb), 3);
    for ct in [&sent[0], &sent[total - 1]] {
        assert!(
            receive(&sb, &gid, ct).is_err(),
            "consumed keys stay consumed"
        );
    }
}

#[test]
fn past_epoch_member_lists_are_stored_once_and_old_records_still_load() {
    use crate::storage::{Space, Storage, WriteBatch};
    let (sa, sb, gid, alice, _) = pair();
    // Epoch 2: epoch 1 becomes a past epoch, whose member list is cut out of the record.
    let out = step(&sa, |p| {
        let mut g = MlsState::load(p, &gid).unwrap();
        let out = g.commit(p, &alice, vec![], vec![], vec![], None).unwrap();
        g.merge_pending(p).unwrap();
        out
    });
    step(&sb, |p| {
        let mut g = MlsState::load(p, &gid).unwrap();
        let (msg, _, _) = MlsState::peek(&out.commit).unwrap();
        let Processed::Commit { staged, .. } = g.process(p, msg).unwrap() else {
            panic!("expected a commit")
        };
        g.merge_staged(p, *staged).unwrap();
    });
    let lists = sb
        .scan_prefix(Space::Mls, b"message_secrets_list\x1f")
        .unwrap();
    assert_eq!(lists.len(), 1, "epoch 1's member list, once");
    let ct = send(&sa, &gid, &alice, b"epoch 2");
    assert_eq!(receive(&sb, &gid, &ct).unwrap(), b"epoch 2");

    // A store written before the split encoding (one record) still loads.
    let plain = step(&sb, |p| {
        let store = p.storage();
        let key = |label: &[u8]| MlsStore::key(label, &openmls::prelude::GroupId::from_slice(b"g"));
        let holes: Vec<super::secrets::Hole> = postcard::from_bytes(
            &store
                .txn()
                .get(Space::Mls, &key(b"message_secrets_holes").unwrap())
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        let body = store
            .txn()
            .get(Space::Mls, &key(b"message_secrets_body").unwrap())
            .unwrap()
            .unwrap();
        let list = lists[0].1.clone();
        let joined =
            super::secrets::join(&body, &holes, |_| Ok::<_, ()>(list.clone()), |_| ()).unwrap();
        (
            key(b"message_secrets").unwrap(),
            key(b"message_secrets_holes").unwrap(),
            key(b"message_secrets_body").unwrap(),
            joined,
        )
    });
    let mut batch = WriteBatch::new();
    batch.put(Space::Mls, plain.0, plain.3);
    batch.delete(Space::Mls, plain.1);
    batch.delete(Space::Mls, plain.2);
    batch.delete_prefix(Space::Mls, b"message_secrets_list".to_vec());
    batch.delete_prefix(Space::Mls, b"ratchet_journal".to_vec());
    sb.apply(batch).unwrap();
    let ct = send(&sa, &gid, &alice, b"after migration");
    assert_eq!(receive(&sb, &gid, &ct).unwrap(), b"after migration");
    // The next full write replaces the old record by the split one.
    send(&sb, &gid, &Identity::from_seed([2; 32]).unwrap(), b"x");
    assert!(
        sb.scan_prefix(Space::Mls, b"message_secrets\x1f")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        sb.scan_prefix(Space::Mls, b"message_secrets_list\x1f")
            .unwrap()
            .len(),
        1
    );
}

/// Bytes stored under `prefix` in the MLS space, by key.
fn stored(store: &MapStorage, prefix: &[u8]) -> std::collections::BTreeMap<Vec<u8>, usize> {
    store
        .scan_prefix(crate::storage::Space::Mls, prefix)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.len()))
        .collect()
}

/// The tree is stored as content-defined chunks: a commit with an UpdatePath in a group of
/// 2,000 writes a small part of it (1–5 % in trials: its path's 11 parent nodes touch a chunk
/// or two each; the bound is 12.5 %), the group reloads from the chunks, and a tree stored whole by
/// an older version still loads and is replaced by chunks at the next write.
#[test]
fn a_commit_stores_the_chunks_of_the_tree_it_changed_and_old_whole_trees_still_load() {
    let crypto = Crypto::default();
    let params = MlsParams::default();
    let gid = GroupId::new(b"g".to_vec()).unwrap();
    let alice = Identity::from_seed([1; 32]).unwrap();
    let store = MapStorage::default();
    step(&store, |p| {
        MlsState::create(p, &alice, &gid, &[7; GENESIS_LEN], &params, now()).unwrap()
    });
    let others = MapStorage::default();
    let kps: Vec<_> = (0..1999u16)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..2].copy_from_slice(&i.to_be_bytes());
            let who = Identity::from_seed(seed).unwrap();
            let kp = step(&others, |p| new_key_package(p, &who, now()).unwrap());
            validate_key_package(&crypto, &kp.message)
                .unwrap()
                .key_package
        })
        .collect();
    let commit = |store: &MapStorage, adds| {
        step(store, |p| {
            let mut g = MlsState::load(p, &gid).unwrap();
            g.commit(p, &alice, adds, vec![], vec![], None).unwrap();
            g.merge_pending(p).unwrap();
            g.epoch_authenticator()
        })
    };
    commit(&store, kps);
    let before = stored(&store, b"tree_chunk");
    let whole: usize = before.values().sum();
    assert!(whole > 300_000, "a tree of 2,000 leaves: {whole} bytes");
    let auth = commit(&store, vec![]);
    let after = stored(&store, b"tree_chunk");
    let written: usize = after
        .iter()
        .filter(|(k, _)| !before.contains_key(*k))
        .map(|(_, v)| v)
        .sum();
    assert!(written > 0, "the path changed some chunks");
    assert!(
        written * 8 < whole,
        "wrote {written} of {whole} bytes of tree"
    );
    // Exactly the chunks the manifest lists are stored: the replaced ones are gone.
    let manifest = store
        .scan_prefix(crate::storage::Space::Mls, b"tree_manifest")
        .unwrap();
    let manifest: super::chunks::Manifest = postcard::from_bytes(&manifest[0].1).unwrap();
    let listed: std::collections::BTreeSet<[u8; super::chunks::DIGEST_LEN]> =
        manifest.chunks.into_iter().collect();
    let kept: std::collections::BTreeSet<[u8; super::chunks::DIGEST_LEN]> = after
        .keys()
        .map(|k| k[k.len() - super::chunks::DIGEST_LEN..].try_into().unwrap())
        .collect();
    assert_eq!(listed, kept);
    let reloaded = step(&store, |p| {
        MlsState::load(p, &gid).unwrap().epoch_authenticator()
    });
    assert_eq!(reloaded, auth);

    // An older version's record: the tree whole under its own key, no manifest.
    let value = step(&store, |p| {
        let tree: Option<openmls::treesync::TreeSync> =
            openmls_traits::storage::StorageProvider::tree(
                p.storage(),
                &openmls::group::GroupId::from_slice(gid.as_bytes()),
            )
            .unwrap();
        postcard::to_allocvec(&tree.unwrap()).unwrap()
    });
    let txn = Txn::new(&store);
    for (k, _) in stored(&store, b"tree_") {
        txn.delete(crate::storage::Space::Mls, k);
    }
    let key = store::MlsStore::key(
        b"tree",
        &openmls::group::GroupId::from_slice(gid.as_bytes()),
    )
    .unwrap();
    txn.put(crate::storage::Space::Mls, key.clone(), value);
    txn.commit().unwrap();
    assert!(stored(&store, b"tree_").is_empty());
    let reloaded = step(&store, |p| {
        MlsState::load(p, &gid).unwrap().epoch_authenticator()
    });
    assert_eq!(reloaded, auth, "the whole-tree record loads");
    commit(&store, vec![]);
    assert!(!stored(&store, b"tree_chunk").is_empty());
    assert!(stored(&store, &key).is_empty(), "replaced by chunks");
}

/// Wall-clock time: OpenMLS checks KeyPackage lifetimes against the system clock.
fn now() -> crate::types::Timestamp {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}

#[test]
fn a_key_package_that_cannot_hold_the_genesis_is_refused() {
    use openmls::prelude::tls_codec::Serialize as _;
    use openmls::prelude::{BasicCredential, CredentialWithKey, KeyPackage, MlsMessageOut};
    let crypto = Crypto::default();
    let store = MapStorage::default();
    let carol = Identity::from_seed([3; 32]).unwrap();
    // Built the way another implementation would: default capabilities, no genesis extension.
    let message = step(&store, |p| {
        let credential = CredentialWithKey {
            credential: BasicCredential::new(carol.member_id().as_bytes().to_vec()).into(),
            signature_key: carol.public_key().to_vec().into(),
        };
        let bundle = KeyPackage::builder()
            .build(CIPHERSUITE, p, &carol, credential)
            .unwrap();
        MlsMessageOut::from(bundle.key_package().clone())
            .tls_serialize_detached()
            .unwrap()
    });
    let err = validate_key_package(&crypto, &message).unwrap_err();
    assert!(
        matches!(&err, MlsError::InvalidKeyPackage(d) if d.contains("genesis")),
        "{err}"
    );
    // Ours declare it, and validate.
    let ours = step(&store, |p| new_key_package(p, &carol, now()).unwrap());
    validate_key_package(&crypto, &ours.message).unwrap();
}
