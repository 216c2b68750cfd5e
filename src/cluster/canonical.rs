//! The policy's canonical encoding and hash: what nodes compare to make sure they run the same
//! policy (whitepaper Lemma 2).
//!
//! Encoding (big-endian, `spore::codec::Writer` primitives): format byte 1; endorser count
//! (u32) and each endorser's 32-byte key in ascending order; quorum, faulty,
//! spore_deadline_ms, grace_ms, max_spore_bytes, max_op_bytes (u64 each); rule count (u32)
//! and, by ascending pattern bytes, the pattern (u32 length + bytes), the allowed tag count
//! (u32) and the tags ascending (u8 each). Names and comments are not encoded: they are
//! labels and do not change what a node does. The hash is sha3-256 over
//! `"sporedb/v1/global-policy" ‖ 0 ‖ encoding`.

use super::policy::GlobalPolicy;
use crate::crypto::{sha3, Digest};
use crate::spore::codec::Writer;

/// Hash domain (the same separation rule as signatures).
pub const POLICY_DOMAIN: &str = "sporedb/v1/global-policy";

const FORMAT: u8 = 1;

/// A peer announced a policy whose hash differs from ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("peer runs policy {theirs}, this node runs {ours}: refusing to work with it until the policies match")]
pub struct PolicyMismatch {
    pub ours: String,
    pub theirs: String,
}

impl GlobalPolicy {
    /// The canonical bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(FORMAT);
        w.count(self.endorsers.len());
        for e in &self.endorsers {
            w.fixed(&e.id);
        }
        for v in [
            self.quorum as u64,
            self.faulty as u64,
            self.spore_deadline_ms,
            self.grace_ms,
            self.max_spore_bytes,
            self.max_op_bytes,
        ] {
            w.u64(v);
        }
        w.count(self.rules.len());
        for r in &self.rules {
            w.bytes(r.pattern.as_bytes());
            w.count(r.allow.len());
            r.allow.iter().for_each(|t| w.u8(*t));
        }
        w.buf
    }

    /// sha3-256 of the canonical bytes under the policy domain.
    pub fn hash(&self) -> Digest {
        sha3(&[POLICY_DOMAIN.as_bytes(), &[0], &self.canonical_bytes()])
    }

    /// Whether a peer's announced policy hash is ours.
    pub fn check_peer(&self, theirs: &Digest) -> Result<(), PolicyMismatch> {
        let ours = self.hash();
        if &ours == theirs {
            Ok(())
        } else {
            Err(PolicyMismatch {
                ours: hex::encode(ours),
                theirs: hex::encode(theirs),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;

    fn id(n: u8) -> String {
        hex::encode(NodeKey::from_seed([n; 32]).id())
    }

    fn text(order: [u8; 4], rules_reversed: bool) -> String {
        let mut s = String::from("quorum = 3\nfaulty = 1\n");
        for n in order {
            s.push_str(&format!(
                "[[endorsers]]\nname = \"n{n}\"\nkey = \"{}\"\n",
                id(n)
            ));
        }
        let mut rules = vec![
            "[[rules]]\npattern = \"audit:*\"\nallow = [\"SADD\", \"SISMEMBER\"]\n",
            "[[rules]]\npattern = \"count:*\"\nallow = [\"INCR\", \"del\"]\n",
        ];
        if rules_reversed {
            rules.reverse();
        }
        s.extend(rules);
        s
    }

    #[test]
    fn hash_ignores_order_names_and_aliases() {
        let a = GlobalPolicy::parse(&text([1, 2, 3, 4], false)).unwrap();
        let b = GlobalPolicy::parse(&text([4, 2, 1, 3], true)).unwrap();
        assert_eq!(a.hash(), b.hash());
        // INCRBY is what INCR means; SISMEMBER (a read) changes nothing; names are labels.
        let c = GlobalPolicy::parse(
            &text([1, 2, 3, 4], false)
                .replace("\"INCR\"", "\"INCRBY\"")
                .replace(", \"SISMEMBER\"", "")
                .replace("name = \"n1\"", "name = \"first\""),
        )
        .unwrap();
        assert_eq!(a.hash(), c.hash());
        assert_eq!(a.check_peer(&c.hash()), Ok(()));
    }

    #[test]
    fn hash_changes_with_anything_that_matters() {
        let base = text([1, 2, 3, 4], false);
        let h = GlobalPolicy::parse(&base).unwrap().hash();
        for changed in [
            base.replace("quorum = 3", "quorum = 4"),
            base.replace("faulty = 1", "faulty = 0"),
            base.replace("\"SADD\"", "\"SREM\""),
            base.replace("audit:*", "audit:?"),
            format!("spore_deadline_ms = 4000\n{base}"),
            format!("max_op_bytes = 1000\n{base}"),
        ] {
            let p = GlobalPolicy::parse(&changed).unwrap();
            assert_ne!(p.hash(), h, "{changed}");
            assert!(p.check_peer(&h).is_err());
        }
    }

    /// Golden value: the encoding is a wire format between nodes; changing it splits clusters
    /// of mixed versions, so it must be a deliberate, versioned change.
    #[test]
    fn golden_hash() {
        let p = GlobalPolicy::parse(&text([1, 2, 3, 4], false)).unwrap();
        let bytes = p.canonical_bytes();
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[1..5], &[0, 0, 0, 4]);
        assert_eq!(
            bytes.len(),
            1 + 4 + 4 * 32 + 6 * 8 + 4 + (4 + 7 + 4 + 1) + (4 + 7 + 4 + 2)
        );
        assert_eq!(
            hex::encode(p.hash()),
            "6dd14b607f0f296c8d4bae7464dde7e4082319e4d1c4251640ef374791963b30"
        );
    }
}
