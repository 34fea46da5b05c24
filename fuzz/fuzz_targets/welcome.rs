//! What a joiner parses: the Welcome (`mls::decode_welcome`), the ratchet tree, and the join
//! itself (`MlsState::join`), for the joiner of the recorded session, whose KeyPackage keys are
//! in its stored state.
//!
//! The first byte picks what the rest is: 0 a Welcome (joined with the recorded tree), 1 a
//! ratchet tree (with the recorded Welcome), otherwise a two-byte big-endian length, then a
//! Welcome of that length and a tree. Nothing may panic; a decoded Welcome round-trips; a
//! parsed tree re-serializes to a tree that parses to the same; a successful join is into the
//! recorded group.
#![no_main]

use demls::internals::mls::{MlsParams, MlsState, decode_welcome};
use demls::internals::txn::Txn;
use demls_fuzz::session::copy_store;
use libfuzzer_sys::fuzz_target;
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::{MlsMessageOut, ProtocolVersion, RatchetTreeIn};

fuzz_target!(|data: &[u8]| {
    let traffic = demls_fuzz::traffic::recorded();
    let joiner = &traffic.joiner;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (welcome, tree) = match mode {
        0 => (rest, joiner.tree.as_slice()),
        1 => (joiner.welcome.as_slice(), rest),
        _ => {
            if rest.len() < 2 {
                return;
            }
            let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
            (&rest[2..2 + n], &rest[2 + n..])
        }
    };
    let _ = MlsState::peek(welcome);
    if let Ok(parsed) = RatchetTreeIn::tls_deserialize_exact(tree) {
        let bytes = parsed
            .tls_serialize_detached()
            .expect("a parsed tree serializes");
        let again = RatchetTreeIn::tls_deserialize_exact(bytes.as_slice()).expect("re-parses");
        assert_eq!(
            again.tls_serialize_detached().expect("serializes"),
            bytes,
            "tree serialization is stable"
        );
    }
    let Ok((decoded, refs)) = decode_welcome(welcome) else {
        return;
    };
    let bytes = MlsMessageOut::from_welcome(decoded.clone(), ProtocolVersion::Mls10)
        .tls_serialize_detached()
        .expect("a decoded Welcome serializes");
    let (again, again_refs) = decode_welcome(&bytes).expect("re-decodes");
    assert_eq!(
        (&again, &again_refs),
        (&decoded, &refs),
        "decode(encode(x)) == x"
    );

    let store = copy_store(&joiner.store);
    let txn = Txn::new(&store);
    let crypto = demls::internals::mls::Crypto::default();
    let provider = crypto.provider(&txn);
    let params = MlsParams::default();
    if let Ok((state, _policy)) = MlsState::join(&provider, decoded, tree, &params, &traffic.group)
    {
        assert!(state.roster().ids().count() >= 1);
    }
    // `txn` is dropped uncommitted.
});
