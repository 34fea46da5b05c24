//! The README's Logos-profile configuration is a valid configuration: the framework selects the
//! profile's backends, and each backend accepts the options the README gives it.

use std::path::Path;

use demls::NodeConfig;

/// The first TOML block of the README that selects the Logos profile.
fn logos_example() -> &'static str {
    let readme = include_str!("../../README.md");
    readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.contains("profile = \"logos\""))
        .expect("the README has a Logos-profile TOML example")
}

#[test]
fn the_readme_logos_profile_example_selects_waku_and_sqlite_and_every_option_is_accepted() {
    let config = NodeConfig::from_toml_str(logos_example()).expect("the example parses");
    assert_eq!(config.transport.backend, demls_transport_logos::NAME);
    assert_eq!(config.storage.backend, demls_storage_sqlite::NAME);
    assert_eq!(config.consensus.backend, "hashgraph");
    assert_eq!(config.steward.backend, "multi");
    let transport = demls_transport_logos::Config::from_options(&config.transport.options)
        .expect("the transport options are accepted");
    transport.validate().expect("and valid");
    assert_eq!(transport.static_peers().expect("peers parse").len(), 1);
    let storage = demls_storage_sqlite::Config::from_options(
        &config.storage.options,
        Path::new("/var/lib/demls"),
        "alice",
    )
    .expect("the storage options are accepted");
    assert_eq!(storage.path, Path::new("/var/lib/demls/alice.db"));
}
