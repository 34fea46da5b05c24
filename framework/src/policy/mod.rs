//! Built-in steward policies. Each registers itself in the [`registry`](crate::registry) under
//! its name so a TOML file can pick it.

mod excluded;
mod model;
pub mod multi;
pub mod single;

pub use excluded::Excluded;
pub use model::ConsensusModel;
pub use multi::{MultiPolicy, MultiPolicyConfig};
pub use single::{SinglePolicy, SinglePolicyConfig};
