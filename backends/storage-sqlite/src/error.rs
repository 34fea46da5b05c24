//! How SQLite's failures become [`StorageError`]s: the one place that decides which result
//! code means a locked, full or damaged database.

use demls::StorageError;
use rusqlite::ErrorCode;

/// Maps a rusqlite error to the storage error the framework understands:
/// `SQLITE_BUSY`/`SQLITE_LOCKED` → [`StorageError::Locked`], `SQLITE_FULL` →
/// [`StorageError::Full`], `SQLITE_CORRUPT`/`SQLITE_NOTADB` → [`StorageError::Corrupt`], and
/// everything else → [`StorageError::Io`].
pub(crate) fn storage_error(error: rusqlite::Error) -> StorageError {
    let code = match &error {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.code),
        _ => None,
    };
    let mapped = match code {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StorageError::Locked,
        Some(ErrorCode::DiskFull) => StorageError::Full,
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StorageError::Corrupt(error.to_string())
        }
        _ => StorageError::Io(Box::new(error)),
    };
    tracing::debug!(error = %mapped, "sqlite storage error");
    mapped
}

/// Shorthand for results of rusqlite calls.
pub(crate) trait SqliteResultExt<T> {
    /// Maps the error with [`storage_error`].
    fn storage(self) -> Result<T, StorageError>;
}

impl<T> SqliteResultExt<T> for rusqlite::Result<T> {
    fn storage(self) -> Result<T, StorageError> {
        self.map_err(storage_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn each_result_code_maps_to_its_storage_error() {
        use rusqlite::ffi;
        assert!(matches!(
            storage_error(failure(ffi::SQLITE_BUSY)),
            StorageError::Locked
        ));
        assert!(matches!(
            storage_error(failure(ffi::SQLITE_LOCKED)),
            StorageError::Locked
        ));
        assert!(matches!(
            storage_error(failure(ffi::SQLITE_FULL)),
            StorageError::Full
        ));
        assert!(matches!(
            storage_error(failure(ffi::SQLITE_CORRUPT)),
            StorageError::Corrupt(_)
        ));
        assert!(matches!(
            storage_error(failure(ffi::SQLITE_NOTADB)),
            StorageError::Corrupt(_)
        ));
        assert!(matches!(
            storage_error(failure(ffi::SQLITE_IOERR)),
            StorageError::Io(_)
        ));
        assert!(matches!(
            storage_error(rusqlite::Error::InvalidQuery),
            StorageError::Io(_)
        ));
    }
}
