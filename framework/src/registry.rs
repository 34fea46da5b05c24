//! The backend registry: every plugin registers itself under a name with
//! [`inventory`], and a node's TOML file picks one per slot by that name.
//!
//! A backend crate submits a [`TransportPlugin`], [`StoragePlugin`], [`ConsensusPlugin`] or
//! [`StewardPlugin`] with `inventory::submit!` and exposes a `link()` function. Registration
//! happens before `main`, but only for crates the linker keeps: a program (or the C library)
//! must reference every bundled backend, e.g. by calling its `link()`, or its entry is dropped.
//!
//! Linkers may also drop the `inventory` entries themselves, e.g. when the C library is linked
//! statically into a program, since nothing references them. So a plugin can also be
//! registered explicitly, at run time: [`register_transport`] (and the same for each slot) adds
//! a `&'static` plugin to the registry; a name registered both ways counts once. Every bundled
//! backend's `link()` does this, so a program that calls it finds the backend either way.
//!
//! The registry holds no backend-specific code: the built-in steward policies register
//! themselves from their own modules ([`crate::policy::single`], [`crate::policy::multi`]) in the
//! same way, and a policy written outside the framework (see `examples/policy-round-robin`)
//! registers a [`StewardPlugin`] from its own crate.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::config::{BackendConfig, ConfigError, Slot};
use crate::consensus::ConsensusFactory;
use crate::steward::StewardPolicyFactory;
use crate::storage::Storage;
use crate::transport::Transport;

/// What a backend may need besides its own options.
#[derive(Clone, Debug)]
pub struct BuildContext {
    /// The node's label (used e.g. to name in-memory endpoints).
    pub node_name: String,
    /// Directory for resolving relative paths in options.
    pub base_dir: PathBuf,
}

/// Builds a transport from its options. Runs inside the node's tokio runtime.
pub type TransportBuilder =
    fn(&toml::Table, &BuildContext) -> Result<Arc<dyn Transport>, ConfigError>;
/// Builds a storage backend from its options.
pub type StorageBuilder = fn(&toml::Table, &BuildContext) -> Result<Arc<dyn Storage>, ConfigError>;
/// Builds a consensus factory from its options.
pub type ConsensusBuilder =
    fn(&toml::Table, &BuildContext) -> Result<Arc<dyn ConsensusFactory>, ConfigError>;
/// Builds a steward-policy factory from its options.
pub type StewardBuilder =
    fn(&toml::Table, &BuildContext) -> Result<Arc<dyn StewardPolicyFactory>, ConfigError>;

/// A registered transport backend.
pub struct TransportPlugin {
    /// The name used in `backend = "..."`.
    pub name: &'static str,
    /// One line for listings.
    pub description: &'static str,
    /// The constructor.
    pub build: TransportBuilder,
}

/// A registered storage backend.
pub struct StoragePlugin {
    /// The name used in `backend = "..."`.
    pub name: &'static str,
    /// One line for listings.
    pub description: &'static str,
    /// The constructor.
    pub build: StorageBuilder,
}

/// A registered consensus backend.
pub struct ConsensusPlugin {
    /// The name used in `backend = "..."`.
    pub name: &'static str,
    /// One line for listings.
    pub description: &'static str,
    /// The constructor.
    pub build: ConsensusBuilder,
}

/// A registered steward policy.
pub struct StewardPlugin {
    /// The name used in `backend = "..."`.
    pub name: &'static str,
    /// One line for listings.
    pub description: &'static str,
    /// The constructor.
    pub build: StewardBuilder,
}

/// The registration of one plugin, in one line: `register_plugin!(storage, StoragePlugin {
/// name, description, build })` (or `transport`, `consensus`, `steward`) submits it to
/// `inventory` and defines `pub fn link()`, which a program calls once to keep the crate linked
/// and which also registers the plugin at run time (for linkers that drop `inventory` entries).
/// Idempotent. Every bundled backend, the built-in policies and `examples/policy-round-robin`
/// register this way.
#[macro_export]
macro_rules! register_plugin {
    (transport, $value:expr) => {
        $crate::register_plugin!(@ $crate::registry::TransportPlugin, register_transport, $value);
    };
    (storage, $value:expr) => {
        $crate::register_plugin!(@ $crate::registry::StoragePlugin, register_storage, $value);
    };
    (consensus, $value:expr) => {
        $crate::register_plugin!(@ $crate::registry::ConsensusPlugin, register_consensus, $value);
    };
    (steward, $value:expr) => {
        $crate::register_plugin!(@ $crate::registry::StewardPlugin, register_steward, $value);
    };
    (@ $ty:ty, $register:ident, $value:expr) => {
        const PLUGIN: $ty = $value;

        $crate::registry::inventory::submit!(PLUGIN);

        /// What [`link`] hands to the registry at run time.
        static REGISTERED: $ty = PLUGIN;

        /// Keeps this plugin in the final program and registers it at run time too (in case
        /// the linker dropped its `inventory` entry). A program that selects plugins by name
        /// calls it once for every plugin crate it bundles; calling it again does nothing more.
        #[inline(never)]
        pub fn link() {
            $crate::registry::$register(&REGISTERED);
        }
    };
}

