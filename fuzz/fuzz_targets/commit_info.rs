//! `wire::decode_commit_info` (a commit's authenticated data): never panics; a decoded value
//! round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = demls::internals::wire::decode_commit_info(data) {
        demls_fuzz::assert_prost_round_trip(&info);
        let again =
            demls::internals::wire::decode_commit_info(&demls::internals::wire::encode(&info)).expect("re-decodes");
        assert_eq!(again, info);
    }
});
