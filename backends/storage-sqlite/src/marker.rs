//! Telling a new node from one whose database was lost.
//!
//! SQLite opens a missing or empty file — and one cut to fewer bytes than its 100-byte header —
//! as a new, empty database. For a node that has run before that would silently mean a new
//! identity and no groups. So when a database is first opened successfully, a marker file is
//! written next to it (`<database>.demls`); afterwards a database that is missing or empty while
//! its marker exists is refused as [`StorageError::Corrupt`], and so is a file too short to be
//! any SQLite database, marker or not. Starting over on purpose means deleting both files.

use std::path::{Path, PathBuf};

use demls::StorageError;

/// Size of an SQLite database header: a non-empty file shorter than this is not a database.
const SQLITE_HEADER: u64 = 100;

/// What the marker says.
const CONTENT: &[u8] = b"a demls node's SQLite storage was created next to this file\n";

/// The marker's path for the database at `db`.
pub(crate) fn path_of(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".demls");
    PathBuf::from(name)
}

/// Refuses to open `db` when it would silently start over: a file too short to be a database,
/// or a missing or empty one while its marker says a node's database was here.
pub(crate) fn check_before_open(db: &Path) -> Result<(), StorageError> {
    let len = match std::fs::metadata(db) {
        Ok(meta) => Some(meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(StorageError::Io(Box::new(e))),
    };
    if let Some(len @ 1..SQLITE_HEADER) = len {
        return Err(StorageError::Corrupt(format!(
            "{} is {len} bytes long, shorter than any SQLite database: truncated",
            db.display()
        )));
    }
    let marker = path_of(db);
    if matches!(len, None | Some(0)) && marker.exists() {
        let what = if len.is_none() { "missing" } else { "empty" };
        return Err(StorageError::Corrupt(format!(
            "{} is {what}, but {} shows a node's database was there; restore it, or delete both \
             files to start a new node",
            db.display(),
            marker.display()
        )));
    }
    Ok(())
}

/// Writes the marker of `db` if it is not there yet (a new database, or one created before
/// markers existed).
pub(crate) fn ensure(db: &Path) -> Result<(), StorageError> {
    let marker = path_of(db);
    if marker.exists() {
        return Ok(());
    }
    std::fs::write(&marker, CONTENT).map_err(|e| StorageError::Io(Box::new(e)))
}