#[doc(hidden)]
pub use inventory;

inventory::collect!(TransportPlugin);
inventory::collect!(StoragePlugin);
inventory::collect!(ConsensusPlugin);
inventory::collect!(StewardPlugin);

/// Plugins registered explicitly, at run time, by slot.
#[derive(Default)]
struct Explicit {
    transports: Vec<&'static TransportPlugin>,
    storages: Vec<&'static StoragePlugin>,
    consensus: Vec<&'static ConsensusPlugin>,
    stewards: Vec<&'static StewardPlugin>,
}

static EXPLICIT: Mutex<Explicit> = Mutex::new(Explicit {
    transports: Vec::new(),
    storages: Vec::new(),
    consensus: Vec::new(),
    stewards: Vec::new(),
});

fn explicit<T>(pick: impl FnOnce(&Explicit) -> Vec<&'static T>) -> Vec<&'static T> {
    // A poisoned lock still holds a valid list (pushes cannot half-happen).
    let guard = EXPLICIT.lock().unwrap_or_else(|p| p.into_inner());
    pick(&guard)
}

fn add<T>(pick: impl FnOnce(&mut Explicit) -> &mut Vec<&'static T>, plugin: &'static T) {
    let mut guard = EXPLICIT.lock().unwrap_or_else(|p| p.into_inner());
    let list = pick(&mut guard);
    if !list.iter().any(|p| std::ptr::eq(*p, plugin)) {
        list.push(plugin);
    }
}

/// Registers a transport at run time (in addition to `inventory`). Idempotent.
pub fn register_transport(plugin: &'static TransportPlugin) {
    add(|e| &mut e.transports, plugin);
}

/// Registers a storage backend at run time (in addition to `inventory`). Idempotent.
pub fn register_storage(plugin: &'static StoragePlugin) {
    add(|e| &mut e.storages, plugin);
}

/// Registers a consensus backend at run time (in addition to `inventory`). Idempotent.
pub fn register_consensus(plugin: &'static ConsensusPlugin) {
    add(|e| &mut e.consensus, plugin);
}

/// Registers a steward policy at run time (in addition to `inventory`). Idempotent.
pub fn register_steward(plugin: &'static StewardPlugin) {
    add(|e| &mut e.stewards, plugin);
}

fn transports() -> impl Iterator<Item = &'static TransportPlugin> {
    inventory::iter::<TransportPlugin>().chain(explicit(|e| e.transports.clone()))
}

fn storages() -> impl Iterator<Item = &'static StoragePlugin> {
    inventory::iter::<StoragePlugin>().chain(explicit(|e| e.storages.clone()))
}

fn consensus_plugins() -> impl Iterator<Item = &'static ConsensusPlugin> {
    inventory::iter::<ConsensusPlugin>().chain(explicit(|e| e.consensus.clone()))
}

fn stewards() -> impl Iterator<Item = &'static StewardPlugin> {
    inventory::iter::<StewardPlugin>().chain(explicit(|e| e.stewards.clone()))
}

fn sorted(mut names: Vec<&'static str>) -> Vec<&'static str> {
    names.sort_unstable();
    names.dedup();
    names
}

/// Registered names for a slot, sorted.
pub fn available(slot: Slot) -> Vec<&'static str> {
    sorted(match slot {
        Slot::Transport => transports().map(|p| p.name).collect(),
        Slot::Storage => storages().map(|p| p.name).collect(),
        Slot::Consensus => consensus_plugins().map(|p| p.name).collect(),
        Slot::Steward => stewards().map(|p| p.name).collect(),
    })
}

