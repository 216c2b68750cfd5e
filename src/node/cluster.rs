//! A node in a cluster: the global policy becomes the engine's policy, the local policy its
//! veto/hold rules, libp2p (`crate::net`) its `PeerLink`; a bridge task turns network events
//! into driver messages (gossip checked before relay by `consensus::gossip_check`, direct
//! messages checked the same way, state-transfer requests served from the store), and a sync
//! task catches the node up from trusted peers at start and whenever a committed spore stays
//! inapplicable (this node missed earlier spores).
//!
//! Peers running a different global policy never talk consensus with this node: the gossip
//! topic is derived from the policy's hash (`cluster::GlobalPolicy::hash`); a policy-change
//! spore moves the node to the new policy's topic (`policy_state.rs`).

use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::cluster::{GlobalPolicy, LocalDecision as RuleDecision, LocalPolicy as Rules};
use crate::config::ClusterConfig;
use crate::consensus::wire::decode_message;
use crate::consensus::{
    cached_verifier, check_direct, check_gossip, EngineConfig, GossipRules, GossipVerdict,
    LocalDecision, LocalPolicy, Message, Verifier,
};
use crate::crypto::{NodeId, NodeKey};
use crate::net::{Decoded, NetConfig, NetEvent, NetHandle, Verdict};
use crate::root::{gossip as attest_gossip, StateRootRead};
use crate::store::Store;
use crate::sync::{catch_up, FetchError, Requester, SyncRequest, SyncResponse, SYNC_TAG};
use crate::trust::TrustRing;

use super::attestations::Attestations;
use super::clock;
use super::peer_link::PeerLink;
use super::policy_state::{policy_at_start, ActivePolicy};
use super::stats::SporeStats;
use super::write_path::DriverMsg;

/// Signatures remembered by the shared verifier (network task + engine).
const VERIFIED_CACHE: usize = 1 << 20;
/// How long a committed spore may wait for missing prerequisites before the node syncs.
const STALL_BEFORE_SYNC_MS: u64 = 3_000;
/// Largest state-transfer page.
const PAGE_BYTES: u32 = 1 << 20;
/// How often (in seconds) the node asks its peers for their signed roots and compares (a node
/// cut off while spores committed elsewhere may hold nothing that waits on them, so no stall
/// ever shows it; the answers also feed the attestation book). Roots are maintained at every
/// commit, so answering costs a peer two reads.
const ROOT_CHECK_EVERY: u32 = 2;

