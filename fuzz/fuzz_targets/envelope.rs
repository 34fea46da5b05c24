//! `Envelope::decode_checked`: never panics; a decoded envelope round-trips.
#![no_main]

use demls::internals::wire::{Envelope, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((envelope, kind)) = Envelope::decode_checked(data) else {
        return;
    };
    assert_ne!(kind, Kind::Unspecified);
    assert_eq!(envelope.kind, kind as i32);
    assert!(!envelope.group_id.is_empty() && envelope.group_id.len() <= 255);
    demls_fuzz::assert_prost_round_trip(&envelope);
    let (back, back_kind) =
        Envelope::decode_checked(&envelope.encode_to_vec()).expect("a checked envelope re-decodes");
    assert_eq!((back, back_kind), (envelope, kind));
});
