//! de-MLS as a Logos Core module.
//!
//! (Being built: the module-implementation C ABI, the LIDL contract and the delivery_module
//! transport land here.)
