//! The node configuration parser (`NodeConfig::from_toml_str`) and everything that reads its
//! tables: the `[group]` checks, the identity seed, and the option parsers of the bundled
//! backends (logos and memory transports, memory and SQLite storage, hashgraph consensus,
//! single and multi steward policies; built through the registry where building has no side
//! effect). Nothing may panic on any text.
#![no_main]

use std::path::Path;

use demls::NodeConfig;
use demls::registry::{BuildContext, build_consensus, build_steward};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = NodeConfig::from_toml_str(text) else {
        return;
    };
    let _ = config.group.validate();
    let _ = config.identity_seed();
    let ctx = BuildContext {
        node_name: config.node.name.clone().unwrap_or_default(),
        base_dir: config.base_dir.clone(),
    };
    demls_consensus_hashgraph::link();
    let _ = build_consensus(&config.consensus, &ctx);
    let _ = build_steward(&config.steward, &ctx);
    let transport = &config.transport.options;
    if let Ok(logos) = demls_transport_logos::Config::from_options(transport) {
        let _ = logos.validate();
        let _ = logos.reassembly_limits();
    }
    let _ = demls_transport_memory::Config::from_options(transport);
    let storage = &config.storage.options;
    let _ = demls_storage_memory::Config::from_options(storage);
    let _ =
        demls_storage_sqlite::Config::from_options(storage, Path::new("/demls"), &ctx.node_name);
});
