//! `wire::decode_frame` (the plaintext of MLS application messages and sealed control frames):
//! never panics; a decoded frame round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = demls::internals::wire::decode_frame(data) {
        demls_fuzz::assert_prost_round_trip(&frame);
        let again = demls::internals::wire::decode_frame(&demls::internals::wire::encode(&frame)).expect("re-decodes");
        assert_eq!(again, frame);
    }
});
