//! [`SqliteStorage`]: the [`Storage`] trait on one SQLite connection.
//!
//! This module owns opening the file (pragmas, structural check, schema), and the four trait
//! methods. Every [`apply`](Storage::apply) is one `BEGIN IMMEDIATE … COMMIT` transaction, so
//! a batch is on disk whole or not at all, whatever instant the process dies at.
//!
//! Thread safety: the connection sits behind a [`Mutex`]; readers and writers from several
//! threads take turns. Engine steps are serial per node anyway, and SQLite itself would
//! serialise writers on one file, so a pool would buy little.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use demls::{Entries, Space, Storage, StorageError, WriteBatch, WriteOp};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use crate::config::Config;
use crate::error::SqliteResultExt;
use crate::schema;

const GET: &str = "SELECT value FROM kv WHERE space = ?1 AND key = ?2";
const SCAN_RANGE: &str =
    "SELECT key, value FROM kv WHERE space = ?1 AND key >= ?2 AND key < ?3 ORDER BY key";
const SCAN_FROM: &str = "SELECT key, value FROM kv WHERE space = ?1 AND key >= ?2 ORDER BY key";
const PUT: &str = "INSERT INTO kv (space, key, value) VALUES (?1, ?2, ?3)
     ON CONFLICT (space, key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM kv WHERE space = ?1 AND key = ?2";
const DELETE_RANGE: &str = "DELETE FROM kv WHERE space = ?1 AND key >= ?2 AND key < ?3";
const DELETE_FROM: &str = "DELETE FROM kv WHERE space = ?1 AND key >= ?2";

/// The smallest key greater than every key starting with `prefix`, or `None` when there is
/// none (the prefix is empty or all `0xff`): then the range has no upper bound.
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let end = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut successor = prefix[..=end].to_vec();
    successor[end] += 1;
    Some(successor)
}

/// A durable [`Storage`] in one SQLite database file (WAL mode, one transaction per batch).
///
/// The file is opened in exclusive locking mode: while a store is open, no other connection
/// or process can read or write the file, and a second open fails with
/// [`StorageError::Locked`] (two engines on one identity's state would corrupt each other's
/// MLS secrets).
pub struct SqliteStorage {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Opens (creating when absent) the database at `path` with default options.
    pub fn open_path(path: impl Into<PathBuf>) -> Result<SqliteStorage, StorageError> {
        SqliteStorage::open(&Config::at(path))
    }

    /// Opens (creating when absent) the database `config` names, checks it and brings its
    /// schema up to date. A database that is missing or empty where a node's database was
    /// (its `<path>.demls` marker exists), or a file too short to be a database, is refused
    /// rather than replaced by a new one.
    ///
    /// # Errors
    /// [`StorageError::Locked`] when another connection holds the file,
    /// [`StorageError::Corrupt`] when it is damaged or not a demls database,
    /// [`StorageError::VersionTooNew`] when a newer build wrote it, [`StorageError::Full`] when
    /// creating the schema does not fit `max_page_count`, [`StorageError::Io`] otherwise.
    pub fn open(config: &Config) -> Result<SqliteStorage, StorageError> {
        crate::marker::check_before_open(&config.path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&config.path, flags).storage()?;
        conn.busy_timeout(std::time::Duration::from_millis(config.busy_timeout_ms))
            .storage()?;
        // Exclusive locking before WAL: no shared-memory index, and the lock taken by the first
        // write below is held until the store is dropped (or the process dies).
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .storage()?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .storage()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Io(
                format!("sqlite refused WAL mode (journal_mode = {mode})").into(),
            ));
        }
        conn.pragma_update(None, "synchronous", config.synchronous.pragma())
            .storage()?;
        if let Some(pages) = config.max_page_count {
            conn.pragma_update(None, "max_page_count", pages)
                .storage()?;
        }
        // Statements of the hot paths (one per engine step) stay prepared.
        conn.set_prepared_statement_cache_capacity(16);
        if config.verify_on_open {
            quick_check(&conn)?;
        }
        let found = schema::migrate(&mut conn)?;
        crate::marker::ensure(&config.path)?;
        tracing::debug!(
            path = %config.path.display(),
            found,
            version = schema::SCHEMA_VERSION,
            synchronous = config.synchronous.pragma(),
            "opened sqlite storage"
        );
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
            path: config.path.clone(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the live entries' pages take (the file's pages minus its free list), after
    /// moving the write-ahead log into the file.
    pub fn used_bytes(&self) -> Result<u64, StorageError> {
        let conn = self.lock();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .storage()?;
        let pragma = |name: &str| -> Result<u64, StorageError> {
            conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, i64>(0))
                .storage()
                .map(|v| v.max(0) as u64)
        };
        Ok((pragma("page_count")? - pragma("freelist_count")?) * pragma("page_size")?)
    }

    /// The connection; a panic while it was held leaves no transaction open (rusqlite rolls
    /// an unfinished one back when it is dropped), so a poisoned lock is safe to reuse.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Fails with [`StorageError::Corrupt`] unless SQLite's structural check passes.
fn quick_check(conn: &Connection) -> Result<(), StorageError> {
    let mut stmt = conn.prepare("PRAGMA quick_check").storage()?;
    let problems: Vec<String> = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .storage()?
        .collect::<Result<_, _>>()
        .storage()?;
    match problems.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        _ => Err(StorageError::Corrupt(problems.join("; "))),
    }
}

fn apply_op(tx: &rusqlite::Transaction<'_>, op: WriteOp) -> rusqlite::Result<()> {
    match op {
        WriteOp::Put { space, key, value } => {
            tx.prepare_cached(PUT)?
                .execute(params![space.tag(), key, value])?;
        }
        WriteOp::Delete { space, key } => {
            tx.prepare_cached(DELETE)?
                .execute(params![space.tag(), key])?;
        }
        WriteOp::DeletePrefix { space, prefix } => match prefix_successor(&prefix) {
            Some(end) => {
                tx.prepare_cached(DELETE_RANGE)?
                    .execute(params![space.tag(), prefix, end])?;
            }
            None => {
                tx.prepare_cached(DELETE_FROM)?
                    .execute(params![space.tag(), prefix])?;
            }
        },
    }
    Ok(())
}

impl Storage for SqliteStorage {
    fn name(&self) -> &str {
        crate::NAME
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(GET).storage()?;
        stmt.query_row(params![space.tag(), key], |row| row.get(0))
            .optional()
            .storage()
    }

    fn scan_prefix(&self, space: Space, prefix: &[u8]) -> Result<Entries, StorageError> {
        let conn = self.lock();
        let successor = prefix_successor(prefix);
        let mut stmt = conn
            .prepare_cached(if successor.is_some() {
                SCAN_RANGE
            } else {
                SCAN_FROM
            })
            .storage()?;
        let row = |row: &rusqlite::Row<'_>| Ok((row.get(0)?, row.get(1)?));
        let rows = match &successor {
            Some(end) => stmt.query_map(params![space.tag(), prefix, end], row),
            None => stmt.query_map(params![space.tag(), prefix], row),
        };
        rows.storage()?.collect::<Result<_, _>>().storage()
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StorageError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let ops = batch.len();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .storage()?;
        for op in batch.into_ops() {
            // On error `tx` is dropped, which rolls the whole batch back.
            apply_op(&tx, op).storage()?;
        }
        tx.commit().map_err(|e| {
            let error = crate::error::storage_error(e);
            tracing::warn!(ops, %error, "sqlite storage refused a batch");
            error
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_successor_bounds_exactly_the_prefixed_keys() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\x00"), Some(b"\x01".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }
}
