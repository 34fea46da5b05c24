//! The node's libp2p identity: an ed25519 key kept in a file (hex of the 32-byte secret),
//! generated and written with mode 0600 when the file does not exist.

use std::io::Write;
use std::path::Path;

use libp2p::identity::Keypair;

use crate::error::LogosError;

fn key_error(path: &Path, message: impl Into<String>) -> LogosError {
    LogosError::NodeKey {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Loads the key from `path`, or generates one and writes it there when the file is absent.
pub fn load_or_generate(path: &Path) -> Result<Keypair, LogosError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(text.trim()).map_err(|m| key_error(path, m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keypair = Keypair::generate_ed25519();
            write(path, &keypair)?;
            tracing::info!(path = %path.display(), peer_id = %keypair.public().to_peer_id(), "generated a node key");
            Ok(keypair)
        }
        Err(e) => Err(key_error(path, e.to_string())),
    }
}

fn parse(hex_secret: &str) -> Result<Keypair, String> {
    let mut bytes = hex::decode(hex_secret).map_err(|e| format!("not hex: {e}"))?;
    if bytes.len() != 32 {
        return Err(format!(
            "expected 32 bytes of ed25519 secret, found {}",
            bytes.len()
        ));
    }
    Keypair::ed25519_from_bytes(&mut bytes).map_err(|e| e.to_string())
}

fn write(path: &Path, keypair: &Keypair) -> Result<(), LogosError> {
    let secret = keypair
        .clone()
        .try_into_ed25519()
        .map_err(|e| key_error(path, e.to_string()))?
        .secret();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| key_error(path, e.to_string()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| key_error(path, e.to_string()))?;
    writeln!(file, "{}", hex::encode(secret.as_ref())).map_err(|e| key_error(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("demls-logos-keys-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("sub").join("node.key")
    }

    #[test]
    fn a_missing_key_file_is_generated_and_the_same_identity_is_loaded_again() {
        let path = temp_path("roundtrip");
        let first = load_or_generate(&path).unwrap();
        let again = load_or_generate(&path).unwrap();
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_corrupt_key_file_is_a_typed_error() {
        let path = temp_path("corrupt");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            load_or_generate(&path),
            Err(LogosError::NodeKey { .. })
        ));
        std::fs::write(&path, "abcd").unwrap();
        assert!(matches!(
            load_or_generate(&path),
            Err(LogosError::NodeKey { .. })
        ));
    }
}
