//! Bad storage input: damaged, truncated, foreign, locked, full and too-new database files
//! each fail with their typed `StorageError`, never a panic, and never lose committed data.

use std::path::{Path, PathBuf};

use demls::{Space, Storage, StorageError, WriteBatch};
use demls_storage_sqlite::{Config, SCHEMA_VERSION, SqliteStorage, set_stored_version};

fn put(store: &dyn Storage, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
    let mut batch = WriteBatch::new();
    batch.put(Space::Mls, key, value);
    store.apply(batch)
}

/// A closed database of `entries` 1 KiB values (about `entries` KiB on disk).
fn filled_database(dir: &Path, entries: u32) -> PathBuf {
    let path = dir.join("node.db");
    let store = SqliteStorage::open_path(&path).unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..entries {
        batch.put(Space::Mls, i.to_be_bytes(), vec![i as u8; 1024]);
    }
    store.apply(batch).unwrap();
    // Move the log into the main file so damaging the file damages the data.
    store.used_bytes().unwrap();
    drop(store);
    path
}

fn open_quickly(path: &Path) -> Result<SqliteStorage, StorageError> {
    let mut config = Config::at(path);
    config.busy_timeout_ms = 20;
    SqliteStorage::open(&config)
}

fn expect_corrupt(result: Result<SqliteStorage, StorageError>) {
    match result {
        Err(StorageError::Corrupt(_)) => {}
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("a damaged file opened"),
    }
}

/// Cuts the file at `path` to half its length, as a crash of the file system or a bad copy might.
fn truncate_to_half(path: &Path) {
    let len = std::fs::metadata(path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
}

#[test]
fn a_file_that_is_not_a_database_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    std::fs::write(&path, vec![0x42; 8192]).unwrap();
    expect_corrupt(SqliteStorage::open_path(&path));
}

#[test]
fn a_truncated_database_is_corrupt_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_database(dir.path(), 400);
    truncate_to_half(&path);
    expect_corrupt(SqliteStorage::open_path(&path));
}

#[test]
fn without_the_open_check_a_truncated_database_still_fails_instead_of_losing_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_database(dir.path(), 400);
    truncate_to_half(&path);
    let mut config = Config::at(&path);
    config.verify_on_open = false;
    // Either opening notices (reading the schema) or the first read of a lost page does.
    let scanned = SqliteStorage::open(&config).and_then(|store| store.scan_prefix(Space::Mls, b""));
    match scanned {
        Err(StorageError::Corrupt(_)) => {}
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(entries) => panic!("a half file read as {} entries of 400", entries.len()),
    }
}

#[test]
fn a_database_with_overwritten_pages_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_database(dir.path(), 400);
    let mut bytes = std::fs::read(&path).unwrap();
    // Pages 2..6 hold the tables' B-tree roots and interior pages.
    for b in &mut bytes[4096..6 * 4096] {
        *b = 0xa5;
    }
    std::fs::write(&path, bytes).unwrap();
    expect_corrupt(SqliteStorage::open_path(&path));
}

#[test]
fn an_sqlite_database_of_another_application_is_refused_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY, data BLOB)")
        .unwrap();
    expect_corrupt(SqliteStorage::open_path(&path));
}

#[test]
fn a_database_another_store_holds_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    let first = SqliteStorage::open_path(&path).unwrap();
    put(&first, b"k", b"v").unwrap();
    assert!(matches!(open_quickly(&path), Err(StorageError::Locked)));
    // The holder is unaffected, and the file opens once it is closed.
    put(&first, b"k2", b"v2").unwrap();
    drop(first);
    let second = open_quickly(&path).unwrap();
    assert_eq!(second.get(Space::Mls, b"k2").unwrap(), Some(b"v2".to_vec()));
}

#[test]
fn a_database_another_connection_is_writing_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    drop(SqliteStorage::open_path(&path).unwrap());
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert!(matches!(open_quickly(&path), Err(StorageError::Locked)));
    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    open_quickly(&path).unwrap();
}

