//! lip-segmentation segment parsing (`parse_segment`, the payload of every Waku message this
//! transport receives): never panics; a parsed segment satisfies the spec's validation rules;
//! its chunk, split again by `segment_payload`, gives segments that parse and name it.
#![no_main]

use demls_transport_logos::{
    ENTIRE_HASH_LEN, MAX_DATA_SEGMENTS, entire_hash, parse_segment, segment_payload,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(segment) = parse_segment(data) else {
        return;
    };
    assert!(segment.count >= 1 && segment.count as usize <= MAX_DATA_SEGMENTS);
    assert!(segment.index < segment.count);
    assert_eq!(segment.entire_hash.len(), ENTIRE_HASH_LEN);

    // The chunk as a payload of its own: split in one piece and in pieces of at most 7 bytes.
    let payload = &segment.payload;
    for size in [usize::MAX, 7] {
        let parts = segment_payload(payload, size);
        if parts.len() > MAX_DATA_SEGMENTS {
            continue;
        }
        let mut rebuilt = Vec::new();
        for (i, bytes) in parts.iter().enumerate() {
            let part = parse_segment(bytes).expect("split writes valid segments");
            assert_eq!(part.index as usize, i);
            assert_eq!(part.count as usize, parts.len());
            assert_eq!(part.entire_hash, entire_hash(payload));
            rebuilt.extend_from_slice(&part.payload);
        }
        assert_eq!(&rebuilt, payload, "split then parse keeps the bytes");
    }
    if segment.count == 1 && segment.entire_hash == entire_hash(payload) {
        let again = parse_segment(&segment_payload(payload, usize::MAX)[0]).expect("valid");
        assert_eq!(again, segment, "a whole message round-trips");
    }
});
