//! The simulator's replica state: versions through `spore::effects` (the one implementation of
//! the version rules) and a small value model for the ops the workloads use, so S2 compares
//! real state digests (values and versions). To be replaced by `store::memory` + `exec` when
//! that branch lands.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use num_bigint::BigInt;

use crate::crypto::{sha3, Digest};
use crate::spore::effects::version_effects;
use crate::spore::{DbState, End, Key, KeyVersion, Op, Spore, SporeId, VersionView};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(BigInt),
    Str(Bytes),
    List(VecDeque<Bytes>),
    Set(BTreeSet<Bytes>),
}

#[derive(Debug, Clone, Default)]
pub struct SimStore {
    versions: BTreeMap<Key, KeyVersion>,
    dbs: BTreeMap<u8, DbState>,
    values: BTreeMap<Key, Value>,
}

impl VersionView for SimStore {
    fn key_version(&self, key: &Key) -> KeyVersion {
        self.versions
            .get(key)
            .copied()
            .unwrap_or_else(|| KeyVersion::absent(&self.db_state(key.db).generation, key))
    }
    fn db_state(&self, db: u8) -> DbState {
        self.dbs.get(&db).copied().unwrap_or_default()
    }
}

impl SimStore {
    /// Applies a committed spore: values first, then the versions `version_effects` gives.
    pub fn apply(&mut self, s: &Spore, id: &SporeId) {
        let e = version_effects(s, id, self);
        for op in &s.ops {
            self.exec(op);
        }
        for db in &e.flushed {
            self.versions.retain(|k, _| k.db != *db);
        }
        self.dbs.extend(e.dbs);
        self.versions.extend(e.keys);
    }

    fn exec(&mut self, op: &Op) {
        match op {
            Op::Set { key, value, .. } => {
                self.values.insert(key.clone(), Value::Str(value.clone()));
            }
            Op::Del { key } => {
                self.values.remove(key);
            }
            Op::IncrBy { key, delta } => {
                let new = match self.values.get(key) {
                    None => Some(delta.clone()),
                    Some(Value::Int(i)) => Some(i + delta),
                    Some(Value::Str(s)) => std::str::from_utf8(s)
                        .ok()
                        .and_then(|t| t.parse::<BigInt>().ok())
                        .map(|i| i + delta),
                    _ => None, // WRONGTYPE: no change
                };
                if let Some(v) = new {
                    self.values.insert(key.clone(), Value::Int(v));
                }
            }
            Op::SAdd { key, members } => {
                if let Value::Set(set) = self
                    .values
                    .entry(key.clone())
                    .or_insert_with(|| Value::Set(BTreeSet::new()))
                {
                    set.extend(members.iter().cloned());
                }
            }
            Op::SRem { key, members } => {
                if let Some(Value::Set(set)) = self.values.get_mut(key) {
                    members.iter().for_each(|m| {
                        set.remove(m);
                    });
                    if set.is_empty() {
                        self.values.remove(key);
                    }
                }
            }
            Op::Push {
                key, end, elems, ..
            } => {
                if let Value::List(l) = self
                    .values
                    .entry(key.clone())
                    .or_insert_with(|| Value::List(VecDeque::new()))
                {
                    for e in elems {
                        match end {
                            End::Left => l.push_front(e.clone()),
                            End::Right => l.push_back(e.clone()),
                        }
                    }
                }
            }
            _ => {} // not used by the workloads; versions still move
        }
    }

    /// A digest of everything: versions, database states and values.
    pub fn digest(&self) -> Digest {
        let mut buf = Vec::new();
        for (k, v) in &self.versions {
            buf.push(k.db);
            buf.extend_from_slice(&(k.name.len() as u32).to_be_bytes());
            buf.extend_from_slice(&k.name);
            buf.extend_from_slice(&v.order);
            buf.extend_from_slice(&v.acc);
        }
        for (db, s) in &self.dbs {
            buf.push(*db);
            buf.extend_from_slice(&s.version());
        }
        for (k, v) in &self.values {
            buf.push(k.db);
            buf.extend_from_slice(&(k.name.len() as u32).to_be_bytes());
            buf.extend_from_slice(&k.name);
            match v {
                Value::Int(i) => {
                    buf.push(1);
                    buf.extend_from_slice(&i.to_signed_bytes_be());
                }
                Value::Str(s) => {
                    buf.push(2);
                    buf.extend_from_slice(s);
                }
                Value::List(l) => {
                    buf.push(3);
                    for e in l {
                        buf.extend_from_slice(&(e.len() as u32).to_be_bytes());
                        buf.extend_from_slice(e);
                    }
                }
                Value::Set(set) => {
                    buf.push(4);
                    for e in set {
                        buf.extend_from_slice(&(e.len() as u32).to_be_bytes());
                        buf.extend_from_slice(e);
                    }
                }
            }
        }
        sha3(&[&buf])
    }

    pub fn value(&self, key: &Key) -> Option<&Value> {
        self.values.get(key)
    }
}
