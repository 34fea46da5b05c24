use super::*;

fn limits() -> ReassemblyLimits {
    ReassemblyLimits {
        max_partials: 4,
        max_payload: 5_000,
        max_bytes: 10_000,
        timeout: Duration::from_secs(10),
    }
}

fn segments(payload: &[u8], size: usize) -> Vec<Segment> {
    split(payload, size)
        .iter()
        .map(|s| parse(s).unwrap())
        .collect()
}

fn feed(
    r: &mut Reassembler<&'static str, u32>,
    segs: Vec<Segment>,
    now: Instant,
) -> Vec<Result<Option<Reassembled<u32>>, SegmentError>> {
    segs.into_iter()
        .map(|s| {
            let tag = s.index;
            r.add("t", s, tag, now)
        })
        .collect()
}

#[test]
fn the_entire_message_hash_is_keccak256() {
    assert_eq!(
        hex::encode(entire_hash(b"")),
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    );
}

#[test]
fn a_small_payload_is_one_segment_of_count_one() {
    let segs = segments(b"hello", 100);
    assert_eq!(segs.len(), 1);
    assert_eq!((segs[0].index, segs[0].count), (0, 1));
    let mut r = Reassembler::new(limits());
    let out = feed(&mut r, segs, Instant::now());
    assert_eq!(out[0].as_ref().unwrap().as_ref().unwrap().payload, b"hello");
}

#[test]
fn an_empty_payload_survives_as_one_empty_segment() {
    let segs = segments(b"", 100);
    assert_eq!(segs.len(), 1);
    let mut r = Reassembler::new(limits());
    let out = feed(&mut r, segs, Instant::now());
    assert!(
        out[0]
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap()
            .payload
            .is_empty()
    );
}

#[test]
fn segments_arriving_out_of_order_reassemble_with_segment_zeros_tag() {
    let payload: Vec<u8> = (0..1000u32).map(|i| (i % 256) as u8).collect();
    let mut segs = segments(&payload, 300);
    assert_eq!(segs.len(), 4);
    segs.reverse();
    let mut r = Reassembler::new(limits());
    let out = feed(&mut r, segs, Instant::now());
    assert!(out[..3].iter().all(|o| matches!(o, Ok(None))));
    let done = out[3].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(done.payload, payload);
    assert_eq!(done.tag, 0);
    assert_eq!((r.partial_count(), r.buffered_bytes()), (0, 0));
}

#[test]
fn a_forged_segment_fails_the_hash_check_instead_of_corrupting_the_payload() {
    let payload = vec![7u8; 900];
    let mut segs = segments(&payload, 300);
    segs[1].payload[0] ^= 1;
    let mut r = Reassembler::new(limits());
    let out = feed(&mut r, segs, Instant::now());
    assert_eq!(out[2], Err(SegmentError::HashMismatch));
    assert_eq!(r.partial_count(), 0);
}

#[test]
fn a_missing_segment_never_completes_and_times_out() {
    let mut segs = segments(&[1u8; 900], 300);
    segs.remove(1);
    let mut r = Reassembler::new(limits());
    let start = Instant::now();
    let out = feed(&mut r, segs, start);
    assert!(out.iter().all(|o| matches!(o, Ok(None))));
    assert_eq!(r.partial_count(), 1);
    r.expire(start + Duration::from_secs(11));
    assert_eq!((r.partial_count(), r.buffered_bytes()), (0, 0));
}

#[test]
fn duplicate_segments_are_counted_once() {
    let segs = segments(&[3u8; 600], 300);
    let mut r = Reassembler::new(limits());
    let now = Instant::now();
    assert!(matches!(r.add("t", segs[0].clone(), 0, now), Ok(None)));
    assert!(matches!(r.add("t", segs[0].clone(), 0, now), Ok(None)));
    let done = r.add("t", segs[1].clone(), 1, now).unwrap().unwrap();
    assert_eq!(done.payload, vec![3u8; 600]);
}

#[test]
fn the_oldest_partial_message_is_evicted_past_the_partial_limit() {
    let mut r = Reassembler::new(limits());
    let start = Instant::now();
    for i in 0..5u8 {
        let segs = segments(&[i; 600], 300);
        let at = start + Duration::from_millis(u64::from(i));
        assert!(matches!(r.add("t", segs[0].clone(), 0, at), Ok(None)));
    }
    assert_eq!(r.partial_count(), 4);
    // The first message was evicted: its second segment starts a new partial.
    let first = segments(&[0u8; 600], 300);
    assert!(matches!(r.add("t", first[1].clone(), 1, start), Ok(None)));
}

#[test]
fn buffered_bytes_stay_within_the_budget() {
    let mut r = Reassembler::new(ReassemblyLimits {
        max_bytes: 1000,
        ..limits()
    });
    let now = Instant::now();
    for i in 0..3u8 {
        let segs = segments(&[i; 1200], 400);
        let _ = r.add("t", segs[0].clone(), 0, now);
        let _ = r.add("t", segs[1].clone(), 1, now);
        assert!(r.buffered_bytes() <= 1000);
    }
    let huge = segments(&[9u8; 3000], 1500);
    assert_eq!(
        r.add("t", huge[0].clone(), 0, now),
        Err(SegmentError::OverBudget(1500))
    );
}

