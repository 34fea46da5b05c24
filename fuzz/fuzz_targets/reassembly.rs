//! Segment reassembly (`Reassembler`): sequences of segments on three streams, interleaved
//! with time passing. Segments are either genuine (split from three messages the input
//! defines), forged (any field values, encoded as the protobuf and parsed like received ones),
//! or raw bytes through the parser. Tight limits make eviction and expiry happen.
//!
//! Checked after every segment: the buffered bytes and partial messages stay within the
//! limits; a completed payload hashes to its segment's hash, fits `max_payload` and carries a
//! tag given with a segment 0 of that message; a completed genuine hash gives the genuine
//! payload. At the end, every genuine message fed alone to a fresh reassembler, in an order the
//! input picks, completes exactly once with its payload.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use demls_transport_logos::{
    MAX_DATA_SEGMENTS, Reassembler, ReassemblyLimits, Segment, entire_hash, parse_segment,
    segment_payload,
};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// The lip-segmentation wire layout, to forge segments with any field values.
#[derive(Clone, PartialEq, prost::Message)]
struct SegmentProto {
    #[prost(bytes = "vec", tag = "1")]
    entire_message_hash: Vec<u8>,
    #[prost(uint32, tag = "2")]
    data_segment_index: u32,
    #[prost(uint32, tag = "3")]
    data_segment_count: u32,
    #[prost(bytes = "vec", tag = "4")]
    payload: Vec<u8>,
    #[prost(uint32, tag = "5")]
    parity_segment_index: u32,
    #[prost(uint32, tag = "6")]
    parity_segment_count: u32,
    #[prost(bool, tag = "7")]
    is_parity: bool,
}

const LIMITS: ReassemblyLimits = ReassemblyLimits {
    max_partials: 3,
    max_payload: 2_048,
    max_bytes: 3_000,
    timeout: Duration::from_secs(5),
};

struct Genuine {
    payload: Vec<u8>,
    /// The serialized segments.
    wire: Vec<Vec<u8>>,
    segments: Vec<Segment>,
}

fn genuine(u: &mut Unstructured<'_>) -> Result<Genuine> {
    let len = usize::from(u.arbitrary::<u16>()?) % 4_000;
    let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8 ^ 0x5a).collect();
    // `segment_payload` leaves the segment count limit to its caller.
    let size =
        (usize::from(u.arbitrary::<u16>()?) % 1_200 + 1).max(len.div_ceil(MAX_DATA_SEGMENTS));
    let wire = segment_payload(&payload, size);
    let segments = wire
        .iter()
        .map(|b| parse_segment(b).expect("split writes valid segments"))
        .collect();
    Ok(Genuine {
        payload,
        wire,
        segments,
    })
}

fn forged(u: &mut Unstructured<'_>, messages: &[Genuine]) -> Result<Vec<u8>> {
    let base = u.choose(messages)?;
    let hash = if u.arbitrary()? {
        entire_hash(&base.payload).to_vec()
    } else {
        u.arbitrary()?
    };
    let proto = SegmentProto {
        entire_message_hash: hash,
        data_segment_index: u.int_in_range(0..=300)?,
        data_segment_count: u.int_in_range(0..=300)?,
        payload: {
            let n = usize::from(u.arbitrary::<u16>()?) % 1_500;
            u.bytes(n.min(u.len()))?.to_vec()
        },
        parity_segment_index: u.int_in_range(0..=3)?,
        parity_segment_count: u.int_in_range(0..=3)?,
        is_parity: u.ratio(1, 8)?,
    };
    Ok(prost::Message::encode_to_vec(&proto))
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let messages = vec![genuine(u)?, genuine(u)?, genuine(u)?];
    let by_hash: BTreeMap<[u8; 32], &Vec<u8>> = messages
        .iter()
        .map(|m| (entire_hash(&m.payload), &m.payload))
        .collect();
    let start = Instant::now();
    let mut now = start;
    let mut r: Reassembler<u8, u32> = Reassembler::new(LIMITS);
    let mut tags: BTreeMap<(u8, [u8; 32]), BTreeSet<u32>> = BTreeMap::new();
    let mut step = 0u32;
    while !u.is_empty() && step < 2_000 {
        step += 1;
        let key: u8 = u.int_in_range(0..=2)?;
        let bytes = match u.int_in_range(0..=4)? {
            0 | 1 => {
                let m = u.choose(&messages)?;
                u.choose(&m.wire)?.clone()
            }
            2 => forged(u, &messages)?,
            3 => {
                let n = usize::from(u.arbitrary::<u8>()?);
                u.bytes(n.min(u.len()))?.to_vec()
            }
            _ => {
                now += Duration::from_millis(u64::from(u.arbitrary::<u16>()?));
                if u.arbitrary()? {
                    r.expire(now);
                }
                continue;
            }
        };
        let Ok(segment) = parse_segment(&bytes) else {
            continue;
        };
        let id = (key, segment.entire_hash);
        if segment.index == 0 {
            tags.entry(id).or_default().insert(step);
        }
        let hash = segment.entire_hash;
        if let Ok(Some(done)) = r.add(key, segment, step, now) {
            assert_eq!(
                entire_hash(&done.payload),
                hash,
                "completed payloads are verified"
            );
            assert!(done.payload.len() <= LIMITS.max_payload);
            assert!(
                tags.get(&id).is_some_and(|t| t.contains(&done.tag)),
                "the tag comes from a segment 0 of this message"
            );
            if let Some(expected) = by_hash.get(&hash) {
                assert_eq!(
                    &&done.payload, expected,
                    "a genuine hash gives the genuine payload"
                );
            }
        }
        assert!(r.buffered_bytes() <= LIMITS.max_bytes, "byte budget");
        assert!(r.partial_count() <= LIMITS.max_partials, "partial budget");
    }

    // Completeness: each genuine message alone, in an order the input picks.
    for m in &messages {
        if m.payload.len() > LIMITS.max_payload || m.segments.len() > MAX_DATA_SEGMENTS {
            continue;
        }
        let mut order: Vec<usize> = (0..m.segments.len()).collect();
        for i in (1..order.len()).rev() {
            let j = u.int_in_range(0..=i).unwrap_or(0);
            order.swap(i, j);
        }
        let mut fresh: Reassembler<u8, u32> = Reassembler::new(LIMITS);
        let mut completed = Vec::new();
        for (n, &i) in order.iter().enumerate() {
            let out = fresh
                .add(0, m.segments[i].clone(), i as u32, start)
                .expect("a genuine segment within the limits is accepted");
            if let Some(done) = out {
                assert_eq!(n + 1, order.len(), "completes with its last segment");
                assert_eq!(done.tag, 0, "the tag of segment 0");
                completed.push(done.payload);
            }
        }
        assert_eq!(completed, vec![m.payload.clone()], "completes exactly once");
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
