//! The writer: the thread that applies committed spores to the store and makes them durable.
//!
//! Why a thread of its own: a group commit waits for the disk (one `fdatasync` per group,
//! ~1–2 ms here) and computes the group's state-tree version, and while the driver did both
//! itself it could step nothing else: a single node's clients waited behind the commit in
//! progress, and a cluster node answered its peers' spores and endorsements late. Now the
//! driver hands each group over (`Writer::send`) and goes on stepping the engine; the writer
//! applies, commits and sends the outcome back into the driver's own queue
//! (`DriverMsg::Committed`), where the driver answers the clients and confirms the spores to
//! the engine. Groups queued while a commit runs are applied together in the next transaction
//! (one fsync for all of them), in the order they were sent.
//!
//! The engine's view must be the store *exactly* as confirmed (`Engine::step`): a spore the
//! writer committed but the driver has not confirmed yet would otherwise be counted twice, in
//! the store and in the engine's overlay. So the writer takes a read snapshot right after each
//! commit, before anything else can write (it is the node's only writer of spores), and sends
//! it with the outcome; the driver reads from that snapshot until its groups are all confirmed.
//!
//! If the thread cannot be started, the driver commits each group itself (`commit_group`), as
//! it did before this thread existed.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::exec::{apply_spore, Applied};
use crate::reply::Reply;
use crate::spore::{Spore, SporeId};
use crate::store::{HeldRead, Store, StoreError};

use super::write_path::DriverMsg;

/// Spores to apply, in the engine's order, with their ids.
pub type Group = Vec<(SporeId, Arc<Spore>)>;

/// What one transaction of the writer did (`DriverMsg::Committed`).
pub struct GroupDone {
    /// How many groups (`Writer::send` calls) the transaction took.
    pub groups: usize,
    pub ids: Vec<SporeId>,
    /// Each spore's replies, in `ids` order; or why nothing of the transaction is stored.
    pub outcome: Result<Vec<Vec<Reply>>, StoreError>,
    /// The store right after the commit (`None` if a snapshot could not be opened).
    pub view: Option<HeldRead>,
}

/// The handle the driver keeps: dropping it ends the thread once the queue is empty.
pub struct Writer {
    groups: Option<Sender<Group>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread; outcomes go to `done` (the driver's queue).
    pub fn start(store: Arc<Store>, done: Sender<DriverMsg>) -> std::io::Result<Writer> {
        let (groups, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("sporedb-writer".into())
            .spawn(move || run(store, rx, done))?;
        Ok(Writer {
            groups: Some(groups),
            thread: Some(thread),
        })
    }

    /// Whether the thread still runs.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Queues a group; gives it back if the thread is gone.
    pub fn send(&self, group: Group) -> Result<(), Group> {
        match &self.groups {
            Some(tx) => tx.send(group).map_err(|e| e.0),
            None => Err(group),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.groups.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(store: Arc<Store>, rx: Receiver<Group>, done: Sender<DriverMsg>) {
    while let Ok(first) = rx.recv() {
        let mut spores = first;
        let mut groups = 1;
        while let Ok(more) = rx.try_recv() {
            spores.extend(more);
            groups += 1;
        }
        let ids: Vec<SporeId> = spores.iter().map(|(id, _)| *id).collect();
        // A panic here (a bug) must not leave the driver waiting for this answer forever:
        // the group fails like a commit the store refused.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            commit_group(&store, &spores)
        }))
        .unwrap_or_else(|_| Err(StoreError::Misuse("the writer panicked applying a group")));
        let view = match HeldRead::begin(store.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!("store read failed after a commit: {e}");
                None
            }
        };
        let msg = DriverMsg::Committed(Box::new(GroupDone {
            groups,
            ids,
            outcome,
            view,
        }));
        if done.send(msg).is_err() {
            return;
        }
    }
}

/// Applies `spores` in one write transaction (with the state root, if the store keeps one)
/// and commits it durably; returns each spore's replies.
pub fn commit_group(
    store: &Store,
    spores: &[(SporeId, Arc<Spore>)],
) -> Result<Vec<Vec<Reply>>, StoreError> {
    let mut txn = store.write()?;
    let mut replies = Vec::with_capacity(spores.len());
    for (id, spore) in spores {
        replies.push(match apply_spore(&mut txn, spore, id)? {
            Applied::Done(r) => r,
            Applied::AlreadyApplied => Vec::new(),
        });
    }
    txn.commit()?;
    Ok(replies)
}
