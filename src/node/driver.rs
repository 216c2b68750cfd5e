//! The driver: the one thread that owns the consensus engine and writes the store.
//!
//! It turns client writes into spores (materialise on projected versions), feeds them to the
//! engine, applies what the engine says is committed and applicable — many spores in one
//! durable LMDB transaction (group commit) — and only then answers the clients. Running on its
//! own OS thread keeps LMDB's single-writer, thread-bound write transactions away from tokio's
//! workers and makes the apply order the engine's order, with nothing interleaved.
//!
//! Blind writes whose spore is dropped for a conflict are rebuilt on fresh versions and
//! resubmitted until their deadline; WATCHed writes fail instead (EXEC answers a null array).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use crate::consensus::{Effect, Engine, Input};
use crate::exec::{apply_spore, Applied};
use crate::reply::Reply;
use crate::spore::effects::Projection;
use crate::spore::footprint::merged_accesses;
use crate::spore::{Key, Spore, SporeId, VersionView};
use crate::store::{Store, StoreRead};
use crate::write::WriteError;

use super::clock;
use super::materialize::{materialize, KeyFacts, MaterializeError, Origin};
use super::stats::SporeStats;
use super::write_path::{DriverMsg, WriteJob};

/// How often the engine gets a timer tick when no write arrives.
const TICK: Duration = Duration::from_millis(50);
/// Most client writes turned into spores per engine step (and per group commit).
const MAX_BATCH: usize = 4096;

/// A client write whose spore is in the engine.
struct Waiting {
    job: WriteJob,
    client_ops: Vec<usize>,
}

pub struct Driver {
    store: Arc<Store>,
    engine: Engine,
    origin: crate::crypto::NodeId,
    rx: Receiver<DriverMsg>,
    stats: Arc<SporeStats>,
    nonce: u64,
    waiting: BTreeMap<SporeId, Waiting>,
    retry: VecDeque<WriteJob>,
    /// When the engine is next due a timer tick.
    next_tick_ms: u64,
}

impl Driver {
    pub fn new(
        store: Arc<Store>,
        engine: Engine,
        origin: crate::crypto::NodeId,
        rx: Receiver<DriverMsg>,
        stats: Arc<SporeStats>,
    ) -> Driver {
        // Nonces only need to be unique per origin; starting from the clock keeps them unique
        // across restarts without persisting a counter.
        let nonce = clock::now_ms().saturating_mul(1000);
        Driver {
            store,
            engine,
            origin,
            rx,
            stats,
            nonce,
            waiting: BTreeMap::new(),
            retry: VecDeque::new(),
            next_tick_ms: 0,
        }
    }

