//! The MLS wrapper end to end over the KV-backed storage provider: every step runs in its own
//! transaction that is committed, and state is reloaded from storage between steps, so the
//! postcard encoding of every OpenMLS entity is exercised.

use crate::mls::Crypto;

use super::*;
use crate::identity::Identity;
use crate::testing::MapStorage;
use crate::txn::Txn;
use crate::types::GroupId;

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
        MlsState::create(p, &alice, &gid, &params, now()).unwrap()
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
        let (group, policy_state) = MlsState::join(p, welcome, &tree, &params).unwrap();
        assert_eq!(
            policy_state.as_deref(),
            Some(&b"policy state"[..]),
            "carried in the GroupInfo"
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

/// Wall-clock time: OpenMLS checks KeyPackage lifetimes against the system clock.
fn now() -> crate::types::Timestamp {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}
