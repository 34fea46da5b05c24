//! `wire::decode_commit_info` (a commit's authenticated data): never panics; a decoded value
//! round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = demls::wire::decode_commit_info(data) {
        demls_fuzz::assert_prost_round_trip(&info);
        let again =
            demls::wire::decode_commit_info(&demls::wire::encode(&info)).expect("re-decodes");
        assert_eq!(again, info);
    }
});
