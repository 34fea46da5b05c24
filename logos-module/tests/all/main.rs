//! The module crate's integration tests, one test binary (each former test file is a module:
//! linking the framework once instead of once per file is most of the test build's time).
//!
//! The module's ABI is process-global: one instance per process. Each test of the modules that
//! drive an instance, install the fake `delivery_module`, or need a module that never started a
//! node, therefore runs in a process of its own ([`process`]); `lidl`'s tests share this one.

/// Runs the calling test in a process of its own; see [`process::own`].
macro_rules! in_own_process {
    ($test:ident) => {
        crate::process::own(module_path!(), stringify!($test))
    };
}

mod common;
mod instance;
mod process;

mod delivery;
mod dispatch;
mod end_to_end;
mod join;
mod lidl;
mod module_delivery;
