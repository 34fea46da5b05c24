//! The node's TOML file: which backend fills each plugin slot, each backend's own options, and
//! the group engine's parameters.
//!
//! ```toml
//! [node]
//! name = "alice"                 # label for traces (optional)
//!
//! [transport]
//! backend = "memory"             # any registered transport
//! network = "demo"               # ...and that backend's own keys
//!
//! [storage]
//! backend = "memory"
//!
//! [consensus]
//! backend = "hashgraph"
//!
//! [steward]
//! backend = "single"
//!
//! [group]                        # engine parameters (all optional)
//! vote_timeout_ms = 10000
//! ```
//!
//! The framework reads only `backend` from a slot table and hands the rest of the table to
//! that backend, which rejects keys it does not know ([`parse_options`]). A missing slot table,
//! or one without `backend`, selects the default backend of the node's [`Profile`]
//! (`[node] profile`): `"embedded"` (the default: everything in-process) or `"logos"` (the Logos
//! messaging transport with durable SQLite storage).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::engine::EngineParams;

/// The four plugin slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// `[transport]`
    Transport,
    /// `[storage]`
    Storage,
    /// `[consensus]`
    Consensus,
    /// `[steward]`
    Steward,
}

impl Slot {
    /// The table name in the TOML file.
    pub fn table(self) -> &'static str {
        match self {
            Slot::Transport => "transport",
            Slot::Storage => "storage",
            Slot::Consensus => "consensus",
            Slot::Steward => "steward",
        }
    }

    /// The backend used when the file does not name one (in the default, `embedded`, profile).
    pub fn default_backend(self) -> &'static str {
        match self {
            Slot::Transport => "memory",
            Slot::Storage => "memory",
            Slot::Consensus => "hashgraph",
            Slot::Steward => "single",
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}]", self.table())
    }
}

/// A named set of default backends, one per slot, chosen by `[node] profile`. Slots the file
/// names explicitly override it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Everything in-process: the `memory` transport and storage, `hashgraph` consensus and the
    /// `single` steward policy. For tests, demos and embedders that bring their own I/O.
    #[default]
    Embedded,
    /// A real deployment on Logos messaging: the `logos` (Waku relay) transport, durable
    /// `sqlite` storage, `hashgraph` consensus and the elected `multi` steward list.
    Logos,
}

impl Profile {
    /// The backend this profile selects for `slot` when the file does not name one.
    pub fn default_backend(self, slot: Slot) -> &'static str {
        match (self, slot) {
            (Profile::Embedded, slot) => slot.default_backend(),
            (Profile::Logos, Slot::Transport) => "logos",
            (Profile::Logos, Slot::Storage) => "sqlite",
            (Profile::Logos, Slot::Consensus) => "hashgraph",
            (Profile::Logos, Slot::Steward) => "multi",
        }
    }
}

/// Why a configuration could not be loaded. Every variant says where and what.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}line {line}, column {column}: {message}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Parse {
        /// The path, when read from a file.
        path: Option<PathBuf>,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A top-level table the framework does not know.
    #[error("unknown section [{0}] (expected node, transport, storage, consensus, steward, group)")]
    UnknownSection(String),
    /// `backend` names nothing registered for the slot.
    #[error("{slot}: unknown backend {name:?}; available: {}", available.join(", "))]
    UnknownBackend {
        /// The slot.
        slot: Slot,
        /// The requested name.
        name: String,
        /// Registered names for the slot.
        available: Vec<String>,
    },
    /// A key the section or backend does not accept.
    #[error("[{section}]: unknown key `{key}`{}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    UnknownKey {
        /// The table (slot name, `node` or `group`).
        section: String,
        /// The key, with its path inside the table.
        key: String,
        /// The line, when it could be located.
        line: Option<usize>,
    },
    /// A value of the wrong type or out of range.
    #[error("[{section}]: {message}")]
    InvalidValue {
        /// The table.
        section: String,
        /// What is wrong.
        message: String,
    },
    /// A backend could not start with these options.
    #[error("{slot} backend {backend:?} failed to start: {message}")]
    Backend {
        /// The slot.
        slot: Slot,
        /// The backend.
        backend: String,
        /// What failed.
        message: String,
    },
}

/// One slot's selection.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendConfig {
    /// The backend's registered name.
    pub backend: String,
    /// The rest of the slot's table, for the backend.
    pub options: toml::Table,
}

