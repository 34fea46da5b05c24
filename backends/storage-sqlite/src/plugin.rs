//! Registration of the backend as storage `"sqlite"`, and the [`link`] function that keeps the
//! registration in a program.
//!
//! The `inventory::submit!` and `link` must stay in this one module: calling `link` is what
//! makes the linker keep the object code holding the registration.

use std::sync::Arc;

use demls::config::Slot;
use demls::registry::{BuildContext, StoragePlugin};
use demls::{ConfigError, Storage};

use crate::config::Config;
use crate::store::SqliteStorage;

/// Opens the configured database file (relative paths from the config file's directory;
/// `<node name>.db` there when the file names none).
fn build(options: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Storage>, ConfigError> {
    let config = Config::from_options(options, &ctx.base_dir, &ctx.node_name)?;
    let store = SqliteStorage::open(&config).map_err(|e| ConfigError::Backend {
        slot: Slot::Storage,
        backend: crate::NAME.into(),
        message: format!("{}: {e}", config.path.display()),
    })?;
    tracing::debug!(node = %ctx.node_name, path = %config.path.display(), "opened sqlite storage");
    Ok(Arc::new(store))
}

demls::register_plugin!(
    storage,
    StoragePlugin {
        name: crate::NAME,
        description: "durable embedded SQLite database (WAL, one transaction per engine step)",
        build,
    }
);

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use demls::config::BackendConfig;
    use demls::registry::{available, build_storage};
    use demls::{Space, WriteBatch};

    use super::*;

    fn open(options: toml::Table, base_dir: PathBuf) -> Result<Arc<dyn Storage>, ConfigError> {
        let ctx = BuildContext {
            node_name: "n".into(),
            base_dir,
        };
        let cfg = BackendConfig {
            backend: crate::NAME.into(),
            options,
        };
        build_storage(&cfg, &ctx)
    }

    #[test]
    fn the_backend_is_registered_and_opens_a_relative_path_from_the_config_directory() {
        link();
        assert!(available(Slot::Storage).contains(&crate::NAME));
        let dir = tempfile::tempdir().unwrap();
        let store = open(toml::toml! { path = "node.db" }, dir.path().to_owned()).unwrap();
        assert_eq!(store.name(), "sqlite");
        let mut batch = WriteBatch::new();
        batch.put(Space::Node, b"k".to_vec(), b"v".to_vec());
        store.apply(batch).unwrap();
        assert!(dir.path().join("node.db").exists());
        // With no options at all (a profile's default), the file is named after the node.
        drop(open(toml::Table::new(), dir.path().to_owned()).unwrap());
        assert!(dir.path().join("n.db").exists());
    }

    #[test]
    fn a_store_that_cannot_open_is_a_backend_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("junk.db"), vec![0x42; 8192]).unwrap();
        match open(toml::toml! { path = "junk.db" }, dir.path().to_owned()) {
            Err(ConfigError::Backend { message, .. }) => assert!(message.contains("junk.db")),
            other => panic!("expected a backend error, got {:?}", other.map(|_| ())),
        }
        assert!(matches!(
            open(toml::toml! { file = "x" }, dir.path().to_owned()),
            Err(ConfigError::UnknownKey { .. })
        ));
    }
}
