//! Segmentation and reassembly of payloads larger than one Waku message (lip-segmentation).
//!
//! Every payload, even a small one, travels as a `SegmentMessageProto` (single-segment messages
//! have `data_segment_count == 1`). The entire-message hash is Keccak-256 of the original
//! payload. This implementation sends **no parity segments** (Reed–Solomon is optional in the
//! spec): a message is reassembled only when all its data segments have arrived, and parity
//! segments from other senders are ignored.
//!
//! Reassembly is bounded: payloads of at most `max_payload` bytes, at most `max_partials`
//! incomplete messages and `max_bytes` buffered bytes (the oldest partial messages are evicted
//! to make room), each partial message expires after `timeout`, and the reassembled payload
//! must hash to `entire_message_hash`, so a missing or forged segment loses the message but
//! never yields a corrupted one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use prost::Message as _;
use sha3::{Digest, Keccak256};

use crate::error::SegmentError;

/// Length of the entire-message hash.
pub const ENTIRE_HASH_LEN: usize = 32;
/// `data_segment_count + parity_segment_count` must stay below this (the spec's reference value).
pub const MAX_TOTAL_SEGMENTS: u32 = 256;
/// The most data segments a message may have (no parity).
pub const MAX_DATA_SEGMENTS: usize = (MAX_TOTAL_SEGMENTS - 1) as usize;

/// The `SegmentMessageProto` wire layout.
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

/// One validated data segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Keccak-256 of the whole payload.
    pub entire_hash: [u8; ENTIRE_HASH_LEN],
    /// Zero-based position.
    pub index: u32,
    /// Number of data segments.
    pub count: u32,
    /// This segment's chunk.
    pub payload: Vec<u8>,
}

/// Keccak-256 of `payload`.
pub fn entire_hash(payload: &[u8]) -> [u8; ENTIRE_HASH_LEN] {
    let mut out = [0u8; ENTIRE_HASH_LEN];
    out.copy_from_slice(&Keccak256::digest(payload));
    out
}

/// Splits `payload` into serialized segments of at most `segment_size` payload bytes each.
/// An empty payload yields one empty segment. The caller checks the segment count limit.
pub fn split(payload: &[u8], segment_size: usize) -> Vec<Vec<u8>> {
    let hash = entire_hash(payload).to_vec();
    let chunks: Vec<&[u8]> = if payload.is_empty() {
        vec![&[][..]]
    } else {
        payload.chunks(segment_size.max(1)).collect()
    };
    let count = chunks.len() as u32;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            SegmentProto {
                entire_message_hash: hash.clone(),
                data_segment_index: i as u32,
                data_segment_count: count,
                payload: chunk.to_vec(),
                parity_segment_index: 0,
                parity_segment_count: 0,
                is_parity: false,
            }
            .encode_to_vec()
        })
        .collect()
}

/// Parses and validates one serialized segment (the spec's validation rules). Parity segments
/// are valid on the wire but unsupported here.
pub fn parse(bytes: &[u8]) -> Result<Segment, SegmentError> {
    let p = SegmentProto::decode(bytes).map_err(|_| SegmentError::Malformed)?;
    let entire_hash: [u8; ENTIRE_HASH_LEN] = p
        .entire_message_hash
        .as_slice()
        .try_into()
        .map_err(|_| SegmentError::BadHash(p.entire_message_hash.len()))?;
    if p.data_segment_count == 0 {
        return Err(SegmentError::BadCounts("data_segment_count is 0"));
    }
    if u64::from(p.data_segment_count) + u64::from(p.parity_segment_count)
        >= u64::from(MAX_TOTAL_SEGMENTS)
    {
        return Err(SegmentError::BadCounts("too many segments"));
    }
    if p.is_parity {
        if p.parity_segment_count == 0 || p.parity_segment_index >= p.parity_segment_count {
            return Err(SegmentError::BadCounts("parity index out of range"));
        }
        return Err(SegmentError::ParityUnsupported);
    }
    if p.data_segment_index >= p.data_segment_count {
        return Err(SegmentError::BadCounts("data index out of range"));
    }
    Ok(Segment {
        entire_hash,
        index: p.data_segment_index,
        count: p.data_segment_count,
        payload: p.payload,
    })
}

/// Bounds on reassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Incomplete messages kept at once.
    pub max_partials: usize,
    /// The largest payload rebuilt (the transport's `max_payload`); a message whose segments
    /// add up to more is dropped.
    pub max_payload: usize,
    /// Bytes buffered across all incomplete messages.
    pub max_bytes: usize,
    /// How long an incomplete message is kept after its first segment.
    pub timeout: Duration,
}

/// A message completed by a segment.
#[derive(Debug, PartialEq, Eq)]
pub struct Reassembled<T> {
    /// The original payload (hash verified).
    pub payload: Vec<u8>,
    /// The tag given with data segment 0 (the transport stores segment 0's message hash).
    pub tag: T,
}

struct Partial<T> {
    count: u32,
    parts: Vec<Option<Vec<u8>>>,
    received: u32,
    bytes: usize,
    started: Instant,
    tag: Option<T>,
}