#[test]
fn segments_of_one_hash_on_different_keys_do_not_mix() {
    let segs = segments(&[5u8; 600], 300);
    let mut r = Reassembler::new(limits());
    let now = Instant::now();
    assert!(matches!(r.add("a", segs[0].clone(), 0, now), Ok(None)));
    assert!(matches!(r.add("b", segs[1].clone(), 1, now), Ok(None)));
    assert_eq!(r.partial_count(), 2);
}

#[test]
fn a_segment_with_a_different_count_is_inconsistent() {
    let segs = segments(&[5u8; 900], 300);
    let mut r = Reassembler::new(limits());
    let now = Instant::now();
    assert!(matches!(r.add("t", segs[0].clone(), 0, now), Ok(None)));
    let mut odd = segs[1].clone();
    odd.count = 4;
    assert_eq!(
        r.add("t", odd, 1, now),
        Err(SegmentError::Inconsistent("data_segment_count differs"))
    );
}

#[test]
fn hostile_segments_are_rejected_by_validation() {
    let good = SegmentProto {
        entire_message_hash: vec![0; 32],
        data_segment_index: 0,
        data_segment_count: 2,
        payload: vec![1],
        parity_segment_index: 0,
        parity_segment_count: 0,
        is_parity: false,
    };
    let with = |f: fn(&mut SegmentProto)| {
        let mut p = good.clone();
        f(&mut p);
        parse(&p.encode_to_vec())
    };
    assert!(with(|_| {}).is_ok());
    assert_eq!(parse(&[0xff, 0xff]), Err(SegmentError::Malformed));
    assert_eq!(
        with(|p| p.entire_message_hash = vec![0; 31]),
        Err(SegmentError::BadHash(31))
    );
    assert!(matches!(
        with(|p| p.data_segment_count = 0),
        Err(SegmentError::BadCounts(_))
    ));
    assert!(matches!(
        with(|p| p.data_segment_index = 2),
        Err(SegmentError::BadCounts(_))
    ));
    assert!(matches!(
        with(|p| p.data_segment_count = 256),
        Err(SegmentError::BadCounts(_))
    ));
    assert!(matches!(
        with(|p| {
            p.data_segment_count = 200;
            p.parity_segment_count = 56;
        }),
        Err(SegmentError::BadCounts(_))
    ));
    assert!(matches!(
        with(|p| p.is_parity = true),
        Err(SegmentError::BadCounts(_))
    ));
    assert_eq!(
        with(|p| {
            p.is_parity = true;
            p.parity_segment_count = 1;
        }),
        Err(SegmentError::ParityUnsupported)
    );
}

#[test]
fn a_message_growing_past_max_payload_is_dropped() {
    let mut r = Reassembler::new(limits());
    let now = Instant::now();
    let segs = segments(&[4u8; 6000], 2000);
    assert!(matches!(r.add("t", segs[0].clone(), 0, now), Ok(None)));
    assert!(matches!(r.add("t", segs[1].clone(), 1, now), Ok(None)));
    assert_eq!(
        r.add("t", segs[2].clone(), 2, now),
        Err(SegmentError::OverBudget(6000))
    );
    assert_eq!((r.partial_count(), r.buffered_bytes()), (0, 0));
    let single = segments(&[4u8; 5001], 6000);
    assert_eq!(
        r.add("t", single[0].clone(), 0, now),
        Err(SegmentError::OverBudget(5001))
    );
}

/// Found by the `reassembly` fuzz target (its bookkeeping, not this code, was wrong): the
/// same payload published whole and, meanwhile, split in three has one entire-message hash.
/// The whole one completes at once with its own tag, and the split one still completes
/// afterwards with the tag of its own segment 0.
#[test]
fn one_payload_sent_whole_and_split_completes_twice_each_with_its_own_tag() {
    let payload = vec![7u8; 250];
    let split3 = segments(&payload, 100);
    let whole = segments(&payload, 1_000);
    assert_eq!((split3.len(), whole.len()), (3, 1));
    assert_eq!(split3[0].entire_hash, whole[0].entire_hash);
    let mut r: Reassembler<&'static str, u32> = Reassembler::new(limits());
    let now = Instant::now();
    let mut split3 = split3.into_iter();
    let first = split3.next().unwrap();
    assert!(r.add("t", first, 100, now).unwrap().is_none());
    let done = r.add("t", whole[0].clone(), 200, now).unwrap().unwrap();
    assert_eq!(
        (done.payload.as_slice(), done.tag),
        (payload.as_slice(), 200)
    );
    let mut completed = Vec::new();
    for s in split3 {
        completed.extend(r.add("t", s, 300, now).unwrap());
    }
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].payload, payload);
    assert_eq!(
        completed[0].tag, 100,
        "the tag given with this message's segment 0"
    );
    assert_eq!((r.partial_count(), r.buffered_bytes()), (0, 0));
}
