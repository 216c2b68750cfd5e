//! The node's ed25519 key on disk: `<data-dir>/node.key`, created on first start.
//!
//! The file holds the 32-byte secret seed in hex and nothing else, readable only by its owner.
//! A malformed file stops the node instead of being replaced: silently generating a new
//! identity would make the node a stranger to its cluster.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::crypto::NodeKey;

/// Why the key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot access key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {0} is malformed (expected 64 hex digits)")]
    Malformed(PathBuf),
    #[error("no randomness available to generate a key: {0}")]
    Random(String),
}

/// The key file's path inside a data dir.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("node.key")
}

/// Loads the node key, generating and saving one if the file does not exist.
pub fn load_or_create(data_dir: &Path) -> Result<(NodeKey, bool), KeyFileError> {
    let path = path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((parse(&text).ok_or(KeyFileError::Malformed(path))?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = NodeKey::generate().map_err(|e| KeyFileError::Random(e.to_string()))?;
            save(&path, &key)?;
            Ok((key, true))
        }
        Err(source) => Err(KeyFileError::Io { path, source }),
    }
}

fn parse(text: &str) -> Option<NodeKey> {
    let bytes = hex::decode(text.trim()).ok()?;
    let seed: [u8; 32] = bytes.try_into().ok()?;
    Some(NodeKey::from_seed(seed))
}

/// Writes the key with owner-only permissions, refusing to overwrite an existing file.
pub fn save(path: &Path, key: &NodeKey) -> Result<(), KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(format!("{}\n", hex::encode(key.seed())).as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let (a, created) = load_or_create(dir.path()).unwrap();
        assert!(created);
        let (b, created) = load_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(a.id(), b.id());
    }

    #[test]
    fn malformed_key_is_an_error_not_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), "not hex").unwrap();
        assert!(matches!(
            load_or_create(dir.path()),
            Err(KeyFileError::Malformed(_))
        ));
    }
}
