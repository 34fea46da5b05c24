//! The test host's integration tests, one test binary (each former test file is a module:
//! linking the framework once instead of once per file is most of the test build's time).
//! They load module images in host processes they spawn, so they share this process freely.

mod common;

mod dispatch_errors;
mod dogfood_transcript;
mod lgx_package;
mod loader;
mod reinit;
mod relay;
mod symbols;
mod three_members;
