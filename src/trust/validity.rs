//! Which keys are valid and whose word counts (PGP's trust model, whitepaper "Web of trust").
//!
//! A key is **valid** (we believe it belongs to the peer it names) when it is this node's own
//! key, or its owner trust is ultimate, or it is certified by a valid key we trust completely
//! (or ultimately), or by at least N valid keys we trust marginally (N-marginal trust; N is
//! `marginals_needed`, default f + 1). Importing a key does not make it valid by itself: the
//! operator signs it (`sporedb keys sign NAME`, which is this node's own, ultimate,
//! certification) or it arrives with enough certifications from trusted peers.
//!
//! **Agreement** answers "may we believe data that these peers all vouch for?" (state
//! transfer): among the distinct valid vouchers, one trusted ultimately or completely is
//! enough, as the whitepaper puts it ("it's easy to trust one complete-trusted peer"), or N
//! marginal ones must agree. Untrusted (none) and invalid vouchers never count, and naming the
//! same peer twice counts it once.
//!
//! Everything is computed over BTreeMaps and sets: the answer does not depend on file order.

use std::collections::BTreeSet;

use super::level::TrustLevel;
use super::ring::TrustRing;
use crate::crypto::NodeId;

impl TrustRing {
    /// The owner trust of `id`: ultimate for this node, the entry's level for a known peer,
    /// none for a stranger. Trust says nothing about validity (`is_valid`).
    pub fn level(&self, id: &NodeId) -> TrustLevel {
        if Some(*id) == self.me {
            return TrustLevel::Ultimate;
        }
        self.by_id(id).map_or(TrustLevel::None, |e| e.trust)
    }

    /// Whether `id` is a valid key (see the module documentation).
    pub fn is_valid(&self, id: &NodeId) -> bool {
        self.valid_keys().contains(id)
    }

    /// Every valid key, this node's own included: the least fixed point of the rules above
    /// (validity only grows as keys become valid, so iterating until nothing changes ends).
    pub fn valid_keys(&self) -> BTreeSet<NodeId> {
        let mut valid: BTreeSet<NodeId> = self.me.into_iter().collect();
        valid.extend(
            self.entries()
                .filter(|e| e.trust == TrustLevel::Ultimate)
                .map(|e| e.id),
        );
        loop {
            let before = valid.len();
            for entry in self.entries() {
                if valid.contains(&entry.id) {
                    continue;
                }
                let certifiers: Vec<TrustLevel> = entry
                    .certifications
                    .keys()
                    .filter(|by| valid.contains(*by))
                    .map(|by| self.level(by))
                    .collect();
                let complete = certifiers.iter().any(|l| *l >= TrustLevel::Complete);
                let marginal = certifiers
                    .iter()
                    .filter(|l| **l == TrustLevel::Marginal)
                    .count();
                if complete || marginal >= self.marginals_needed {
                    valid.insert(entry.id);
                }
            }
            if valid.len() == before {
                return valid;
            }
        }
    }

