//! The fuzz harness is not vacuous: the recorded session's state, keys and captures do what the
//! stateful targets rely on. Run with `cargo +nightly test --release` in `fuzz/`.

use demls::internals::mls::{MlsParams, MlsState, decode_welcome};
use demls::internals::txn::Txn;
use demls::internals::wire::{Kind, sealed};
use demls_fuzz::session::{Net, copy_store};
use demls_fuzz::traffic::recorded;

#[test]
fn the_recorded_joiner_joins_with_the_recorded_welcome_and_tree() {
    let traffic = recorded();
    let j = &traffic.joiner;
    let (welcome, refs) = decode_welcome(&j.welcome).unwrap();
    assert!(!refs.is_empty());
    let store = copy_store(&j.store);
    let txn = Txn::new(&store);
    let crypto = demls::internals::mls::Crypto::default();
    let provider = crypto.provider(&txn);
    let (state, _) = MlsState::join(
        &provider,
        welcome,
        &j.tree,
        &MlsParams::default(),
        &traffic.group,
    )
    .unwrap();
    assert_eq!(state.roster().ids().count(), 3);
}

#[test]
fn every_recorded_sealed_envelope_opens_with_the_recorded_keys() {
    let traffic = recorded();
    let opened = traffic.opened(usize::MAX);
    let sealed_kinds = [
        Kind::Commit,
        Kind::Consensus,
        Kind::Control,
        Kind::Certificate,
    ];
    let mut count = 0;
    for o in opened.iter().filter(|o| sealed_kinds.contains(&o.kind)) {
        assert!(
            o.plain.is_some(),
            "{:?} of epoch {} opens",
            o.kind,
            o.envelope.epoch
        );
        count += 1;
    }
    assert!(count > 10, "the session sealed {count} envelopes");
    assert!(traffic.start_epoch >= 2);
    assert!(traffic.keys.contains_key(&(traffic.start_epoch - 1)));
    let _ = sealed::SEAL_NONCE_LEN;
}

#[test]
fn a_restored_group_converges_and_removes_a_member() {
    let traffic = recorded();
    let g = &traffic.group;
    for remove in [false, true] {
        let mut s = Net::restore(&traffic.start);
        s.run(60_000);
        let id = s.send(0, g, b"hello");
        s.run(10_000);
        let honest: &[usize] = if remove {
            let target = s.id(2);
            s.propose_remove(1, g, target);
            s.run(120_000);
            &[0, 1]
        } else {
            &[0, 1, 2]
        };
        assert_eq!(
            s.assert_converged(g, honest),
            traffic.start_epoch + u64::from(remove)
        );
        for &i in &honest[1..] {
            assert!(s.received(i, g).contains_key(&id));
        }
    }
}
