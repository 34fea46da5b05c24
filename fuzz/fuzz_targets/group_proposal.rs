//! `wire::decode_group_proposal` (the payload of a voting proposal): never panics; a decoded
//! proposal round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(proposal) = demls::internals::wire::decode_group_proposal(data) {
        demls_fuzz::assert_prost_round_trip(&proposal);
        let again = demls::internals::wire::decode_group_proposal(&demls::internals::wire::encode(&proposal))
            .expect("re-decodes");
        assert_eq!(again, proposal);
    }
});
