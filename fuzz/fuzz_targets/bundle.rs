//! `wire::bundle::unpack`: never panics; what it returns are envelopes of the group, of
//! bundleable kinds, at most `MAX_BUNDLED`; packing them again (with a generous and with a
//! tight size limit) and unpacking gives them back in order.
#![no_main]

use demls::internals::wire::bundle::{self, MAX_BUNDLED};
use demls::internals::wire::{Envelope, Kind};
use demls_fuzz::FIXED_GROUP;
use libfuzzer_sys::fuzz_target;

fn unpack_all(packed: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for bytes in packed {
        let (env, kind) = Envelope::decode_checked(bytes).expect("pack writes envelopes");
        assert_eq!(kind, Kind::Bundle);
        assert_eq!(env.group_id, FIXED_GROUP);
        out.extend(bundle::unpack(FIXED_GROUP, &env.body).expect("pack writes valid bundles"));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(items) = bundle::unpack(FIXED_GROUP, data) else {
        return;
    };
    assert!(items.len() <= MAX_BUNDLED);
    let mut epochs = Vec::new();
    for item in &items {
        let (env, kind) = Envelope::decode_checked(item).expect("unpack checks every envelope");
        assert!(bundle::bundleable(kind));
        assert_eq!(env.group_id, FIXED_GROUP);
        epochs.push(env.epoch);
    }
    let with_breaks = |every: usize| -> Vec<(u64, Vec<u8>, bool)> {
        items
            .iter()
            .zip(&epochs)
            .enumerate()
            .map(|(i, (b, e))| (*e, b.clone(), every > 0 && i % every == 0))
            .collect()
    };
    for (limit, every) in [(usize::MAX, 0), (1 << 20, 3), (300, 0), (1, 0)] {
        let packed = bundle::pack(FIXED_GROUP, with_breaks(every), limit);
        assert_eq!(
            unpack_all(&packed),
            items,
            "pack then unpack keeps the envelopes"
        );
        if items.is_empty() {
            assert!(packed.is_empty());
        }
    }
});
