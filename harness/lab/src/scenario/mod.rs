//! Scenario files: their shape ([`schema`]), parsing with line-and-key errors, and validation.

mod schema;

pub use schema::*;
