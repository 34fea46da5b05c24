//! `wire::decode_fork_notice`: never panics; a decoded notice round-trips; the sealed commit
//! and verdict it carries are opened under the fixed key (header parsing of sealed bodies).
#![no_main]

use demls::internals::wire::sealed;
use demls_fuzz::{FIXED_GROUP, FIXED_KEY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(notice) = demls::internals::wire::decode_fork_notice(data) else {
        return;
    };
    demls_fuzz::assert_prost_round_trip(&notice);
    let again = demls::internals::wire::decode_fork_notice(&demls::internals::wire::encode(&notice)).expect("re-decodes");
    assert_eq!(again, notice);
    let epoch = notice.commit_epoch;
    if let Ok(commit) = sealed::open(&FIXED_KEY, FIXED_GROUP, epoch, &notice.commit) {
        let _ = demls::internals::mls::MlsState::peek(&commit);
    }
    let _ = sealed::open_verdict(&FIXED_KEY, FIXED_GROUP, epoch, &notice.verdict);
});
