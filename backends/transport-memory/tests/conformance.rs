//! The framework's transport conformance suite, run against the memory transport.

demls::transport_conformance!(demls_transport_memory::conformance_factory());
