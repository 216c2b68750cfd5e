//! Unit-test scaffolding (compiled only for tests): the command layer over a real store in a
//! temporary directory, with writes applied at once by `ImmediateWrites` (the real executor),
//! so handler tests check what commands do, not a second implementation of Redis semantics.

use std::sync::Arc;

use bytes::Bytes;

use crate::reply::Reply;
use crate::store::{Store, StoreOptions};

use super::ctx::{NodeStatus, Shared};
use super::immediate_writes::ImmediateWrites;
use super::session::Session;
use super::settings::Settings;

/// The clock unit tests run at (ms).
pub const NOW: u64 = 1_000_000;

pub struct Kit {
    pub shared: Shared,
    pub writes: Arc<ImmediateWrites>,
    _dir: tempfile::TempDir,
}

pub fn kit() -> Kit {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = StoreOptions { map_size: 64 << 20 };
    let store = Arc::new(Store::open(dir.path(), &options).expect("open store"));
    let clock: super::ctx::Clock = Arc::new(|| NOW);
    let writes = Arc::new(ImmediateWrites::new(store.clone(), clock.clone()));
    let shared = Shared::new(
        store.clone(),
        writes.clone(),
        clock,
        Settings::default(),
        Arc::new(NodeStatus::default()),
    );
    Kit {
        shared,
        writes,
        _dir: dir,
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

    /// Runs `parts` on a fresh session (for setting data up).
    pub fn given(&self, parts: &[&str]) -> Reply {
        self.run(&mut Session::detached(), parts)
    }

    /// How many write requests were submitted so far.
    pub fn submitted(&self) -> usize {
        self.writes.requests.lock().unwrap().len()
    }
}
