//! The table of connected clients behind CLIENT LIST / INFO / KILL and INFO's clients section.
//!
//! Each session registers its `ClientMeta` here when the connection opens and removes it when it
//! closes. CLIENT KILL marks the target; a front end that can interrupt idle connections
//! registers a `Killer` so the target closes at once instead of at its next command.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::session::ClientMeta;

/// Closes a connection by client id; returns whether it existed.
pub type Killer = Box<dyn Fn(u64) -> bool + Send + Sync>;

#[derive(Default)]
pub struct ClientTable {
    clients: Mutex<BTreeMap<u64, Arc<Mutex<ClientMeta>>>>,
    killer: Mutex<Option<Killer>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClientTable {
    pub fn register(&self, meta: Arc<Mutex<ClientMeta>>) {
        let id = lock(&meta).id;
        lock(&self.clients).insert(id, meta);
    }

    pub fn unregister(&self, id: u64) {
        lock(&self.clients).remove(&id);
    }

    pub fn len(&self) -> usize {
        lock(&self.clients).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of every client's metadata, by id.
    pub fn list(&self) -> Vec<ClientMeta> {
        let handles: Vec<_> = lock(&self.clients).values().cloned().collect();
        handles.iter().map(|m| lock(m).clone()).collect()
    }

    /// Installs the front end's way of closing a connection immediately.
    pub fn set_killer(&self, killer: Killer) {
        *lock(&self.killer) = Some(killer);
    }

    /// Marks matching clients killed (and closes them if a killer is installed); returns how
    /// many matched.
    pub fn kill(&self, matches: impl Fn(&ClientMeta) -> bool) -> usize {
        let handles: Vec<_> = lock(&self.clients).values().cloned().collect();
        let mut ids = Vec::new();
        for h in handles {
            let mut m = lock(&h);
            if matches(&m) {
                m.killed = true;
                ids.push(m.id);
            }
        }
        if let Some(k) = lock(&self.killer).as_ref() {
            ids.iter().for_each(|id| {
                k(*id);
            });
        }
        ids.len()
    }
}
