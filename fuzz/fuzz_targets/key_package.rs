//! `mls::validate_key_package` and `mls::claimed_key_package_member` (a would-be member's
//! KeyPackage from the welcome topic): never panic; a valid package claims the member id it
//! validates as, and re-serialized it validates again with the same reference and member.
#![no_main]

use demls::internals::mls::{claimed_key_package_member, validate_key_package};
use libfuzzer_sys::fuzz_target;
use openmls::prelude::MlsMessageOut;
use openmls::prelude::tls_codec::Serialize as _;
use openmls_rust_crypto::RustCrypto;

fuzz_target!(|data: &[u8]| {
    let claimed = claimed_key_package_member(data);
    let crypto = RustCrypto::default();
    let Ok(valid) = validate_key_package(&crypto, data) else {
        return;
    };
    assert_eq!(
        claimed,
        Some(valid.member_id),
        "the claim is what validates"
    );
    let bytes = MlsMessageOut::from(valid.key_package.clone())
        .tls_serialize_detached()
        .expect("a validated package serializes");
    let again = validate_key_package(&crypto, &bytes).expect("re-serialized, it validates");
    assert_eq!(again.key_package, valid.key_package);
    assert_eq!(again.reference, valid.reference);
    assert_eq!(again.member_id, valid.member_id);
});
