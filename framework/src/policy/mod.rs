//! Built-in steward policies. Each registers itself in the [`registry`](crate::registry) under
//! its name so a TOML file can pick it.

pub mod single;

pub use single::{SinglePolicy, SinglePolicyConfig};