/// Collects segments until messages are complete. `K` distinguishes streams (the content topic:
/// segments of one hash on different topics never mix); `T` is a per-message tag.
pub struct Reassembler<K, T> {
    limits: ReassemblyLimits,
    partials: HashMap<(K, [u8; ENTIRE_HASH_LEN]), Partial<T>>,
    bytes: usize,
}

impl<K: Clone + Eq + std::hash::Hash, T> Reassembler<K, T> {
    /// An empty reassembler with these bounds.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Reassembler {
            limits,
            partials: HashMap::new(),
            bytes: 0,
        }
    }

    /// Bytes currently buffered.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Incomplete messages currently kept.
    pub fn partial_count(&self) -> usize {
        self.partials.len()
    }

    /// Adds a segment received on `key` at `now`. Returns the payload when this segment
    /// completes its message; `Ok(None)` while incomplete (or for a duplicate segment).
    pub fn add(
        &mut self,
        key: K,
        segment: Segment,
        tag: T,
        now: Instant,
    ) -> Result<Option<Reassembled<T>>, SegmentError> {
        self.expire(now);
        if segment.count == 1 {
            if segment.payload.len() > self.limits.max_payload {
                return Err(SegmentError::OverBudget(segment.payload.len()));
            }
            return verified(segment.payload, &segment.entire_hash)
                .map(|payload| Some(Reassembled { payload, tag }));
        }
        let id = (key, segment.entire_hash);
        let size = segment.payload.len();
        if size > self.limits.max_bytes {
            return Err(SegmentError::OverBudget(size));
        }
        if let Some(p) = self.partials.get(&id) {
            if p.count != segment.count {
                return Err(SegmentError::Inconsistent("data_segment_count differs"));
            }
            if p.parts[segment.index as usize].is_some() {
                return Ok(None);
            }
            if p.bytes + size > self.limits.max_payload {
                let total = p.bytes + size;
                self.remove(&id);
                return Err(SegmentError::OverBudget(total));
            }
        } else {
            if size > self.limits.max_payload {
                return Err(SegmentError::OverBudget(size));
            }
            while self.partials.len() >= self.limits.max_partials.max(1) {
                self.evict_oldest();
            }
        }
        while self.bytes + size > self.limits.max_bytes {
            if !self.evict_oldest_except(&id) {
                // Only this message is left and it does not fit: give it up.
                self.remove(&id);
                return Err(SegmentError::OverBudget(size));
            }
        }
        let p = self.partials.entry(id.clone()).or_insert_with(|| Partial {
            count: segment.count,
            parts: vec![None; segment.count as usize],
            received: 0,
            bytes: 0,
            started: now,
            tag: None,
        });
        if segment.index == 0 {
            p.tag = Some(tag);
        }
        p.parts[segment.index as usize] = Some(segment.payload);
        p.received += 1;
        p.bytes += size;
        self.bytes += size;
        if p.received < p.count {
            return Ok(None);
        }
        let Some(p) = self.remove(&id) else {
            return Ok(None);
        };
        let mut payload = Vec::with_capacity(p.bytes);
        for part in p.parts.into_iter().flatten() {
            payload.extend_from_slice(&part);
        }
        let payload = verified(payload, &id.1)?;
        match p.tag {
            Some(tag) => Ok(Some(Reassembled { payload, tag })),
            None => Ok(None),
        }
    }

    /// Drops incomplete messages older than the timeout.
    pub fn expire(&mut self, now: Instant) {
        let timeout = self.limits.timeout;
        let expired: Vec<_> = self
            .partials
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.started) >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(p) = self.remove(&id) {
                tracing::warn!(
                    received = p.received,
                    count = p.count,
                    "incomplete segmented message timed out"
                );
            }
        }
    }

    fn remove(&mut self, id: &(K, [u8; ENTIRE_HASH_LEN])) -> Option<Partial<T>> {
        let p = self.partials.remove(id)?;
        self.bytes -= p.bytes;
        Some(p)
    }

    fn evict_oldest(&mut self) -> bool {
        let oldest = self
            .partials
            .iter()
            .min_by_key(|(_, p)| p.started)
            .map(|(id, _)| id.clone());
        match oldest {
            Some(id) => {
                self.remove(&id);
                tracing::warn!("reassembly limits reached: evicted the oldest partial message");
                true
            }
            None => false,
        }
    }

    fn evict_oldest_except(&mut self, keep: &(K, [u8; ENTIRE_HASH_LEN])) -> bool {
        let oldest = self
            .partials
            .iter()
            .filter(|(id, _)| *id != keep)
            .min_by_key(|(_, p)| p.started)
            .map(|(id, _)| id.clone());
        match oldest {
            Some(id) => {
                self.remove(&id);
                tracing::warn!("reassembly budget reached: evicted the oldest partial message");
                true
            }
            None => false,
        }
    }
}

fn verified(payload: Vec<u8>, hash: &[u8; ENTIRE_HASH_LEN]) -> Result<Vec<u8>, SegmentError> {
    if entire_hash(&payload) == *hash {
        Ok(payload)
    } else {
        Err(SegmentError::HashMismatch)
    }
}

#[cfg(test)]
#[path = "segmentation_tests.rs"]
mod tests;
