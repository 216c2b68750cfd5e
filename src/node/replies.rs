//! Answers a commit group's clients with one wake-up per connection thread, not one per client.
//!
//! A single node serves its connections on a few current-thread tokio runtimes, one per I/O
//! thread (`node::run`). A write's reply travels back through a oneshot channel, and sending
//! on it from the driver thread wakes the connection's task from outside its runtime; tokio
//! then schedules the task remotely and writes to the runtime's eventfd, one `write` syscall
//! (and often a thread wake-up) per reply. With one request in flight per client, a group of
//! ~20 writes cost ~20 of them: ~12 % of the driver's CPU (`perf`, `-P 1` SET).
//!
//! So each write remembers the I/O thread it came from (`Home`, noted at submission), and the
//! driver collects a group's replies per home (`Replies`) and hands each home's batch to its
//! runtime as one task, which sends them there: waking a task of the same runtime is a local
//! schedule, no syscall. Writes submitted from anywhere else (the cluster's multi-thread
//! runtime, tests) have no home and are answered directly, as before.

use std::cell::RefCell;
use std::collections::BTreeMap;

use tokio::runtime::Handle;

use crate::reply::Reply;
use crate::write::WriteError;

use super::write_path::ReplySender;

/// An I/O thread's runtime, and its index among the node's I/O threads.
#[derive(Clone)]
pub struct Home {
    index: usize,
    handle: Handle,
}

thread_local! {
    static HOME: RefCell<Option<Home>> = const { RefCell::new(None) };
}

/// Marks the calling thread as I/O thread `index`, running `handle`'s runtime.
pub fn set_home(index: usize, handle: Handle) {
    HOME.with(|h| *h.borrow_mut() = Some(Home { index, handle }));
}

/// The I/O thread the caller runs on, if it is one.
pub fn home() -> Option<Home> {
    HOME.with(|h| h.borrow().clone())
}

type Answer = (ReplySender, Result<Vec<Reply>, WriteError>);

/// A group's replies, collected per home until `send`.
#[derive(Default)]
pub struct Replies {
    by_home: BTreeMap<usize, (Handle, Vec<Answer>)>,
}

impl Replies {
    /// Sends `result` on `tx` now (no home) or with the rest of its home's batch.
    pub fn push(
        &mut self,
        home: Option<&Home>,
        tx: ReplySender,
        result: Result<Vec<Reply>, WriteError>,
    ) {
        match home {
            None => {
                let _ = tx.send(result);
            }
            Some(h) => self
                .by_home
                .entry(h.index)
                .or_insert_with(|| (h.handle.clone(), Vec::new()))
                .1
                .push((tx, result)),
        }
    }

    /// Hands each home's batch to its runtime. A runtime that has stopped drops the task and
    /// with it the senders: those clients' connections are gone with it.
    pub fn send(self) {
        for (_, (handle, answers)) in self.by_home {
            handle.spawn(async move {
                for (tx, result) in answers {
                    let _ = tx.send(result);
                }
            });
        }
    }
}
