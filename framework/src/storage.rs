//! The `Storage` plugin trait: a small transactional key-value store that holds *all* of a
//! node's state — the OpenMLS state (through the MLS layer's storage provider, which the
//! framework implements once on top of this trait) and the group engine's own records.
//!
//! Keeping the plugin surface this small is deliberate: a backend implements four methods and
//! gets a complete, crash-consistent node, because the engine gathers every write of one step
//! into a [`WriteBatch`] and hands it to [`Storage::apply`] at the end of the step. A step that
//! fails is simply never applied, which is what guarantees that rejected input leaves state
//! unchanged.

use std::fmt;

/// Key-value pairs, as returned by [`Storage::scan_prefix`].
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A namespace inside the store. Backends may map spaces to tables or to key prefixes; keys in
/// different spaces never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Space {
    /// Node-level records: identity, pending joins, schema version.
    Node = 1,
    /// OpenMLS entities (trees, secrets, key packages), written by the MLS storage provider.
    Mls = 2,
    /// Group engine records: proposals, steward state, retained commits.
    Engine = 3,
    /// Consensus plugin records (proposals and votes in flight).
    Consensus = 4,
    /// The application message log.
    Messages = 5,
}

impl Space {
    /// Every space, in tag order.
    pub const ALL: [Space; 5] = [
        Space::Node,
        Space::Mls,
        Space::Engine,
        Space::Consensus,
        Space::Messages,
    ];

    /// A stable one-byte tag for backends that prefix keys.
    pub fn tag(self) -> u8 {
        self as u8
    }

    /// A stable lowercase name for backends that use one table per space.
    pub fn name(self) -> &'static str {
        match self {
            Space::Node => "node",
            Space::Mls => "mls",
            Space::Engine => "engine",
            Space::Consensus => "consensus",
            Space::Messages => "messages",
        }
    }
}

/// One write inside a [`WriteBatch`].
#[derive(Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Insert or overwrite `key` with `value`.
    Put {
        /// The namespace.
        space: Space,
        /// The key.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// Remove `key` if present.
    Delete {
        /// The namespace.
        space: Space,
        /// The key.
        key: Vec<u8>,
    },
    /// Remove every key starting with `prefix` (an empty prefix clears the space).
    DeletePrefix {
        /// The namespace.
        space: Space,
        /// The prefix.
        prefix: Vec<u8>,
    },
}

impl fmt::Debug for WriteOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteOp::Put { space, key, value } => {
                write!(
                    f,
                    "Put({space:?}, {}, {} bytes)",
                    hex::encode(key),
                    value.len()
                )
            }
            WriteOp::Delete { space, key } => write!(f, "Delete({space:?}, {})", hex::encode(key)),
            WriteOp::DeletePrefix { space, prefix } => {
                write!(f, "DeletePrefix({space:?}, {})", hex::encode(prefix))
            }
        }
    }
}

/// An ordered list of writes that a backend applies atomically: all or nothing. Later
/// operations in the batch override earlier ones on the same key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Appends a put.
    pub fn put(&mut self, space: Space, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Put {
            space,
            key: key.into(),
            value: value.into(),
        });
    }

    /// Appends a delete.
    pub fn delete(&mut self, space: Space, key: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Delete {
            space,
            key: key.into(),
        });
    }

    /// Appends a prefix delete.
    pub fn delete_prefix(&mut self, space: Space, prefix: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::DeletePrefix {
            space,
            prefix: prefix.into(),
        });
    }

    /// Appends every operation of `other`.
    pub fn extend(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Consumes the batch into its operations.
    pub fn into_ops(self) -> Vec<WriteOp> {
        self.ops
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
}

/// Why a storage operation failed. `Ok(None)` from [`Storage::get`] means "absent"; an `Err`
/// always means the store could not answer or could not write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The underlying medium failed (I/O error, lost connection).
    #[error("storage I/O failure: {0}")]
    Io(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored bytes are damaged or not in the expected format.
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
    /// The medium is full; the batch was not applied.
    #[error("storage is full")]
    Full,
    /// Another process holds the store; the batch was not applied.
    #[error("storage is locked by another process")]
    Locked,
    /// The store was written by a newer schema than this build understands.
    #[error("storage schema version {found} is newer than the supported version {supported}")]
    VersionTooNew {
        /// The version found in the store.
        found: u32,
        /// The newest version this build can open.
        supported: u32,
    },
}

/// A transactional key-value store holding all of a node's state.
///
/// # Note for implementers
/// - `get` returns `Ok(None)` for an absent key and `Err` only when the store cannot answer.
/// - `scan_prefix` returns every `(key, value)` in `space` whose key starts with `prefix`,
///   sorted by key bytes ascending.
/// - `apply` is **atomic**: after it returns `Ok`, every operation of the batch is visible to
///   subsequent reads; after it returns `Err`, none is, and the store is unchanged. Operations
///   apply in order. A durable backend must have made the batch durable before returning `Ok`
///   (a crash after `Ok` loses nothing; a crash during `apply` loses the whole batch).
/// - Reads after a successful `apply` observe it (read-your-writes), also from other threads.
/// - Keys and values are arbitrary bytes; values may be several megabytes (a ratchet tree of a
///   10,000-member group is about 2 MB).
/// - All methods take `&self` and may be called from several threads.
pub trait Storage: Send + Sync {
    /// The name this backend is registered under (e.g. `"memory"`, `"sqlite"`).
    fn name(&self) -> &str;

    /// Reads one value.
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Reads every entry of `space` whose key starts with `prefix`, sorted by key.
    fn scan_prefix(&self, space: Space, prefix: &[u8]) -> Result<Entries, StorageError>;

    /// Applies `batch` atomically.
    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError>;
}