/// Everything loaded from `[cluster]` before the node starts.
pub struct ClusterSetup {
    /// The policy at start (`active` holds the one in force).
    pub policy: GlobalPolicy,
    /// The policy in force, switched by policy-change spores (`policy_state.rs`).
    pub active: Arc<ActivePolicy>,
    pub trust: Arc<TrustRing>,
    pub rules: GossipRules,
    pub verifier: Verifier,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Policy(#[from] crate::cluster::PolicyLoadError),
    #[error("trust ring: {0}")]
    Trust(#[from] crate::trust::TrustError),
    #[error("bad multiaddr '{addr}': {why}")]
    Addr { addr: String, why: String },
    #[error("network: {0}")]
    Net(#[from] crate::net::NetError),
    #[error("{0}")]
    RecordedPolicy(#[from] super::policy_state::RecordedPolicyError),
}

impl ClusterSetup {
    /// Loads the policy and key ring. Honest nodes accept deadlines up to the policy's spore
    /// deadline (at least `min_horizon_ms`) ahead, with `max_skew_ms` of clock skew.
    /// `recorded` is the policy text the store records (the last change applied): it wins over
    /// the file when they differ (`policy_state::policy_at_start`).
    pub fn load(
        cluster: &ClusterConfig,
        data_dir: &std::path::Path,
        me: &NodeId,
        min_horizon_ms: u64,
        max_skew_ms: u64,
        recorded: Option<&[u8]>,
    ) -> Result<ClusterSetup, ClusterError> {
        let policy = policy_at_start(
            cluster.load_policy()?,
            &cluster.policy,
            recorded,
            cluster.override_recorded_policy,
            me,
        )?;
        let active = ActivePolicy::new(policy.clone(), cluster.policy.clone(), min_horizon_ms, me);
        let max_horizon_ms = policy.spore_deadline_ms().max(min_horizon_ms);
        let mut trust = TrustRing::load(data_dir)?;
        trust.set_marginals_needed(cluster.marginals_needed(&policy))?;
        let verifier = cached_verifier(VERIFIED_CACHE);
        // Past deadline + grace + retention no engine would act on a statement any more.
        let stale_after_ms = 2 * policy.grace_ms() + 2 * max_skew_ms;
        let rules = GossipRules {
            policy: policy.consensus_policy(),
            extra_origins: Default::default(),
            max_message_bytes: crate::net::DEFAULT_MAX_MESSAGE_BYTES,
            max_horizon_ms,
            max_skew_ms,
            stale_after_ms,
            spore_rule: Some(active.gossip_rule()),
            limits: Some(active.gossip_limits(max_skew_ms)),
            verifier: verifier.clone(),
        };
        Ok(ClusterSetup {
            policy,
            active,
            trust: Arc::new(trust),
            rules,
            verifier,
        })
    }

    /// The engine configuration for this cluster. `restarted`: the node ran before with this
    /// data dir, so it may have endorsed spores it no longer remembers (amnesia guard).
    pub fn engine_config(&self, key: NodeKey, now_ms: u64, restarted: bool) -> EngineConfig {
        let mut cfg = EngineConfig::new(key, self.policy.consensus_policy());
        cfg.grace_ms = self.policy.grace_ms();
        cfg.max_horizon_ms = self.rules.max_horizon_ms;
        cfg.max_skew_ms = self.rules.max_skew_ms;
        cfg.verifier = self.verifier.clone();
        cfg.policy_gate = Some(self.active.gate());
        if restarted {
            cfg.endorse_after_ms = now_ms + cfg.amnesia_quiet_ms();
        }
        cfg
    }

    /// The gossip topic: peers with another policy are on another topic.
    pub fn topic(&self) -> String {
        topic_for(&self.policy)
    }
}

/// The gossip topic of a global policy (its hash, so nodes holding another policy never
/// exchange consensus messages with this one).
pub fn topic_for(policy: &GlobalPolicy) -> String {
    format!("sporedb/v1/{}", &hex::encode(policy.hash())[..32])
}

/// The node's local policy rules as the engine's decision function.
pub fn engine_local_policy(rules: &Rules) -> Option<LocalPolicy> {
    if rules.is_empty() {
        return None;
    }
    let rules = rules.clone();
    Some(LocalPolicy(Arc::new(move |s| match rules.decide(s) {
        RuleDecision::Endorse => LocalDecision::Endorse,
        RuleDecision::Veto(why) => {
            tracing::info!("local policy vetoes spore {}: {why}", s.id());
            LocalDecision::Veto
        }
        RuleDecision::Hold => LocalDecision::Hold,
    })))
}

/// Starts libp2p with the gossip check as validator.
pub async fn start_network(
    setup: &ClusterSetup,
    cluster: &ClusterConfig,
    key: &NodeKey,
) -> Result<(NetHandle, tokio::sync::mpsc::Receiver<NetEvent>), ClusterError> {
    let parse = |a: &String| {
        a.parse::<libp2p::Multiaddr>()
            .map_err(|e| ClusterError::Addr {
                addr: a.clone(),
                why: e.to_string(),
            })
    };
    let rules = setup.rules.clone();
    let validator: crate::net::Validator = Arc::new(move |_from: &NodeId, data: &[u8]| {
        if data.first() == Some(&attest_gossip::ATTEST_TAG) {
            // A signed root: relayed only if an endorser signed it.
            return match attest_gossip::check(data, |n| rules.policy.is_endorser(n)) {
                Ok(_) => Verdict::Accept,
                Err(why) => Verdict::Reject(why),
            };
        }
        match check_gossip(&rules, clock::now_ms(), &Bytes::copy_from_slice(data)) {
            // The checked message goes to the driver as decoded here (with the spore ids it
            // computed), instead of being decoded again.
            GossipVerdict::Accept(msg) => Verdict::AcceptDecoded(Decoded(Arc::new(msg))),
            GossipVerdict::Reject(why) => Verdict::Reject(why),
            GossipVerdict::Ignore(_) => Verdict::Ignore,
        }
    });
    let mut net = NetConfig::new(key.clone(), setup.topic(), validator);
    net.listen = vec![parse(&cluster.p2p_listen)?];
    net.bootstrap = cluster
        .bootstrap
        .iter()
        .map(parse)
        .collect::<Result<_, _>>()?;
    net.max_message_bytes = setup.rules.max_message_bytes;
    Ok(crate::net::start(net).await?)
}

/// The driver's view of libp2p.
pub struct NetLink(pub NetHandle);

impl PeerLink for NetLink {
    fn broadcast(&self, data: Vec<u8>) {
        self.0.broadcast(data);
    }
    fn send(&self, to: NodeId, data: Vec<u8>) {
        self.0.send(to, data);
    }
    fn ban(&self, node: NodeId, why: String) {
        self.0.ban(node, why);
    }
    fn peers(&self) -> Vec<NodeId> {
        self.0.peers()
    }
}

/// Turns network events into driver messages until the network stops or shutdown.
pub async fn bridge(
    mut events: tokio::sync::mpsc::Receiver<NetEvent>,
    driver: Sender<DriverMsg>,
    rules: GossipRules,
    store: Arc<Store>,
    attestations: Arc<Attestations>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            e = events.recv() => match e { Some(e) => e, None => return },
            _ = shutdown.cancelled() => return,
        };
        match event {
            NetEvent::Gossip { data, .. } if data.first() == Some(&attest_gossip::ATTEST_TAG) => {
                // The validator checked it before relay; decoding cannot fail here.
                if let Ok((s, dbs)) = attest_gossip::decode(&data) {
                    attestations.peer(s, Some(dbs));
                }
            }
            NetEvent::Gossip {
                from,
                data,
                decoded,
            } => match decoded
                .and_then(|d| d.0.downcast::<Message>().ok())
                .map(|m| Arc::try_unwrap(m).unwrap_or_else(|m| (*m).clone()))
                .map_or_else(|| decode_message(&data), Ok)
            {
                Ok(msg) => {
                    let gossip = true;
                    if driver.send(DriverMsg::Net { from, msg, gossip }).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::debug!("undecodable gossip after validation: {e}"),
            },
            NetEvent::Direct {
                from,
                data,
                respond,
            } => {
                if data.first() == Some(&SYNC_TAG) {
                    let store = store.clone();
                    let attestations = attestations.clone();
                    tokio::task::spawn_blocking(move || {
                        respond.send(serve_sync(&store, &attestations, &data));
                    });
                    continue;
                }
                match check_direct(&rules, clock::now_ms(), &data) {
                    Ok(msg) => {
                        let gossip = false;
                        if driver.send(DriverMsg::Net { from, msg, gossip }).is_err() {
                            return;
                        }
                    }
                    Err(why) => tracing::debug!(
                        "refused direct message from {}: {why}",
                        hex::encode(&from[..8])
                    ),
                }
            }
            NetEvent::PeerUp(p) => tracing::info!("peer up: {}", hex::encode(p)),
            NetEvent::PeerDown(p) => tracing::info!("peer down: {}", hex::encode(p)),
            NetEvent::Listening(addr) => tracing::info!("p2p listening on {addr}"),
        }
    }
}

/// Answers a state-transfer request from the store (an empty answer for junk).
fn serve_sync(store: &Store, attestations: &Attestations, data: &Bytes) -> Vec<u8> {
    let Ok(req) = SyncRequest::decode(data) else {
        return Vec::new();
    };
    let Ok(read) = store.read() else {
        return Vec::new();
    };
    let answer = match req {
        SyncRequest::Root => {
            // A node whose data is known not to match its root does not vouch for the root.
            if store.integrity().is_tampered() {
                return Vec::new();
            }
            let Ok(root) = read.state_root() else {
                return Vec::new();
            };
            SyncResponse::Root {
                root,
                signature: attestations.sign(root).attestation.signature,
            }
        }
        SyncRequest::Page {
            table,
            after,
            max_bytes,
        } => {
            let max = (max_bytes as usize).min(PAGE_BYTES as usize);
            match crate::sync::read_page(&read, table, after.as_deref(), max) {
                Ok(Some((entries, more))) => SyncResponse::Page { entries, more },
                _ => return Vec::new(),
            }
        }
    };
    answer.encode()
}

/// Catches the node up from trusted peers: once at start (as soon as peers answer); whenever a
/// committed spore has waited for missing prerequisites too long; when trusted peers agree
/// twice in a row on a root that is not ours; and at once when this node must not trust its
/// own state (the scrub found it tampered, or f + 1 endorsers signed another root for the
/// same applied spores).
pub async fn sync_loop(
    net: NetHandle,
    driver: Sender<DriverMsg>,
    store: Arc<Store>,
    trust: Arc<TrustRing>,
    stats: Arc<SporeStats>,
    attestations: Arc<Attestations>,
    shutdown: CancellationToken,
) {
    let requester: Requester = {
        let net = net.clone();
        Arc::new(move |to, data| {
            let net = net.clone();
            Box::pin(async move { net.request(to, data).await.map_err(|e| e.to_string()) })
        })
    };
    let agreement = {
        let trust = trust.clone();
        move |v: &[NodeId]| trust.agreement(v)
    };
    let mut startup = true;
    let mut tick = 0u32;
    // The vouched root seen at the last periodic check, when it differed from ours.
    let mut last_vouched: Option<crate::root::Root> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(1_000)) => {}
            _ = shutdown.cancelled() => return,
        }
        tick = tick.wrapping_add(1);
        let stalled = stats.stalled_since_ms.load(Ordering::Relaxed);
        let stalled = stalled > 0 && clock::now_ms().saturating_sub(stalled) > STALL_BEFORE_SYNC_MS;
        // Our own root does not count when the data is known not to match it.
        let distrust = store.integrity().is_tampered() || attestations.diverged();
        let periodic = tick.is_multiple_of(ROOT_CHECK_EVERY);
        if !(startup || stalled || distrust || periodic) {
            continue;
        }
        let peers = net.peers();
        if peers.is_empty() {
            continue;
        }
        let own = match store.state_root() {
            Ok(r) if !distrust => Some(r),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("state transfer: cannot read own root: {e}");
                continue;
            }
        };
        // One round of root requests per pass: it feeds the attestation book (a restarted
        // node learns its peers' roots here before any gossip) and decides what to copy.
        let signed = crate::sync::fetch::signed_roots(&requester, &peers).await;
        for s in &signed {
            // State-transfer answers carry no breakdown by database.
            attestations.peer(*s, None);
        }
        let by_root = crate::sync::fetch::group(&signed);
        if !(startup || stalled || distrust) {
            // Periodic check: sync only when trusted peers vouch for the same root twice in a
            // row and it is not ours — they are quiet and this node differs. Under constant
            // load the vouched root keeps moving and nothing happens (catch-up of spores
            // nothing here depends on waits for a pause).
            match crate::sync::vouched(&by_root, &agreement).map(|(r, _)| r) {
                Some(r) if Some(r) != own => {
                    if last_vouched != Some(r) {
                        last_vouched = Some(r);
                        continue;
                    }
                    tracing::warn!(
                        "state differs from the root trusted peers agree on ({}); syncing",
                        hex::encode(&r.root[..8])
                    );
                }
                _ => {
                    last_vouched = None;
                    continue;
                }
            }
        }
        match catch_up(&requester, &peers, &by_root, &agreement, own, PAGE_BYTES).await {
            Ok(c) => {
                let root = c.root;
                let (reply, rx) = oneshot::channel();
                if driver
                    .send(DriverMsg::Install {
                        catch_up: Box::new(c),
                        reply,
                    })
                    .is_err()
                {
                    return;
                }
                match rx.await {
                    Ok(Ok(())) => {
                        startup = false;
                        last_vouched = None;
                        attestations.repaired(root);
                        stats.startup_sync_pending.store(false, Ordering::Relaxed);
                    }
                    Ok(Err(e)) => tracing::error!("state transfer: install failed: {e}"),
                    Err(_) => return,
                }
            }
            Err(FetchError::UpToDate) => {
                startup = false;
                stats.startup_sync_pending.store(false, Ordering::Relaxed);
            }
            Err(e) => tracing::info!("state transfer: {e}; will retry"),
        }
    }
}
