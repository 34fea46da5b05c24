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

/// Registers the built-in policies at run time as well as through `inventory` (see
/// [`crate::registry`]): for programs, such as one linking the static C library, whose linker
/// drops `inventory` entries. Idempotent.
pub fn link() {
    single::link();
    multi::link();
}
