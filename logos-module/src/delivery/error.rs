//! Why the delivery_module transport failed (mapped to [`demls::TransportError`] at the
//! trait boundary).

use demls::TransportError;

/// A failure of the delivery_module transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// Neither the process nor a configured library provides the `lp_*` functions.
    #[error(
        "the lp_* functions are not in this process ({0} is missing) and no logos-protocol library is configured (init config `logos_protocol_library` or env LOGOS_PROTOCOL_LIBRARY)"
    )]
    NoProtocolLibrary(&'static str),
    /// The configured library could not be loaded or lacks a symbol.
    #[error("logos-protocol library {0}: {1}")]
    Library(String, String),
    /// An `lp_*` call refused its arguments (NULL return).
    #[error("{0}")]
    Refused(String),
    /// A delivery_module method failed (an `lp_*` failure or an error result).
    #[error("delivery_module {method} failed: {detail}")]
    Call {
        /// The method.
        method: String,
        /// The error object or result text.
        detail: String,
    },
    /// The transport was closed.
    #[error("the delivery_module transport is closed")]
    Closed,
}

impl From<DeliveryError> for TransportError {
    fn from(e: DeliveryError) -> Self {
        match e {
            DeliveryError::Closed => TransportError::Closed,
            other => TransportError::Unavailable(other.to_string()),
        }
    }
}
