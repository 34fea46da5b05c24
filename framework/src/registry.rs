//! The backend registry: every plugin registers itself under a name with
//! [`inventory`], and a node's TOML file picks one per slot by that name.
//!
//! A backend crate submits a [`TransportPlugin`], [`StoragePlugin`], [`ConsensusPlugin`] or
//! [`StewardPlugin`] with `inventory::submit!` and exposes a `link()` function. Registration
//! happens before `main`, but only for crates the linker keeps: a program (or the C library)
//! must reference every bundled backend, e.g. by calling its `link()`, or its entry is dropped.
//!
//! The registry holds no backend-specific code: the built-in steward policies register
//! themselves from their own modules ([`crate::policy::single`], [`crate::policy::multi`]) in the
//! same way, and a policy written outside the framework (see `examples/policy-round-robin`)
//! registers a [`StewardPlugin`] from its own crate.

use std::path::PathBuf;
use std::sync::Arc;

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

inventory::collect!(TransportPlugin);
inventory::collect!(StoragePlugin);
inventory::collect!(ConsensusPlugin);
inventory::collect!(StewardPlugin);

fn sorted(mut names: Vec<&'static str>) -> Vec<&'static str> {
    names.sort_unstable();
    names.dedup();
    names
}

/// Registered names for a slot, sorted.
pub fn available(slot: Slot) -> Vec<&'static str> {
    sorted(match slot {
        Slot::Transport => inventory::iter::<TransportPlugin>()
            .map(|p| p.name)
            .collect(),
        Slot::Storage => inventory::iter::<StoragePlugin>().map(|p| p.name).collect(),
        Slot::Consensus => inventory::iter::<ConsensusPlugin>()
            .map(|p| p.name)
            .collect(),
        Slot::Steward => inventory::iter::<StewardPlugin>().map(|p| p.name).collect(),
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
    let plugin = inventory::iter::<TransportPlugin>()
        .find(|p| p.name == cfg.backend)
        .ok_or_else(|| unknown(Slot::Transport, &cfg.backend))?;
    (plugin.build)(&cfg.options, ctx)
}

/// Builds the configured storage.
pub fn build_storage(
    cfg: &BackendConfig,
    ctx: &BuildContext,
) -> Result<Arc<dyn Storage>, ConfigError> {
    let plugin = inventory::iter::<StoragePlugin>()
        .find(|p| p.name == cfg.backend)
        .ok_or_else(|| unknown(Slot::Storage, &cfg.backend))?;
    (plugin.build)(&cfg.options, ctx)
}

/// Builds the configured consensus factory.
pub fn build_consensus(
    cfg: &BackendConfig,
    ctx: &BuildContext,
) -> Result<Arc<dyn ConsensusFactory>, ConfigError> {
    let plugin = inventory::iter::<ConsensusPlugin>()
        .find(|p| p.name == cfg.backend)
        .ok_or_else(|| unknown(Slot::Consensus, &cfg.backend))?;
    (plugin.build)(&cfg.options, ctx)
}

/// Builds the configured steward-policy factory.
pub fn build_steward(
    cfg: &BackendConfig,
    ctx: &BuildContext,
) -> Result<Arc<dyn StewardPolicyFactory>, ConfigError> {
    let plugin = inventory::iter::<StewardPlugin>()
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