    /// Runs until shutdown; every write still waiting then gets `Unavailable`.
    pub fn run(mut self) {
        loop {
            match self.rx.recv_timeout(TICK) {
                Ok(DriverMsg::Write(job)) => {
                    let mut batch: Vec<WriteJob> = self.retry.drain(..).collect();
                    batch.push(job);
                    let mut shutdown = false;
                    while batch.len() < MAX_BATCH {
                        match self.rx.try_recv() {
                            Ok(DriverMsg::Write(job)) => batch.push(job),
                            Ok(DriverMsg::Shutdown) => {
                                shutdown = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.submit(batch);
                    if shutdown {
                        break;
                    }
                    // Timers must run under sustained load too (drops at deadline + grace,
                    // retries): a steady stream of writes never lets `recv_timeout` time out.
                    if clock::now_ms() >= self.next_tick_ms {
                        self.step(Input::Tick);
                    }
                }
                Ok(DriverMsg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    let batch: Vec<WriteJob> = self.retry.drain(..).collect();
                    if batch.is_empty() {
                        self.step(Input::Tick);
                    } else {
                        self.submit(batch);
                    }
                }
            }
        }
        for (_, w) in std::mem::take(&mut self.waiting) {
            let _ = w.job.reply.send(Err(WriteError::Unavailable));
        }
    }

    /// Materialises a batch of writes on projected versions and submits the spores.
    fn submit(&mut self, batch: Vec<WriteJob>) {
        let now = clock::now_ms();
        let store = self.store.clone();
        let read = match store.read() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("store read failed: {e}");
                batch
                    .into_iter()
                    .for_each(|j| fail(j, WriteError::Unavailable));
                return;
            }
        };
        let mut spores: Vec<Spore> = Vec::with_capacity(batch.len());
        {
            let mut projection = Projection::new(&read);
            // Keys an earlier spore of this batch wrote non-commutatively: their TTL state is not
            // in the store yet.
            let mut rewritten: BTreeSet<Key> = BTreeSet::new();
            for job in batch {
                if now >= job.deadline_ms {
                    self.drop_job(
                        job,
                        None,
                        "deadline passed before the spore was built".into(),
                    );
                    continue;
                }
                let facts = |key: &Key| -> KeyFacts {
                    if rewritten.contains(key) {
                        return KeyFacts {
                            expired: false,
                            may_have_ttl: true,
                        };
                    }
                    match read.raw_record(key) {
                        Ok(Some(rec)) if rec.is_live() && rec.expire_at_ms != 0 => KeyFacts {
                            expired: rec.expire_at_ms <= now,
                            may_have_ttl: true,
                        },
                        Ok(_) => KeyFacts::default(),
                        // Unknown: be conservative (order the write, delete nothing).
                        Err(_) => KeyFacts {
                            expired: false,
                            may_have_ttl: true,
                        },
                    }
                };
                self.nonce += 1;
                let origin = Origin {
                    id: self.origin,
                    nonce: self.nonce,
                    deadline_ms: job.deadline_ms,
                };
                match materialize(&job.request, &projection, &facts, origin) {
                    Err(MaterializeError::WatchFailed) => fail(job, WriteError::WatchFailed),
                    Ok(m) => {
                        let id = m.spore.id();
                        projection.push(&m.spore, &id);
                        // Only a non-commutative write can change a key's TTL; increments and
                        // set additions leave the store's TTL facts valid.
                        for (k, access) in merged_accesses(&m.spore) {
                            if !access.is_commutative() {
                                rewritten.insert(k);
                            }
                        }
                        self.waiting.insert(
                            id,
                            Waiting {
                                job,
                                client_ops: m.client_ops,
                            },
                        );
                        spores.push(m.spore);
                    }
                }
            }
        }
        drop(read);
        if spores.is_empty() {
            return;
        }
        SporeStats::add(&self.stats.pending, spores.len() as u64);
        self.step(Input::Submit(spores));
    }

    /// Runs one engine step and carries out its effects.
    fn step(&mut self, input: Input) {
        let now = clock::now_ms();
        if matches!(input, Input::Tick) {
            self.next_tick_ms = now + TICK.as_millis() as u64;
        }
        let effects = match self.store.read() {
            Ok(read) => self.engine.step(now, input, &read as &dyn VersionView),
            Err(e) => {
                tracing::error!("store read failed: {e}");
                return;
            }
        };
        self.carry_out(effects);
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        let mut to_apply: Vec<(SporeId, Arc<Spore>)> = Vec::new();
        for effect in effects {
            match effect {
                Effect::Apply { id, spore } => to_apply.push((id, spore)),
                Effect::Dropped { id, reason } => {
                    if let Some(w) = self.waiting.remove(&id) {
                        self.stats_pending_done(1);
                        self.retry_or_drop(w.job, id, reason.to_string());
                    }
                }
                Effect::Evidence(evidence) => {
                    tracing::warn!("evidence of equivocation: {evidence:?}")
                }
                // A single node has no peers; the cluster wiring sends these over gossip.
                _ => {}
            }
        }
        if !to_apply.is_empty() {
            self.apply(to_apply);
        }
    }

    /// Applies committed spores in one durable transaction, then answers their clients.
    fn apply(&mut self, spores: Vec<(SporeId, Arc<Spore>)>) {
        let ids: Vec<SporeId> = spores.iter().map(|(id, _)| *id).collect();
        let outcome = (|| {
            let mut txn = self.store.write()?;
            let mut replies = Vec::with_capacity(spores.len());
            for (id, spore) in &spores {
                replies.push(match apply_spore(&mut txn, spore, id)? {
                    Applied::Done(r) => r,
                    Applied::AlreadyApplied => Vec::new(),
                });
            }
            txn.commit()?;
            Ok::<_, crate::store::StoreError>(replies)
        })();
        match outcome {
            Ok(replies) => {
                SporeStats::add(&self.stats.committed, ids.len() as u64);
                SporeStats::add(&self.stats.batches, 1);
                for (id, replies) in ids.iter().zip(replies) {
                    if let Some(w) = self.waiting.remove(id) {
                        self.stats_pending_done(1);
                        let client: Vec<Reply> = w
                            .client_ops
                            .iter()
                            .filter_map(|&i| replies.get(i).cloned())
                            .collect();
                        let _ = w.job.reply.send(Ok(client));
                    }
                }
                self.step(Input::Applied(ids));
            }
            Err(e) => {
                // Nothing of the transaction is visible; the clients get an error, the node
                // keeps serving. The engine still believes these spores applicable, so it will
                // offer them again on the next step.
                tracing::error!("applying {} spores failed: {e}", ids.len());
                for id in &ids {
                    if let Some(w) = self.waiting.remove(id) {
                        self.stats_pending_done(1);
                        fail(w.job, WriteError::Unavailable);
                    }
                }
            }
        }
    }

    fn retry_or_drop(&mut self, job: WriteJob, id: SporeId, reason: String) {
        if job.request.watched.is_empty() && clock::now_ms() < job.deadline_ms {
            SporeStats::add(&self.stats.retried, 1);
            self.retry.push_back(job);
        } else if !job.request.watched.is_empty() {
            fail(job, WriteError::WatchFailed);
        } else {
            self.drop_job(job, Some(id), reason);
        }
    }

    /// Fails a write that will not be retried. `id` is the last spore built for it, if any
    /// (a write whose deadline passed while queued never became a spore).
    fn drop_job(&mut self, job: WriteJob, id: Option<SporeId>, reason: String) {
        SporeStats::add(&self.stats.dropped, 1);
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        fail(job, WriteError::Dropped { id, reason });
    }

    fn stats_pending_done(&self, n: u64) {
        self.stats
            .pending
            .fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
    }
}

fn fail(job: WriteJob, error: WriteError) {
    let _ = job.reply.send(Err(error));
}
