//! Exchanging keys between nodes: `sporedb keys export` prints a TOML snippet holding a public
//! key and the certifications this node has for it; `sporedb keys import NAME --file F` on
//! another node reads it back (a bare 64-digit hex key is accepted too).
//!
//! Nothing in a snippet is trusted because of where it came from: the id is only a claim until
//! the importing operator signs it or trusted certifiers vouch for it, and every certification
//! is verified on import.

use serde::{Deserialize, Serialize};

use super::cert::{parse_id, Certification};
use super::ring::{TrustError, TrustRing};
use crate::crypto::NodeId;

/// An exported key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyExport {
    /// The exporter's name for the key (a hint: the importer chooses its own name).
    pub name: String,
    /// The public key, hex.
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certifications: Vec<Certification>,
}

/// Why a snippet could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("not a key export (expected a `sporedb keys export` snippet or 64 hex digits): {0}")]
    Parse(String),
    #[error("the exported id is not 64 hex digits")]
    BadId,
}

impl KeyExport {
    /// Reads a snippet, or a bare hex key.
    pub fn parse(text: &str) -> Result<KeyExport, ExportError> {
        if let Some(id) = parse_id(text) {
            return Ok(KeyExport {
                name: String::new(),
                id: hex::encode(id),
                certifications: Vec::new(),
            });
        }
        toml::from_str(text).map_err(|e| ExportError::Parse(e.to_string()))
    }

    /// The exported key.
    pub fn node_id(&self) -> Result<NodeId, ExportError> {
        parse_id(&self.id).ok_or(ExportError::BadId)
    }

    /// The snippet text.
    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# sporedb public key. Import on another node with:\n\
             #   sporedb keys import NAME --trust marginal --file THIS_FILE\n{body}"
        )
    }
}

impl TrustRing {
    /// The snippet for this node's own key (`name` None) or for the entry called `name`,
    /// with every certification held for it.
    pub fn export(&self, name: Option<&str>, own_name: &str) -> Result<KeyExport, TrustError> {
        match name {
            None => {
                let me = self
                    .me()
                    .ok_or_else(|| TrustError::NoOwnKey(self.path().to_path_buf()))?;
                Ok(KeyExport {
                    name: own_name.to_string(),
                    id: hex::encode(me),
                    certifications: Vec::new(),
                })
            }
            Some(name) => {
                let entry = self
                    .get(name)
                    .ok_or_else(|| TrustError::UnknownName(name.to_string()))?;
                Ok(KeyExport {
                    name: entry.name.clone(),
                    id: hex::encode(entry.id),
                    certifications: entry.certifications.values().cloned().collect(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;
    use crate::trust::TrustLevel;

    #[test]
    fn export_then_import_carries_certifications() {
        let a_dir = tempfile::tempdir().unwrap();
        let b_dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            NodeKey::from_seed([1; 32]),
            NodeKey::from_seed([2; 32]),
            NodeKey::from_seed([3; 32]),
        );
        for (dir, k) in [(&a_dir, &a), (&b_dir, &b)] {
            crate::node::keyfile::save(&crate::node::keyfile::path(dir.path()), k).unwrap();
        }
        // A knows and signs C, then exports C.
        let mut ring_a = TrustRing::load(a_dir.path()).unwrap();
        ring_a
            .import("c", c.id(), TrustLevel::Marginal, &[])
            .unwrap();
        ring_a.sign("c", &a).unwrap();
        let text = ring_a.export(Some("c"), "a").unwrap().to_text();

        // B trusts A completely (and signed A's key), imports C from A's snippet: valid.
        let mut ring_b = TrustRing::load(b_dir.path()).unwrap();
        let own_a = ring_a.export(None, "a").unwrap().to_text();
        let snippet_a = KeyExport::parse(&own_a).unwrap();
        ring_b
            .import("a", snippet_a.node_id().unwrap(), TrustLevel::Complete, &[])
            .unwrap();
        ring_b.sign("a", &b).unwrap();
        let snippet_c = KeyExport::parse(&text).unwrap();
        assert_eq!(snippet_c.certifications.len(), 1);
        ring_b
            .import(
                "c",
                snippet_c.node_id().unwrap(),
                TrustLevel::None,
                &snippet_c.certifications,
            )
            .unwrap();
        assert!(ring_b.is_valid(&c.id()));

        // A bare key parses; garbage does not.
        assert_eq!(
            KeyExport::parse(&hex::encode(c.id())).unwrap().node_id(),
            Ok(c.id())
        );
        assert!(KeyExport::parse("hello").is_err());
    }
}