/// `[node]` options.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct NodeSection {
    /// A label for traces.
    pub name: Option<String>,
    /// A fixed identity: 64 hex characters (an Ed25519 seed). Without it, storage holds a
    /// generated identity.
    pub identity_seed: Option<String>,
    /// Capacity of the event queue between the node and the application.
    pub event_queue: Option<usize>,
    /// Messages of each group the node keeps for `history` (default 1000; 0 keeps none).
    pub history: Option<usize>,
    /// Which backends fill the slots the file does not name (`"embedded"` or `"logos"`).
    pub profile: Profile,
}

/// A whole node configuration.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// `[node]`.
    pub node: NodeSection,
    /// `[transport]`.
    pub transport: BackendConfig,
    /// `[storage]`.
    pub storage: BackendConfig,
    /// `[consensus]`.
    pub consensus: BackendConfig,
    /// `[steward]`.
    pub steward: BackendConfig,
    /// `[group]`.
    pub group: EngineParams,
    /// Directory relative paths in backend options are resolved against.
    pub base_dir: PathBuf,
}

impl Default for NodeConfig {
    fn default() -> Self {
        let slot = |s: Slot| BackendConfig {
            backend: s.default_backend().to_owned(),
            options: toml::Table::new(),
        };
        NodeConfig {
            node: NodeSection::default(),
            transport: slot(Slot::Transport),
            storage: slot(Slot::Storage),
            consensus: slot(Slot::Consensus),
            steward: slot(Slot::Steward),
            group: EngineParams::default(),
            base_dir: PathBuf::from("."),
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Finds the line of `key` inside `[section]`, for error messages.
fn locate_key(text: &str, section: &str, key: &str) -> Option<usize> {
    let first = key.split('.').next().unwrap_or(key);
    let header = format!("[{section}]");
    let mut in_section = section.is_empty();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            in_section = t == header;
            continue;
        }
        if in_section {
            let name = t.split('=').next().unwrap_or("").trim().trim_matches('"');
            if name == first {
                return Some(i + 1);
            }
        }
    }
    None
}

/// Deserializes `table` into `T`, reporting the first key `T` does not accept as
/// [`ConfigError::UnknownKey`]. Backends use this for their own options.
pub fn parse_options<T: DeserializeOwned>(
    section: &str,
    table: &toml::Table,
) -> Result<T, ConfigError> {
    parse_table(section, table, None)
}

fn parse_table<T: DeserializeOwned>(
    section: &str,
    table: &toml::Table,
    text: Option<&str>,
) -> Result<T, ConfigError> {
    let mut unknown = Vec::new();
    let value = toml::Value::Table(table.clone());
    let parsed: Result<T, _> =
        serde_ignored::deserialize(value, |path| unknown.push(path.to_string()));
    if let Some(key) = unknown.into_iter().next() {
        return Err(ConfigError::UnknownKey {
            section: section.to_owned(),
            line: text.and_then(|t| locate_key(t, section, &key)),
            key,
        });
    }
    parsed.map_err(|e| ConfigError::InvalidValue {
        section: section.to_owned(),
        message: e.to_string(),
    })
}

impl NodeConfig {
    /// Reads a configuration file; relative paths in it are resolved against its directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<NodeConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, Some(path), base)
    }

    /// Parses configuration text.
    pub fn from_toml_str(text: &str) -> Result<NodeConfig, ConfigError> {
        Self::parse(text, None, PathBuf::from("."))
    }

