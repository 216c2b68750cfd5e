//! sha3-256 as jmt's hasher. jmt implements its `SimpleHasher` for every digest-0.10 `Digest`;
//! sporedb uses sha3 0.12 (digest 0.11), so this newtype adapts it instead of compiling a
//! second sha3. Every hash in the tree (leaves, internal nodes, values) goes through it.

use sha3::{Digest as _, Sha3_256};

/// sha3-256 for `jmt::JellyfishMerkleTree<_, Sha3>` and `SparseMerkleProof<Sha3>`.
#[derive(Clone, Default)]
pub struct Sha3(Sha3_256);

impl jmt::SimpleHasher for Sha3 {
    fn new() -> Sha3 {
        Sha3(Sha3_256::new())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use jmt::SimpleHasher;

    #[test]
    fn is_sha3_256() {
        // sha3-256("abc"), FIPS 202 test vector.
        assert_eq!(
            hex::encode(<super::Sha3 as SimpleHasher>::hash(b"abc")),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
    }
}
