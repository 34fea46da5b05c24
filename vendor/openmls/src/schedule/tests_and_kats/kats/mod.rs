#[cfg(any(feature = "test-utils", test))]
pub mod key_schedule;
#[cfg(test)]
pub mod psk_secret;
