//! The network the stateful fuzz targets run on: `demls-tests`' deterministic test network
//! ([`Net`], in `harness/tests/src/net/`) on the memory storage, with every engine's randomness
//! drawn from [`RUN_SEED`], so every recorded session is the same. This module only fixes those
//! choices; the network itself (delivery, time, records of publications and epoch keys,
//! snapshots and restoring from them) lives in `demls-tests`.
//!
//! Engine errors are panics there: an input from the network must never make a step fail.

pub use demls_tests::net::{EpochKeys, Net, Publication, Snapshot, copy_store, gid, seed, t0};

/// The run seed every engine of a fuzz network draws its randomness from.
pub const RUN_SEED: u64 = 0x00f0_22ed;

/// A network of `n` fresh members at [`t0`], on the memory storage, seeded with [`RUN_SEED`].
pub fn network(n: usize) -> Net {
    let net = Net::seeded(n, RUN_SEED);
    assert_eq!(
        net.backend,
        demls_tests::net::Backend::Memory,
        "fuzz networks store into memory (snapshots copy memory stores)"
    );
    net
}
