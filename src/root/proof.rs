//! Proofs: that an entry is in the state tree with a given value, or that it is absent, and
//! their canonical binary encoding (`docs/STATE-ROOT.md` has the same table).
//!
//! ```text
//! magic "SPRF" ‖ format u8 = 1
//! ‖ table u8 (0 = keys, 1 = elems) ‖ key len u32 BE ‖ table key
//! ‖ present u8 (0/1) ‖ [value len u32 BE ‖ value]            (value only when present = 1)
//! ‖ jmt proof len u32 BE ‖ borsh(jmt::proof::SparseMerkleProof)
//! ```
//!
//! The table key of a Redis key is `db u8 ‖ name` (`store::layout`), and the value is the
//! stored key record. The jmt proof is jmt's own borsh encoding: `Option<leaf>` (0, or 1 ‖
//! key hash[32] ‖ value hash[32]) then `u32 LE` sibling count and each sibling as a tag u8
//! (0 null, 1 internal ‖ left[32] ‖ right[32], 2 leaf ‖ key hash[32] ‖ value hash[32]).
//! Decoding is strict: unknown magic/format/table, short input and trailing bytes are errors.
//! Verification recomputes the leaf key (`leaf::key_hash`) from table and key, so a proof
//! cannot be replayed for another key.

use jmt::proof::SparseMerkleProof;
use jmt::RootHash;

use crate::store::kv::Table;
use crate::store::layout::{self, RawRecord};

use super::hasher::Sha3;
use super::leaf::{key_hash, leaf_table};

const MAGIC: &[u8; 4] = b"SPRF";
const FORMAT: u8 = 1;
/// Upper bound on an encoded proof: a value is below LMDB's map size in practice, but a
/// decoder must bound what it accepts from the network or a file.
pub const MAX_PROOF: usize = 64 << 20;

/// Why a proof does not decode or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("proof is not valid hex")]
    Hex,
    #[error("proof encoding: {0}")]
    Encoding(&'static str),
    #[error("proof is for another key")]
    OtherKey,
    #[error("proof does not match the root: {0}")]
    Mismatch(String),
}

/// A membership (`value` is `Some`) or non-membership proof of one table entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Proof {
    pub table: Table,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
    pub merkle: SparseMerkleProof<Sha3>,
}

impl Proof {
    /// The table key a proof of Redis key `name` in database `db` is about.
    pub fn record_key(db: u8, name: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + name.len());
        k.push(db);
        k.extend_from_slice(name);
        k
    }

    /// Checks the proof against `root`.
    pub fn verify(&self, root: &[u8; 32]) -> Result<(), ProofError> {
        self.merkle
            .verify(
                RootHash(*root),
                key_hash(self.table, &self.key),
                self.value.as_ref(),
            )
            .map_err(|e| ProofError::Mismatch(e.to_string()))
    }

    /// Checks that the proof is about Redis key `name` of database `db`.
    pub fn check_key(&self, db: u8, name: &[u8]) -> Result<(), ProofError> {
        if self.table == Table::Keys && self.key == Proof::record_key(db, name) {
            Ok(())
        } else {
            Err(ProofError::OtherKey)
        }
    }

    /// The proven key record, when this is a membership proof of a `keys` entry.
    pub fn record(&self) -> Option<RawRecord<'_>> {
        match (&self.value, self.table) {
            (Some(v), Table::Keys) => layout::decode_record(v).ok(),
            _ => None,
        }
    }

    /// Whether the proof shows a live Redis key (a record that is not a tombstone or an
    /// emptied set).
    pub fn present(&self) -> bool {
        self.record().is_some_and(|r| r.is_live())
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        // A SparseMerkleProof always borsh-encodes (plain bytes and vectors).
        let merkle = borsh::to_vec(&self.merkle).unwrap_or_default();
        let vlen = self.value.as_ref().map_or(0, |v| 4 + v.len());
        let mut out = Vec::with_capacity(5 + 1 + 4 + self.key.len() + 1 + vlen + 4 + merkle.len());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT);
        out.push(self.table as u8);
        put_bytes(&mut out, &self.key);
        match &self.value {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                put_bytes(&mut out, v);
            }
        }
        put_bytes(&mut out, &merkle);
        out
    }

    /// Decodes the canonical encoding (strictly).
    pub fn decode(b: &[u8]) -> Result<Proof, ProofError> {
        if b.len() > MAX_PROOF {
            return Err(ProofError::Encoding("too long"));
        }
        let mut r = Reader(b);
        if r.take(4)? != MAGIC {
            return Err(ProofError::Encoding("bad magic"));
        }
        if r.u8()? != FORMAT {
            return Err(ProofError::Encoding("unknown format"));
        }
        let table = leaf_table(r.u8()?).ok_or(ProofError::Encoding("unknown table"))?;
        let key = r.bytes()?.to_vec();
        let value = match r.u8()? {
            0 => None,
            1 => Some(r.bytes()?.to_vec()),
            _ => return Err(ProofError::Encoding("bad presence flag")),
        };
        let merkle_bytes = r.bytes()?;
        if !r.0.is_empty() {
            return Err(ProofError::Encoding("trailing bytes"));
        }
        let merkle: SparseMerkleProof<Sha3> = borsh::from_slice(merkle_bytes)
            .map_err(|_| ProofError::Encoding("bad merkle proof"))?;
        Ok(Proof {
            table,
            key,
            value,
            merkle,
        })
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.encode())
    }

    pub fn from_hex(s: &str) -> Result<Proof, ProofError> {
        Proof::decode(&hex::decode(s.trim()).map_err(|_| ProofError::Hex)?)
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProofError> {
        if self.0.len() < n {
            return Err(ProofError::Encoding("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, ProofError> {
        Ok(self.take(1)?[0])
    }

    fn bytes(&mut self) -> Result<&'a [u8], ProofError> {
        let mut len = [0u8; 4];
        len.copy_from_slice(self.take(4)?);
        self.take(u32::from_be_bytes(len) as usize)
    }
}
