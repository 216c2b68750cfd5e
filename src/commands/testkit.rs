//! Test scaffolding (compiled only for tests): an in-memory keyspace for read handlers and a
//! write path that records requests and answers with canned replies. Not the executor: write
//! tests here check the ops handlers produce, not their effect.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{DbState, Key, KeyVersion, VersionView};
use crate::write::{WriteFuture, WritePath, WriteRequest};

use super::ctx::{NodeStatus, Shared};
use super::session::Session;
use super::settings::Settings;
use super::view::{Entry, Keyspace, Snapshot, Value};

#[derive(Default, Clone)]
pub struct MemKeyspace {
    pub data: Arc<Mutex<BTreeMap<Key, Entry>>>,
}

impl MemKeyspace {
    pub fn put(&self, db: u8, name: &str, value: Value) {
        self.data.lock().unwrap().insert(
            Key::new(db, Bytes::from(name.to_string())),
            Entry {
                value,
                expire_at_ms: None,
            },
        );
    }
}

pub struct MemSnapshot(BTreeMap<Key, Entry>);

impl VersionView for MemSnapshot {
    fn key_version(&self, key: &Key) -> KeyVersion {
        let v = KeyVersion::absent(&[0; 32], key);
        match self.0.get(key) {
            // A version that changes with the value (good enough for tests).
            Some(e) => KeyVersion {
                order: crate::crypto::sha3(&[format!("{:?}", e.value).as_bytes()]),
                acc: v.acc,
            },
            None => v,
        }
    }
    fn db_state(&self, _db: u8) -> DbState {
        DbState::default()
    }
}

impl Snapshot for MemSnapshot {
    fn entry(&self, key: &Key) -> Result<Option<Entry>, RedisError> {
        Ok(self.0.get(key).cloned())
    }
    fn keys(&self, db: u8) -> Result<Vec<Bytes>, RedisError> {
        Ok(self
            .0
            .keys()
            .filter(|k| k.db == db)
            .map(|k| k.name.clone())
            .collect())
    }
}

impl Keyspace for MemKeyspace {
    fn snapshot(&self, now_ms: u64) -> Result<Box<dyn Snapshot + '_>, RedisError> {
        let live = self
            .data
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, e)| e.expire_at_ms.is_none_or(|t| t > now_ms))
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        Ok(Box::new(MemSnapshot(live)))
    }
}

/// Records every request; answers `Int(1)` per op.
#[derive(Default)]
pub struct Recorder {
    pub requests: Mutex<Vec<WriteRequest>>,
}

impl WritePath for Recorder {
    fn submit(&self, request: WriteRequest) -> WriteFuture {
        let n = request.ops.len();
        self.requests.lock().unwrap().push(request);
        Box::pin(async move { Ok(vec![Reply::Int(1); n]) })
    }
}

pub struct Kit {
    pub shared: Shared,
    pub store: MemKeyspace,
    pub writes: Arc<Recorder>,
}

pub fn kit() -> Kit {
    let store = MemKeyspace::default();
    let writes = Arc::new(Recorder::default());
    let shared = Shared::new(
        Arc::new(store.clone()),
        writes.clone(),
        Arc::new(|| 1_000_000),
        Settings::default(),
        Arc::new(NodeStatus::default()),
    );
    Kit {
        shared,
        store,
        writes,
    }
}

pub fn argv(parts: &[&str]) -> Vec<Bytes> {
    parts.iter().map(|s| Bytes::from(s.to_string())).collect()
}

impl Kit {
    /// Dispatches and resolves deferred replies.
    pub fn run(&self, session: &mut Session, parts: &[&str]) -> Reply {
        match super::dispatch(&self.shared, session, argv(parts)) {
            super::Outcome::Reply(r) | super::Outcome::Close(r) => r,
            super::Outcome::Deferred(f) => futures::executor::block_on(f),
        }
    }
}
