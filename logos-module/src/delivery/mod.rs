//! The `delivery_module` transport backend: de-MLS over the host's shared delivery module
//! (inside Logos Core), reached through the `lp_*` consumer ABI resolved at run time.
//!
//! ```toml
//! [transport]
//! backend = "delivery_module"
//! delivery_config = "{}"                     # JSON text for createNode
//! logos_protocol_library = "/path/liblogos_protocol.so"   # when the process has no lp_*
//! ```

pub mod error;
pub mod lp;
pub mod plugin;
pub mod transport;

pub use error::DeliveryError;
pub use plugin::link;
pub use transport::DeliveryTransport;

/// The name this backend is registered under, and the target module.
pub const NAME: &str = "delivery_module";
