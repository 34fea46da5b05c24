//! Registration of the backend as storage `"memory"`, and the [`link`] function that keeps the
//! registration in a program.
//!
//! The `inventory::submit!` and `link` must stay in this one module: calling `link` is what
//! makes the linker keep the object code holding the registration.

use std::sync::Arc;

use demls::registry::{BuildContext, StoragePlugin};
use demls::{ConfigError, Storage};

use crate::config::Config;
use crate::store::MemoryStorage;

/// Opens the configured named store, or a private one, and applies the configured capacity.
fn build(options: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Storage>, ConfigError> {
    let config = Config::from_options(options)?;
    let store = match &config.name {
        Some(name) => MemoryStorage::named(name),
        None => MemoryStorage::new(),
    };
    store.set_capacity(config.capacity_bytes);
    tracing::debug!(
        node = %ctx.node_name,
        name = config.name.as_deref().unwrap_or("(private)"),
        entries = store.len(),
        "opened memory storage"
    );
    Ok(Arc::new(store))
}

demls::register_plugin!(
    storage,
    StoragePlugin {
        name: crate::NAME,
        description: "in-process key-value store; state is lost when the process exits",
        build,
    }
);

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use demls::config::{BackendConfig, Slot};
    use demls::registry::{available, build_storage};
    use demls::{Space, StorageError, WriteBatch};

    use super::*;

    fn open(options: toml::Table) -> Result<Arc<dyn Storage>, ConfigError> {
        let ctx = BuildContext {
            node_name: "n".into(),
            base_dir: PathBuf::from("."),
        };
        let cfg = BackendConfig {
            backend: "memory".into(),
            options,
        };
        build_storage(&cfg, &ctx)
    }

    #[test]
    fn the_backend_is_registered_as_memory() {
        link();
        assert!(available(Slot::Storage).contains(&"memory"));
    }

    #[test]
    fn a_node_rebuilt_from_the_same_options_finds_its_state() {
        let options = toml::toml! { name = "plugin-test-rebuilt" };
        let mut batch = WriteBatch::new();
        batch.put(Space::Node, b"identity", b"seed");
        open(options.clone()).unwrap().apply(batch).unwrap();
        let rebuilt = open(options).unwrap();
        assert_eq!(rebuilt.name(), "memory");
        assert_eq!(
            rebuilt.get(Space::Node, b"identity").unwrap(),
            Some(b"seed".to_vec())
        );
        let private = open(toml::Table::new()).unwrap();
        assert_eq!(private.get(Space::Node, b"identity").unwrap(), None);
        MemoryStorage::forget_named("plugin-test-rebuilt");
    }

    #[test]
    fn the_configured_capacity_is_enforced() {
        let store = open(toml::toml! { capacity_bytes = 8 }).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(Space::Engine, b"key", b"too long");
        assert!(matches!(store.apply(batch), Err(StorageError::Full)));
    }

    #[test]
    fn an_unknown_option_is_reported_by_name() {
        match open(toml::toml! { capacity = 8 }) {
            Err(ConfigError::UnknownKey { key, section, .. }) => {
                assert_eq!((key.as_str(), section.as_str()), ("capacity", "storage"));
            }
            Err(other) => panic!("expected UnknownKey, got {other}"),
            Ok(_) => panic!("an unknown option was accepted"),
        }
    }
}
