//! The storage suite's end-to-end case: a two-member OpenMLS group whose whole state lives in
//! the backend under test.
//!
//! Every step runs in its own [`Txn`] that is committed, and group state is reloaded with
//! [`MlsState::load`] at the start of every step, so every OpenMLS entity is written through
//! the backend, read back from it and decoded. This module only drives [`crate::mls`]; it
//! checks no engine behaviour.

use std::sync::Arc;

use crate::mls::Crypto;

use crate::identity::Identity;
use crate::mls::{
    GENESIS_LEN, MlsParams, MlsState, Processed, Provider, decode_welcome, new_key_package,
    validate_key_package,
};
use crate::storage::{Space, Storage};
use crate::txn::Txn;
use crate::types::GroupId;

/// Runs `f` in one committed transaction over `store`.
fn step<T>(store: &dyn Storage, f: impl FnOnce(&Provider) -> T) -> T {
    let crypto = Crypto::default();
    let txn = Txn::new(store);
    let out = f(&Provider::new(&crypto, &txn));
    if let Err(e) = txn.commit() {
        panic!("committing an MLS step failed: {e}");
    }
    out
}

fn load(p: &Provider, gid: &GroupId) -> MlsState {
    MlsState::load(p, gid).unwrap_or_else(|e| panic!("reloading the group failed: {e}"))
}

/// Alice creates a group in one store and adds Bob (KeyPackage, commit, Welcome and a separately
/// exported ratchet tree), who joins from his own store; they exchange application messages both
/// ways; Alice removes Bob, and Bob sees himself removed. Every step reloads state from the
/// backend.
pub fn an_mls_group_round_trips_through_the_store(open: &dyn Fn() -> Arc<dyn Storage>) {
    let crypto = Crypto::default();
    let params = MlsParams::default();
    let gid = GroupId::new(b"conformance".to_vec()).expect("a valid group id");
    let alice = Identity::from_seed([0xa1; 32]).expect("a valid seed");
    let bob = Identity::from_seed([0xb0; 32]).expect("a valid seed");
    let (sa, sb) = (open(), open());
    let (sa, sb) = (sa.as_ref(), sb.as_ref());

    step(sa, |p| {
        MlsState::create(p, &alice, &gid, &[7; GENESIS_LEN], &params, now())
            .expect("alice creates the group")
    });
    assert!(
        !sa.scan_prefix(Space::Mls, b"").expect("scan").is_empty(),
        "creating a group wrote nothing to the Mls space"
    );
    let kp = step(sb, |p| {
        new_key_package(p, &bob, now()).expect("bob's key package")
    });
    let valid = validate_key_package(&crypto, &kp.message).expect("bob's key package is valid");

    let (commit, tree, alice_auth) = step(sa, |p| {
        let mut g = load(p, &gid);
        let out = g
            .commit(
                p,
                &alice,
                vec![valid.key_package.clone()],
                vec![],
                Vec::new(),
                None,
            )
            .expect("alice commits the add");
        g.merge_pending(p).expect("alice merges her commit");
        (
            out,
            g.export_tree().expect("tree export"),
            g.epoch_authenticator(),
        )
    });
    let welcome = commit.welcome.expect("adding a member produces a Welcome");
    let (welcome, refs) = decode_welcome(&welcome).expect("the Welcome decodes");
    assert_eq!(
        refs,
        vec![kp.reference.clone()],
        "the Welcome is not for bob's key package"
    );
    step(sb, |p| {
        MlsState::join(p, welcome, &tree, &params, &gid)
            .expect("bob joins from the Welcome")
            .0
    });
    let bob_auth = step(sb, |p| load(p, &gid).epoch_authenticator());
    assert_eq!(alice_auth, bob_auth, "alice and bob disagree on the epoch");

    let send = |store: &dyn Storage, who: &Identity, text: &[u8]| {
        step(store, |p| {
            load(p, &gid).encrypt(p, who, text).expect("encrypt")
        })
    };
    let receive = |store: &dyn Storage, ciphertext: &[u8]| {
        step(store, |p| {
            let mut g = load(p, &gid);
            let (msg, _, _) = MlsState::peek(ciphertext).expect("peek");
            match g.process(p, msg).expect("process an application message") {
                Processed::Application {
                    sender_leaf,
                    plaintext,
                } => (sender_leaf, plaintext),
                _ => panic!("expected an application message"),
            }
        })
    };
    for round in 0..3u8 {
        let text = [b"to bob #".as_slice(), &[b'0' + round]].concat();
        let ct = send(sa, &alice, &text);
        assert_eq!(receive(sb, &ct), (0, text));
        let text = [b"to alice #".as_slice(), &[b'0' + round]].concat();
        let ct = send(sb, &bob, &text);
        assert_eq!(receive(sa, &ct), (1, text));
    }

    let removal = step(sa, |p| {
        let mut g = load(p, &gid);
        let out = g
            .commit(p, &alice, vec![], vec![1], Vec::new(), None)
            .expect("alice commits the removal");
        g.merge_pending(p).expect("alice merges the removal");
        out
    });
    assert_eq!(step(sa, |p| load(p, &gid).roster().len()), 1);
    step(sb, |p| {
        let mut g = load(p, &gid);
        let (msg, _, _) = MlsState::peek(&removal.commit).expect("peek");
        let Processed::Commit { staged, .. } = g.process(p, msg).expect("process the removal")
        else {
            panic!("expected a commit");
        };
        g.merge_staged(p, *staged).expect("bob merges his removal");
    });
    assert!(
        !step(sb, |p| load(p, &gid).is_active()),
        "bob's reloaded state does not show him removed"
    );
}

/// Wall-clock time: OpenMLS checks KeyPackage lifetimes against the system clock.
fn now() -> crate::types::Timestamp {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}
