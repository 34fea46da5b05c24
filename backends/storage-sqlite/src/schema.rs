//! The database schema, its version and the migrations between versions.
//!
//! A `meta` table holds `schema_version`. Opening a database runs, in one transaction, every
//! migration from the stored version up to [`SCHEMA_VERSION`]; a database written by a newer
//! build is refused with [`StorageError::VersionTooNew`] and left untouched. Version 0 is an
//! empty file.
//!
//! Version 1 keeps every [`Space`](demls::Space) in one `kv` table keyed by `(space, key)`,
//! `WITHOUT ROWID` so the primary key *is* the B-tree: a point read is one descent and a
//! prefix scan is one contiguous range.

use demls::StorageError;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior};

use crate::error::SqliteResultExt;

/// One migration: brings the schema from version `i` to `i + 1`, where `i` is its index.
type Migration = fn(&Transaction<'_>) -> rusqlite::Result<()>;

/// Every migration in order; the schema version this build writes is their count.
const MIGRATIONS: &[Migration] = &[create_v1];

/// The schema version this build writes and the newest it can open.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

fn create_v1(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
         CREATE TABLE kv (
             space INTEGER NOT NULL,
             key BLOB NOT NULL,
             value BLOB NOT NULL,
             PRIMARY KEY (space, key)
         ) WITHOUT ROWID;",
    )
}

/// The version stored in `tx`'s database: 0 for an empty database.
fn stored_version(tx: &Transaction<'_>) -> Result<u32, StorageError> {
    let tables: i64 = tx
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .storage()?;
    if tables == 0 {
        return Ok(0);
    }
    let has_meta: bool = tx
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'",
            [],
            |row| row.get::<_, i64>(0).map(|n| n > 0),
        )
        .storage()?;
    if !has_meta {
        return Err(StorageError::Corrupt(
            "an SQLite database without a demls schema (no meta table)".into(),
        ));
    }
    let version: Option<i64> = tx
        .query_row(
            "SELECT value FROM meta WHERE name = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
        .storage()?;
    match version.map(u32::try_from) {
        Some(Ok(v)) if v > 0 => Ok(v),
        other => Err(StorageError::Corrupt(format!(
            "invalid schema version {other:?}"
        ))),
    }
}

/// Brings the database to [`SCHEMA_VERSION`] (creating it when empty), in one transaction.
/// Returns the version found before.
pub(crate) fn migrate(conn: &mut rusqlite::Connection) -> Result<u32, StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .storage()?;
    let found = stored_version(&tx)?;
    if found > SCHEMA_VERSION {
        return Err(StorageError::VersionTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (from, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tracing::info!(from, to = from + 1, "migrating sqlite storage schema");
        migration(&tx).storage()?;
    }
    if found < SCHEMA_VERSION {
        tx.execute(
            "INSERT INTO meta (name, value) VALUES ('schema_version', ?1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [SCHEMA_VERSION],
        )
        .storage()?;
    }
    tx.commit().storage()?;
    Ok(found)
}

/// Overwrites the stored schema version (tests use it to stand for a newer build).
#[doc(hidden)]
pub fn set_stored_version(path: &std::path::Path, version: u32) -> Result<(), StorageError> {
    let conn = rusqlite::Connection::open(path).storage()?;
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'schema_version'",
        [version],
    )
    .storage()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_database_is_migrated_from_version_zero_once() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 0, "created from nothing");
        assert_eq!(
            migrate(&mut conn).unwrap(),
            SCHEMA_VERSION,
            "already current: nothing to run"
        );
        let version: u32 = conn
            .query_row(
                "SELECT value FROM meta WHERE name = 'schema_version'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_meta_table_without_a_version_is_corrupt() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute("DELETE FROM meta", []).unwrap();
        assert!(matches!(migrate(&mut conn), Err(StorageError::Corrupt(_))));
    }
}
