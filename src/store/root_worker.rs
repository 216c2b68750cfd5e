//! The thread that computes state-tree versions beside the writer.
//!
//! Why: the tree update is about a quarter of a single node's write CPU (hashing most of it),
//! and on the writer's thread it adds straight onto every commit. Computing a version only
//! needs the leaves a transaction touched, with their final values, and the tree as last
//! committed, which any read snapshot taken after that commit sees (LMDB MVCC). So the writer
//! hands that to this thread (`WriteTxn::start_root`) and goes on with other work (the
//! driver: its next engine step); at commit it takes the result and writes it into the same
//! transaction, so data and root still commit together, with one fsync.
//!
//! One thread per store, started on first use and ended when the store closes (the sender
//! drops). If it cannot be started (or has stopped), the writer computes the version itself.
//! A job drops its environment handle before it answers, so once the writer has the answer
//! nothing here holds the environment open.

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};

use heed::{Env, WithoutTls};

use super::error::StoreError;
use super::kv::Table;
use super::lmdb::{Db, ReadTxn};
use crate::root::node_cache::NodeCache;
use crate::root::nodes::Nodes;
use crate::root::update::{Computed, TreeJob};

type Job = Box<dyn FnOnce() + Send>;

/// The store's tree worker (see the module doc).
#[derive(Default)]
pub struct RootWorker {
    jobs: Mutex<Option<Sender<Job>>>,
}

/// A job's answer, to take at commit.
pub struct Pending {
    answer: Receiver<Result<Computed, StoreError>>,
    got: Option<Result<Computed, StoreError>>,
}

impl Pending {
    /// Whether the answer is there (`wait` then returns at once).
    pub fn is_ready(&mut self) -> bool {
        if self.got.is_none() {
            match self.answer.try_recv() {
                Ok(r) => self.got = Some(r),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => self.got = Some(Err(failed())),
            }
        }
        true
    }

    /// Waits for the answer.
    pub fn wait(self) -> Result<Computed, StoreError> {
        match self.got {
            Some(r) => r,
            None => self.answer.recv().unwrap_or_else(|_| Err(failed())),
        }
    }
}

fn failed() -> StoreError {
    StoreError::Tree("the tree worker thread failed".into())
}

impl RootWorker {
    /// Queues `job` to run against a fresh snapshot of `env`, reading cached upper nodes from
    /// `cache`.
    pub fn start(
        &self,
        env: &Env<WithoutTls>,
        dbs: [Db; Table::COUNT],
        cache: Option<Arc<NodeCache>>,
        job: TreeJob,
    ) -> Result<Pending, StoreError> {
        let (answer, pending) = sync_channel(1);
        let env = env.clone();
        let run: Job = Box::new(move || {
            let result = (|| {
                let read = ReadTxn::new(env.read_txn()?, &dbs);
                let reader = Nodes::cached(&read, cache.as_deref());
                job.run(&reader)
            })();
            drop(env);
            let _ = answer.send(result);
        });
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.is_none() {
            match spawn() {
                Ok(sender) => *jobs = Some(sender),
                Err(e) => tracing::warn!("no tree worker thread ({e}): computing on the writer"),
            }
        }
        // Without a worker (it could not start, or it stopped), the caller's thread computes
        // the version itself: slower, but the same version and the write still commits.
        // (MDB_NOTLS lets a thread holding the write transaction open this read snapshot.)
        let unsent = match jobs.as_ref() {
            Some(sender) => sender.send(run).err().map(|e| {
                *jobs = None;
                e.0
            }),
            None => Some(run),
        };
        drop(jobs);
        if let Some(run) = unsent {
            run();
        }
        Ok(Pending {
            answer: pending,
            got: None,
        })
    }
}

fn spawn() -> Result<Sender<Job>, StoreError> {
    let (tx, rx) = channel::<Job>();
    std::thread::Builder::new()
        .name("sporedb-root".into())
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                // A panicking job drops its answer sender (its writer then sees an error);
                // the thread lives on for the next one.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        })?;
    Ok(tx)
}
