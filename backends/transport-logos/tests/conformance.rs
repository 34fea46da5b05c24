//! The framework's transport conformance suite, run against relay nodes on 127.0.0.1.

mod common;

demls::transport_conformance!(common::LogosHarness);