#[test]
fn a_full_disk_refuses_the_batch_whole_and_keeps_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::at(dir.path().join("node.db"));
    config.max_page_count = Some(40);
    let store = SqliteStorage::open(&config).unwrap();
    put(&store, b"kept", &[7; 10_000]).unwrap();
    let mut batch = WriteBatch::new();
    batch.delete(Space::Mls, b"kept");
    batch.put(Space::Mls, b"small", b"x");
    batch.put(Space::Mls, b"huge", vec![1; 400_000]);
    assert!(matches!(store.apply(batch), Err(StorageError::Full)));
    assert_eq!(
        store.get(Space::Mls, b"kept").unwrap(),
        Some(vec![7; 10_000])
    );
    assert_eq!(store.get(Space::Mls, b"small").unwrap(), None);
    // Batches that fit still work, and a larger limit lifts the refusal.
    put(&store, b"small", b"x").unwrap();
    drop(store);
    config.max_page_count = None;
    let store = SqliteStorage::open(&config).unwrap();
    put(&store, b"huge", &[1; 400_000]).unwrap();
    assert_eq!(
        store.get(Space::Mls, b"small").unwrap(),
        Some(b"x".to_vec())
    );
}

#[test]
fn a_database_written_by_a_newer_schema_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    let store = SqliteStorage::open_path(&path).unwrap();
    put(&store, b"k", b"v").unwrap();
    drop(store);
    set_stored_version(&path, SCHEMA_VERSION + 1).unwrap();
    match SqliteStorage::open_path(&path) {
        Err(StorageError::VersionTooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected VersionTooNew, got {:?}", other.map(|_| ())),
    }
    // Going back to the current version (a downgrade tool would) opens it with its data.
    set_stored_version(&path, SCHEMA_VERSION).unwrap();
    let store = SqliteStorage::open_path(&path).unwrap();
    assert_eq!(store.get(Space::Mls, b"k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn committed_batches_survive_a_reopen_and_a_dropped_store_leaves_no_partial_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    let store = SqliteStorage::open_path(&path).unwrap();
    let mut batch = WriteBatch::new();
    batch.put(Space::Engine, b"a", b"1");
    batch.put(Space::Consensus, b"b", b"2");
    store.apply(batch).unwrap();
    drop(store);
    let store = SqliteStorage::open_path(&path).unwrap();
    assert_eq!(store.get(Space::Engine, b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(
        store.get(Space::Consensus, b"b").unwrap(),
        Some(b"2".to_vec())
    );
}

/// Cuts the file at `path` to `len` bytes.
fn truncate_to(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn a_database_cut_to_one_byte_is_corrupt_not_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_database(dir.path(), 8);
    truncate_to(&path, 1);
    expect_corrupt(SqliteStorage::open_path(&path));
    // Even without the marker: no SQLite database is one byte long.
    std::fs::remove_file(dir.path().join("node.db.demls")).unwrap();
    expect_corrupt(SqliteStorage::open_path(&path));
}

#[test]
fn a_database_emptied_or_deleted_after_a_node_ran_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_database(dir.path(), 8);
    assert!(dir.path().join("node.db.demls").exists(), "the marker");
    truncate_to(&path, 0);
    expect_corrupt(SqliteStorage::open_path(&path));
    std::fs::remove_file(&path).unwrap();
    expect_corrupt(SqliteStorage::open_path(&path));
    // Deleting the marker too is how one starts a new node on purpose.
    std::fs::remove_file(dir.path().join("node.db.demls")).unwrap();
    let store = SqliteStorage::open_path(&path).unwrap();
    assert_eq!(store.get(Space::Mls, b"k").unwrap(), None);
}

#[test]
fn a_new_node_may_start_on_a_missing_or_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    std::fs::write(&path, b"").unwrap();
    let store = SqliteStorage::open_path(&path).unwrap();
    put(&store, b"k", b"v").unwrap();
    drop(store);
    assert!(dir.path().join("fresh.db.demls").exists());
    let store = SqliteStorage::open_path(&path).unwrap();
    assert_eq!(store.get(Space::Mls, b"k").unwrap(), Some(b"v".to_vec()));
}
