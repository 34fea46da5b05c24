//! Sealed bodies (`wire::sealed`) under a fixed key, group and epoch.
//!
//! The first byte picks the mode. Below 0x80 the rest is a sealed body: every `open*` parses
//! its header (length, nonce, the proposal id of a certificate part) and authenticates it;
//! whatever opens (seeds sealed under the fixed key do) goes to the decoder the engine uses
//! after opening that kind. From 0x80 the rest is a plaintext: it is sealed in the domain
//! `first byte % 6`, must open back to itself and in no other domain, must not open once
//! truncated or under another epoch, and then goes to that domain's decoder.
#![no_main]

use consensus_hashgraph::ConsensusMessage;
use demls::internals::wire::sealed::{self, PROPOSAL_ID_LEN, SEAL_NONCE_LEN};
use demls_fuzz::{FIXED_GROUP as G, FIXED_KEY as K};
use libfuzzer_sys::fuzz_target;

const EPOCH: u64 = 7;
const NONCE: [u8; SEAL_NONCE_LEN] = [3; SEAL_NONCE_LEN];

/// The decoders the engine applies to an opened body of each domain.
fn after_open(domain: u8, plain: &[u8]) {
    match domain {
        // A commit: an MLS message, peeked for its group and epoch.
        0 => {
            let _ = demls::internals::mls::MlsState::peek(plain);
        }
        // A certificate part or a consensus message.
        1 | 2 => {
            if let Ok(m) = ConsensusMessage::decode(plain) {
                assert_eq!(ConsensusMessage::decode(&m.encode()).ok(), Some(m));
            }
        }
        // A control frame.
        3 => {
            if let Ok(f) = demls::internals::wire::decode_frame(plain) {
                demls_fuzz::assert_prost_round_trip(&f);
            }
        }
        _ => {}
    }
}

/// Every opener on `body`; returns the domains it opened in.
fn open_all(body: &[u8], epoch: u64) -> Vec<u8> {
    let mut opened = Vec::new();
    if let Ok(p) = sealed::open(&K, G, epoch, body) {
        after_open(0, &p);
        opened.push(0);
    }
    match sealed::certificate_proposal(body) {
        Ok(id) => assert_eq!(&id[..], &body[..PROPOSAL_ID_LEN]),
        Err(_) => assert!(body.len() < PROPOSAL_ID_LEN),
    }
    if let Ok((id, p)) = sealed::open_certificate(&K, G, epoch, body) {
        assert_eq!(&id[..], &body[..PROPOSAL_ID_LEN]);
        after_open(1, &p);
        opened.push(1);
    }
    if let Ok(p) = sealed::open_consensus(&K, G, epoch, body) {
        after_open(2, &p);
        opened.push(2);
    }
    if let Ok(p) = sealed::open_control(&K, G, epoch, body) {
        after_open(3, &p);
        opened.push(3);
    }
    if sealed::open_catch_up(&K, G, epoch, body).is_ok() {
        opened.push(4);
    }
    if sealed::open_verdict(&K, G, epoch, body).is_ok() {
        opened.push(5);
    }
    opened
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode < 0x80 {
        let opened = open_all(rest, EPOCH);
        assert!(
            opened.len() <= 1,
            "one body opened in several domains: {opened:?}"
        );
        return;
    }
    let domain = mode % 6;
    let id: [u8; PROPOSAL_ID_LEN] = [mode; PROPOSAL_ID_LEN];
    let body = match domain {
        0 => sealed::seal(&K, G, EPOCH, NONCE, rest),
        1 => sealed::seal_certificate(&K, G, EPOCH, &id, NONCE, rest),
        2 => sealed::seal_consensus(&K, G, EPOCH, NONCE, rest),
        3 => sealed::seal_control(&K, G, EPOCH, NONCE, rest),
        4 => sealed::seal_catch_up(&K, G, EPOCH, NONCE, rest.first().copied().unwrap_or(0)),
        _ => {
            let mut epoch = [0u8; 8];
            let n = rest.len().min(8);
            epoch[..n].copy_from_slice(&rest[..n]);
            sealed::seal_verdict(&K, G, EPOCH, NONCE, u64::from_be_bytes(epoch))
        }
    };
    assert_eq!(
        open_all(&body, EPOCH),
        vec![domain],
        "opens in its own domain only"
    );
    assert!(open_all(&body, EPOCH + 1).is_empty(), "bound to its epoch");
    assert!(
        open_all(&body[..body.len() - 1], EPOCH).is_empty(),
        "truncated"
    );
    match domain {
        0 => assert_eq!(
            sealed::open(&K, G, EPOCH, &body).ok().as_deref(),
            Some(rest)
        ),
        1 => {
            let (got_id, part) = sealed::open_certificate(&K, G, EPOCH, &body).expect("opens");
            assert_eq!((got_id, part.as_slice()), (id, rest));
        }
        2 => assert_eq!(
            sealed::open_consensus(&K, G, EPOCH, &body).ok().as_deref(),
            Some(rest)
        ),
        3 => assert_eq!(
            sealed::open_control(&K, G, EPOCH, &body).ok().as_deref(),
            Some(rest)
        ),
        4 => assert_eq!(
            sealed::open_catch_up(&K, G, EPOCH, &body).ok(),
            Some(rest.first().copied().unwrap_or(0))
        ),
        _ => assert!(sealed::open_verdict(&K, G, EPOCH, &body).is_ok()),
    }
});
