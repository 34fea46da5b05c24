//! Shared pieces of the fuzz targets: the network they run on (`demls-tests`' deterministic
//! test network, seeded and on memory storage: see [`session`]), the real session whose
//! traffic seeds the corpora and whose state the stateful targets start from, and small
//! round-trip helpers.
//!
//! This crate owns no protocol code: every decoder it exercises lives in the crate that owns
//! it (see `specs/fuzzing.md`). It must never be part of the stable workspace.

pub mod session;
pub mod traffic;

/// The sealing key the `sealed` target uses for everything it seals and opens.
pub const FIXED_KEY: [u8; 16] = [0x42; 16];
/// The group id the `sealed` and `bundle` targets use (the recorded session's group).
pub const FIXED_GROUP: &[u8] = b"fuzz";

/// Asserts that `decode(encode(x)) == x` for a decoded protobuf message `x`, and that encoding
/// is stable (encoding the decoded copy again gives the same bytes).
pub fn assert_prost_round_trip<M>(message: &M)
where
    M: prost::Message + Default + PartialEq + std::fmt::Debug,
{
    let bytes = message.encode_to_vec();
    assert_eq!(bytes.len(), message.encoded_len(), "encoded_len is exact");
    let back = M::decode(bytes.as_slice()).expect("an encoded message decodes");
    assert_eq!(&back, message, "decode(encode(x)) == x");
    assert_eq!(back.encode_to_vec(), bytes, "encoding is stable");
}

/// The consensus voter set of the recorded session's three members (their Ed25519 identity
/// keys), shared by the consensus targets.
pub fn session_voters() -> std::sync::Arc<consensus_hashgraph::VoterSet> {
    static VOTERS: std::sync::OnceLock<std::sync::Arc<consensus_hashgraph::VoterSet>> =
        std::sync::OnceLock::new();
    VOTERS
        .get_or_init(|| {
            let keys: Vec<[u8; 32]> = (0..3)
                .map(|i| {
                    *demls::Identity::from_seed(session::seed(i))
                        .expect("any 32 bytes are a seed")
                        .public_key()
                })
                .collect();
            std::sync::Arc::new(consensus_hashgraph::VoterSet::new(keys).expect("distinct keys"))
        })
        .clone()
}