fn unknown(slot: Slot, name: &str) -> ConfigError {
    ConfigError::UnknownBackend {
        slot,
        name: name.to_owned(),
        available: available(slot).into_iter().map(str::to_owned).collect(),
    }
}

/// Builds the configured transport.
pub fn build_transport(
    cfg: &BackendConfig,
    ctx: &BuildContext,
) -> Result<Arc<dyn Transport>, ConfigError> {
    let plugin = transports()
        .find(|p| p.name == cfg.backend)
        .ok_or_else(|| unknown(Slot::Transport, &cfg.backend))?;
    (plugin.build)(&cfg.options, ctx)
}

/// Builds the configured storage.
pub fn build_storage(
    cfg: &BackendConfig,
    ctx: &BuildContext,
) -> Result<Arc<dyn Storage>, ConfigError> {
    let plugin = storages()
        .find(|p| p.name == cfg.backend)
        .ok_or_else(|| unknown(Slot::Storage, &cfg.backend))?;
    (plugin.build)(&cfg.options, ctx)
}

/// Builds the configured consensus factory.
pub fn build_consensus(
    cfg: &BackendConfig,
    ctx: &BuildContext,
) -> Result<Arc<dyn ConsensusFactory>, ConfigError> {
    let plugin = consensus_plugins()
        .find(|p| p.name == cfg.backend)
        .ok_or_else(|| unknown(Slot::Consensus, &cfg.backend))?;
    (plugin.build)(&cfg.options, ctx)
}

/// Builds the configured steward-policy factory.
pub fn build_steward(
    cfg: &BackendConfig,
    ctx: &BuildContext,
) -> Result<Arc<dyn StewardPolicyFactory>, ConfigError> {
    let plugin = stewards()
        .find(|p| p.name == cfg.backend)
        .ok_or_else(|| unknown(Slot::Steward, &cfg.backend))?;
    (plugin.build)(&cfg.options, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> BuildContext {
        BuildContext {
            node_name: "t".into(),
            base_dir: PathBuf::from("."),
        }
    }

    #[test]
    fn the_built_in_steward_policies_register_themselves() {
        let names = available(Slot::Steward);
        assert!(names.contains(&crate::policy::single::NAME), "{names:?}");
        assert!(names.contains(&crate::policy::multi::NAME), "{names:?}");
    }

    /// A plugin known only through run-time registration (as when a linker dropped its
    /// `inventory` entry).
    static RUNTIME_ONLY: StewardPlugin = StewardPlugin {
        name: "registered-at-run-time",
        description: "a test plugin no inventory entry names",
        build: |options, ctx| {
            let _ = (options, ctx);
            Ok(std::sync::Arc::new(
                crate::policy::single::SinglePolicyFactory::new(Default::default()),
            ))
        },
    };

    #[test]
    fn a_plugin_registered_at_run_time_is_listed_once_and_built() {
        assert!(!available(Slot::Steward).contains(&RUNTIME_ONLY.name));
        register_steward(&RUNTIME_ONLY);
        register_steward(&RUNTIME_ONLY);
        let names = available(Slot::Steward);
        assert_eq!(names.iter().filter(|n| **n == RUNTIME_ONLY.name).count(), 1);
        let cfg = BackendConfig {
            backend: RUNTIME_ONLY.name.into(),
            options: toml::Table::new(),
        };
        assert!(build_steward(&cfg, &ctx()).is_ok());
        // Registering a built-in again (what `link()` does) does not list it twice.
        crate::policy::link();
        crate::policy::link();
        let names = available(Slot::Steward);
        assert_eq!(
            names.iter().filter(|n| **n == "single").count(),
            1,
            "{names:?}"
        );
    }

    #[test]
    fn an_unknown_backend_lists_the_available_names() {
        let cfg = BackendConfig {
            backend: "nope".into(),
            options: toml::Table::new(),
        };
        let err = build_steward(&cfg, &ctx()).err().unwrap();
        let text = err.to_string();
        assert!(
            text.contains("\"nope\"") && text.contains("single"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_option_is_named() {
        let cfg = BackendConfig {
            backend: "single".into(),
            options: toml::toml! { commit_delay_ms = 5
            colour = "red" },
        };
        match build_steward(&cfg, &ctx()).err().unwrap() {
            ConfigError::UnknownKey { key, section, .. } => {
                assert_eq!((key.as_str(), section.as_str()), ("colour", "steward"))
            }
            other => panic!("unexpected {other}"),
        }
    }
}