    fn parse(
        text: &str,
        path: Option<&Path>,
        base_dir: PathBuf,
    ) -> Result<NodeConfig, ConfigError> {
        let mut doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
            ConfigError::Parse {
                path: path.map(Path::to_path_buf),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        let mut config = NodeConfig {
            base_dir,
            ..NodeConfig::default()
        };
        if let Some(node) = doc.remove("node") {
            let table = as_table("node", node)?;
            config.node = parse_table("node", &table, Some(text))?;
        }
        if let Some(group) = doc.remove("group") {
            let table = as_table("group", group)?;
            config.group = parse_table("group", &table, Some(text))?;
        }
        let profile = config.node.profile;
        for slot in [
            Slot::Transport,
            Slot::Storage,
            Slot::Consensus,
            Slot::Steward,
        ] {
            let Some(value) = doc.remove(slot.table()) else {
                config.set_slot(
                    slot,
                    BackendConfig {
                        backend: profile.default_backend(slot).to_owned(),
                        options: toml::Table::new(),
                    },
                );
                continue;
            };
            let mut options = as_table(slot.table(), value)?;
            let backend = match options.remove("backend") {
                Some(toml::Value::String(name)) => name,
                Some(_) => {
                    return Err(ConfigError::InvalidValue {
                        section: slot.table().into(),
                        message: "`backend` must be a string".into(),
                    });
                }
                None => profile.default_backend(slot).to_owned(),
            };
            config.set_slot(slot, BackendConfig { backend, options });
        }
        if let Some((name, _)) = doc.into_iter().next() {
            return Err(ConfigError::UnknownSection(name));
        }
        Ok(config)
    }

    fn set_slot(&mut self, slot: Slot, selected: BackendConfig) {
        match slot {
            Slot::Transport => self.transport = selected,
            Slot::Storage => self.storage = selected,
            Slot::Consensus => self.consensus = selected,
            Slot::Steward => self.steward = selected,
        }
    }

    /// The configured identity seed, if any.
    pub fn identity_seed(&self) -> Result<Option<[u8; 32]>, ConfigError> {
        let Some(hex_seed) = &self.node.identity_seed else {
            return Ok(None);
        };
        let invalid = || ConfigError::InvalidValue {
            section: "node".into(),
            message: "identity_seed must be 64 hex characters".into(),
        };
        let bytes = hex::decode(hex_seed).map_err(|_| invalid())?;
        bytes.try_into().map(Some).map_err(|_| invalid())
    }
}

fn as_table(section: &str, value: toml::Value) -> Result<toml::Table, ConfigError> {
    match value {
        toml::Value::Table(t) => Ok(t),
        _ => Err(ConfigError::InvalidValue {
            section: section.to_owned(),
            message: "must be a table".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_slots_select_the_defaults() {
        let c = NodeConfig::from_toml_str("").unwrap();
        assert_eq!(c.transport.backend, "memory");
        assert_eq!(c.consensus.backend, "hashgraph");
        assert_eq!(c.steward.backend, "single");
    }

    #[test]
    fn the_logos_profile_selects_the_waku_transport_and_sqlite_storage() {
        let c = NodeConfig::from_toml_str(
            "[node]\nprofile = \"logos\"\n[transport]\nshard = 3\n[steward]\nbackend = \"single\"\n",
        )
        .unwrap();
        assert_eq!(c.transport.backend, "logos");
        assert_eq!(
            c.transport
                .options
                .get("shard")
                .and_then(|v| v.as_integer()),
            Some(3)
        );
        assert_eq!(c.storage.backend, "sqlite");
        assert_eq!(c.consensus.backend, "hashgraph");
        assert_eq!(c.steward.backend, "single", "an explicit backend wins");
    }

    #[test]
    fn an_unknown_profile_is_refused_with_the_known_ones() {
        let err = NodeConfig::from_toml_str("[node]\nprofile = \"cloud\"\n").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::InvalidValue { .. }), "{text}");
        assert!(
            text.contains("embedded") && text.contains("logos"),
            "{text}"
        );
    }

    #[test]
    fn backend_options_are_handed_over_without_the_backend_key() {
        let c = NodeConfig::from_toml_str("[transport]\nbackend = \"memory\"\nnetwork = \"x\"\n")
            .unwrap();
        assert_eq!(
            c.transport.options.get("network").and_then(|v| v.as_str()),
            Some("x")
        );
        assert!(!c.transport.options.contains_key("backend"));
    }

    #[test]
    fn bad_toml_reports_line_and_column() {
        let err = NodeConfig::from_toml_str("[node]\nname = \"a\"\nbroken = = 3\n").unwrap_err();
        match err {
            ConfigError::Parse { line, column, .. } => assert_eq!((line, column), (3, 10)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_keys_in_framework_sections_are_named_with_their_line() {
        let err =
            NodeConfig::from_toml_str("[group]\nvote_timeout_ms = 5\nbogus = 1\n").unwrap_err();
        match err {
            ConfigError::UnknownKey { section, key, line } => {
                assert_eq!(
                    (section.as_str(), key.as_str(), line),
                    ("group", "bogus", Some(3))
                )
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_sections_and_non_string_backends_are_errors() {
        assert!(matches!(
            NodeConfig::from_toml_str("[nope]\n").unwrap_err(),
            ConfigError::UnknownSection(s) if s == "nope"
        ));
        assert!(matches!(
            NodeConfig::from_toml_str("[storage]\nbackend = 3\n").unwrap_err(),
            ConfigError::InvalidValue { .. }
        ));
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_the_path() {
        let err = NodeConfig::from_file("/nonexistent/demls.toml").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/demls.toml"));
    }

    #[test]
    fn identity_seeds_must_be_32_hex_bytes() {
        let ok = NodeConfig::from_toml_str(&format!(
            "[node]\nidentity_seed = \"{}\"\n",
            "ab".repeat(32)
        ))
        .unwrap();
        assert_eq!(ok.identity_seed().unwrap(), Some([0xab; 32]));
        let bad = NodeConfig::from_toml_str("[node]\nidentity_seed = \"abc\"\n").unwrap();
        assert!(bad.identity_seed().is_err());
    }
}
