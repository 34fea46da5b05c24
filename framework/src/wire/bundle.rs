//! Bundles: several envelopes of one group carried in one transport message, to be processed in
//! the order given. A catch-up answer uses them so that an epoch's application messages reach
//! a member catching up before the commit that ends that epoch — sent as separate messages,
//! reordering on the network could let the member race through several commits first and then
//! find the messages too old to decrypt.
//!
//! The bundle itself is not authenticated; each envelope in it is checked exactly as if it had
//! arrived alone. Only envelopes a member processes on the group topic (MLS messages, commits,
//! certificate parts) may be bundled, and bundles do not nest.

use prost::Message;

use super::{Envelope, Kind, WireError};

/// Most envelopes one bundle may carry.
pub const MAX_BUNDLED: usize = 4_096;

/// The body of a [`Kind::Bundle`] envelope.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Bundle {
    /// Encoded envelopes, in processing order.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub envelopes: Vec<Vec<u8>>,
}

/// Whether an envelope of `kind` may travel in a bundle.
pub fn bundleable(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Mls | Kind::Consensus | Kind::Control | Kind::Commit | Kind::Certificate
    )
}

/// Packs `items` — `(epoch, encoded envelope, end here)` — into as few bundle envelopes of
/// `group_id` as keep each within `max_bytes` (an item too large alone still gets a bundle of
/// its own), preserving order. A bundle always ends after an item marked "end here". The epoch
/// of each bundle envelope is that of its first item.
pub fn pack(group_id: &[u8], items: Vec<(u64, Vec<u8>, bool)>, max_bytes: usize) -> Vec<Vec<u8>> {
    // Per-item protobuf overhead: tag + length prefix (at most 1 + 5 bytes); the envelope
    // around the bundle: version, kind, group id, epoch (under 64 bytes plus the group id).
    let envelope_overhead = 64 + group_id.len();
    let budget = max_bytes.saturating_sub(envelope_overhead).max(1);
    let mut out = Vec::new();
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut size = 0usize;
    let mut first_epoch = 0u64;
    let flush =
        |current: &mut Vec<Vec<u8>>, size: &mut usize, epoch: u64, out: &mut Vec<Vec<u8>>| {
            if !current.is_empty() {
                let body = Bundle {
                    envelopes: std::mem::take(current),
                }
                .encode_to_vec();
                out.push(Envelope::new(Kind::Bundle, group_id, epoch, body).encode_to_vec());
            }
            *size = 0;
        };
    for (epoch, item, break_after) in items {
        let cost = item.len() + 6;
        if !current.is_empty() && (size + cost > budget || current.len() >= MAX_BUNDLED) {
            flush(&mut current, &mut size, first_epoch, &mut out);
        }
        if current.is_empty() {
            first_epoch = epoch;
        }
        size += cost;
        current.push(item);
        if break_after {
            flush(&mut current, &mut size, first_epoch, &mut out);
        }
    }
    flush(&mut current, &mut size, first_epoch, &mut out);
    out
}

/// Opens a bundle of `group_id`: its envelopes, each checked to decode, to belong to the group
/// and to be of a kind that may be bundled.
pub fn unpack(group_id: &[u8], body: &[u8]) -> Result<Vec<Vec<u8>>, WireError> {
    let bundle: Bundle = super::decode("bundle", body)?;
    if bundle.envelopes.len() > MAX_BUNDLED {
        return Err(WireError::Invalid {
            what: "bundle",
            reason: "too many envelopes",
        });
    }
    for bytes in &bundle.envelopes {
        let (env, kind) = Envelope::decode_checked(bytes)?;
        if env.group_id != group_id {
            return Err(WireError::Invalid {
                what: "bundle",
                reason: "an envelope of another group",
            });
        }
        if !bundleable(kind) {
            return Err(WireError::Invalid {
                what: "bundle",
                reason: "an envelope kind that cannot be bundled",
            });
        }
    }
    Ok(bundle.envelopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(kind: Kind, group: &[u8], epoch: u64, len: usize) -> Vec<u8> {
        Envelope::new(kind, group, epoch, vec![7; len]).encode_to_vec()
    }

    fn contents(bundles: &[Vec<u8>]) -> Vec<Vec<Vec<u8>>> {
        bundles
            .iter()
            .map(|b| {
                let (e, kind) = Envelope::decode_checked(b).unwrap();
                assert_eq!(kind, Kind::Bundle);
                unpack(b"g", &e.body).unwrap()
            })
            .collect()
    }

    #[test]
    fn packing_keeps_order_respects_breaks_and_the_size_limit() {
        let a = env(Kind::Mls, b"g", 3, 100);
        let b = env(Kind::Commit, b"g", 3, 100);
        let c = env(Kind::Mls, b"g", 4, 100);
        let d = env(Kind::Commit, b"g", 4, 100);
        let items = vec![
            (3, a.clone(), false),
            (3, b.clone(), true),
            (4, c.clone(), false),
            (4, d.clone(), true),
        ];
        let packed = pack(b"g", items.clone(), 10_000);
        assert_eq!(
            contents(&packed),
            vec![vec![a.clone(), b.clone()], vec![c.clone(), d.clone()]]
        );
        let (first, _) = Envelope::decode_checked(&packed[1]).unwrap();
        assert_eq!(first.epoch, 4);
        // A limit that fits one item per bundle.
        let tight = pack(b"g", items, 250);
        assert_eq!(contents(&tight), vec![vec![a], vec![b], vec![c], vec![d]]);
        assert!(tight.iter().all(|t| t.len() <= 250));
    }

    #[test]
    fn unpacking_refuses_foreign_nested_and_undecodable_content() {
        let own = env(Kind::Mls, b"g", 1, 10);
        let foreign = env(Kind::Mls, b"h", 1, 10);
        let nested = env(Kind::Bundle, b"g", 1, 10);
        let request = env(Kind::CatchUp, b"g", 1, 10);
        for bad in [foreign, nested, request, vec![0xff, 0xff]] {
            let body = Bundle {
                envelopes: vec![own.clone(), bad],
            }
            .encode_to_vec();
            assert!(unpack(b"g", &body).is_err());
        }
        assert!(unpack(b"g", &[0xff; 3]).is_err());
        let many = Bundle {
            envelopes: vec![own.clone(); MAX_BUNDLED + 1],
        }
        .encode_to_vec();
        assert!(unpack(b"g", &many).is_err());
    }
}