    /// Whether data vouched for by all of `vouchers` may be believed: one valid ultimate or
    /// complete voucher, or `marginals_needed` distinct valid marginal ones.
    pub fn agreement(&self, vouchers: &[NodeId]) -> bool {
        let valid = self.valid_keys();
        let distinct: BTreeSet<&NodeId> = vouchers.iter().filter(|v| valid.contains(*v)).collect();
        let mut marginal = 0;
        for id in distinct {
            match self.level(id) {
                TrustLevel::Ultimate | TrustLevel::Complete => return true,
                TrustLevel::Marginal => marginal += 1,
                TrustLevel::None => {}
            }
        }
        marginal >= self.marginals_needed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;
    use crate::trust::cert::Certification;

    fn key(n: u8) -> NodeKey {
        NodeKey::from_seed([n; 32])
    }

    /// A ring in a temporary dir whose own key is key(0).
    fn ring() -> (tempfile::TempDir, TrustRing) {
        let dir = tempfile::tempdir().unwrap();
        crate::node::keyfile::save(&crate::node::keyfile::path(dir.path()), &key(0)).unwrap();
        let ring = TrustRing::load(dir.path()).unwrap();
        (dir, ring)
    }

    fn cert(by: u8, of: u8) -> Certification {
        Certification::create(&key(by), &key(of).id())
    }

    #[test]
    fn own_key_is_ultimate_and_valid_strangers_are_not() {
        let (_d, ring) = ring();
        assert_eq!(ring.level(&key(0).id()), TrustLevel::Ultimate);
        assert!(ring.is_valid(&key(0).id()));
        assert_eq!(ring.level(&key(9).id()), TrustLevel::None);
        assert!(!ring.is_valid(&key(9).id()));
    }

    #[test]
    fn import_alone_is_not_validity_signing_is() {
        let (_d, mut ring) = ring();
        ring.import("b", key(1).id(), TrustLevel::Marginal, &[])
            .unwrap();
        assert!(!ring.is_valid(&key(1).id()));
        ring.sign("b", &key(0)).unwrap();
        assert!(ring.is_valid(&key(1).id()));
        // Ultimate owner trust makes a key valid by itself.
        ring.import("u", key(2).id(), TrustLevel::Ultimate, &[])
            .unwrap();
        assert!(ring.is_valid(&key(2).id()));
    }

    #[test]
    fn complete_certifier_alone_suffices_marginal_needs_n() {
        let (_d, mut ring) = ring();
        ring.set_marginals_needed(2).unwrap();
        // c is completely trusted and valid (we signed it); it certifies x.
        ring.import("c", key(1).id(), TrustLevel::Complete, &[])
            .unwrap();
        ring.sign("c", &key(0)).unwrap();
        ring.import("x", key(5).id(), TrustLevel::None, &[cert(1, 5)])
            .unwrap();
        assert!(ring.is_valid(&key(5).id()));

        // m1, m2 marginal and valid; y certified by m1 only, then also by m2.
        for (name, n) in [("m1", 2), ("m2", 3)] {
            ring.import(name, key(n).id(), TrustLevel::Marginal, &[])
                .unwrap();
            ring.sign(name, &key(0)).unwrap();
        }
        ring.import("y", key(6).id(), TrustLevel::None, &[cert(2, 6)])
            .unwrap();
        assert!(!ring.is_valid(&key(6).id()), "one marginal of two");
        ring.import("y", key(6).id(), TrustLevel::None, &[cert(3, 6)])
            .unwrap();
        assert!(ring.is_valid(&key(6).id()), "two marginals of two");
        ring.set_marginals_needed(3).unwrap();
        assert!(!ring.is_valid(&key(6).id()), "two marginals of three");
    }

    #[test]
    fn certifications_by_invalid_or_untrusted_keys_do_not_count() {
        let (_d, mut ring) = ring();
        ring.set_marginals_needed(1).unwrap();
        // k is completely trusted but nobody valid certified it: its word is worthless.
        ring.import("k", key(1).id(), TrustLevel::Complete, &[])
            .unwrap();
        ring.import("z", key(5).id(), TrustLevel::Marginal, &[cert(1, 5)])
            .unwrap();
        assert!(!ring.is_valid(&key(5).id()));
        // n is valid but trusted "none": its certification does not count either.
        ring.import("n", key(2).id(), TrustLevel::None, &[])
            .unwrap();
        ring.sign("n", &key(0)).unwrap();
        ring.import("w", key(6).id(), TrustLevel::None, &[cert(2, 6)])
            .unwrap();
        assert!(!ring.is_valid(&key(6).id()));
        // Validity propagates through chains once k becomes valid.
        ring.sign("k", &key(0)).unwrap();
        assert!(ring.is_valid(&key(5).id()));
    }

    #[test]
    fn agreement_needs_one_complete_or_n_distinct_valid_marginals() {
        let (_d, mut ring) = ring();
        ring.set_marginals_needed(2).unwrap();
        for (name, n, t) in [
            ("a", 1, TrustLevel::Marginal),
            ("b", 2, TrustLevel::Marginal),
            ("c", 3, TrustLevel::Complete),
            ("d", 4, TrustLevel::None),
        ] {
            ring.import(name, key(n).id(), t, &[]).unwrap();
            ring.sign(name, &key(0)).unwrap();
        }
        ring.import("e", key(5).id(), TrustLevel::Marginal, &[])
            .unwrap(); // not valid
        let id = |n| key(n).id();
        assert!(!ring.agreement(&[]));
        assert!(!ring.agreement(&[id(1)]));
        assert!(
            !ring.agreement(&[id(1), id(1)]),
            "the same peer twice counts once"
        );
        assert!(
            !ring.agreement(&[id(1), id(4)]),
            "trust none does not count"
        );
        assert!(
            !ring.agreement(&[id(1), id(5)]),
            "an invalid key does not count"
        );
        assert!(ring.agreement(&[id(1), id(2)]));
        assert!(ring.agreement(&[id(3)]), "one complete peer is enough");
        assert!(ring.agreement(&[id(0)]), "this node itself is ultimate");
    }

    #[test]
    fn ring_survives_save_and_load_and_refuses_tampering() {
        let (dir, mut ring) = ring();
        ring.import("b", key(1).id(), TrustLevel::Marginal, &[cert(2, 1)])
            .unwrap();
        ring.sign("b", &key(0)).unwrap();
        ring.save().unwrap();
        let again = TrustRing::load(dir.path()).unwrap();
        assert_eq!(again.get("b"), ring.get("b"));
        assert!(again.is_valid(&key(1).id()));

        // Retarget the entry to another key: its certifications no longer verify.
        let path = dir.path().join("trust.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace(&hex::encode(key(1).id()), &hex::encode(key(7).id())),
        )
        .unwrap();
        let err = TrustRing::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("does not verify"), "{err}");
    }

    #[test]
    fn rebinding_names_or_keys_is_refused() {
        let (_d, mut ring) = ring();
        ring.import("b", key(1).id(), TrustLevel::Marginal, &[])
            .unwrap();
        assert!(matches!(
            ring.import("b", key(2).id(), TrustLevel::Marginal, &[]),
            Err(crate::trust::TrustError::KeyMismatch { .. })
        ));
        assert!(matches!(
            ring.import("c", key(1).id(), TrustLevel::Marginal, &[]),
            Err(crate::trust::TrustError::DuplicateKey { .. })
        ));
        assert!(matches!(
            ring.import("me", key(0).id(), TrustLevel::Marginal, &[]),
            Err(crate::trust::TrustError::OwnKey(_))
        ));
        assert!(ring
            .import("bad name", key(3).id(), TrustLevel::Marginal, &[])
            .is_err());
        assert!(ring.set_marginals_needed(0).is_err());
    }
}
