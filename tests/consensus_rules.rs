//! One step table per protocol rule (docs/PROTOCOL.md): each row is an input to one engine
//! (node 0 of a 4-node policy, ω = 3, f = 1) and the effects it must produce. Other nodes'
//! statements are signed with their real keys; the store applies `Apply` effects and confirms.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use num_bigint::BigInt;
use sporedb::consensus::*;
use sporedb::crypto::{NodeId, NodeKey};
use sporedb::sim::store::SimStore;
use sporedb::sim::world::node_key;
use sporedb::spore::*;

const GRACE: u64 = 1_000;

struct Harness {
    engine: Engine,
    store: SimStore,
    keys: Vec<NodeKey>,
}

type Check = Box<dyn Fn(&[Effect]) -> Result<(), String>>;

/// One row of a step table.
struct Step {
    desc: &'static str,
    at: u64,
    input: Input,
    expect: Check,
}

impl Harness {
    fn new() -> Harness {
        let keys: Vec<NodeKey> = (0..4).map(node_key).collect();
        let policy = Policy::new(keys.iter().map(|k| k.id()).collect(), 3, 1).expect("policy");
        let mut cfg = EngineConfig::new(keys[0].clone(), policy);
        cfg.grace_ms = GRACE;
        cfg.max_horizon_ms = 5_000;
        cfg.max_skew_ms = 10;
        Harness {
            engine: Engine::new(cfg),
            store: SimStore::default(),
            keys,
        }
    }

    fn id(&self, i: usize) -> NodeId {
        self.keys[i].id()
    }

    /// Runs a table; every row's effects must satisfy its expectation.
    fn run(&mut self, rule: &str, steps: Vec<Step>) {
        for (n, s) in steps.into_iter().enumerate() {
            let effects = self.engine.step(s.at, s.input, &self.store);
            let applied: Vec<SporeId> = effects
                .iter()
                .filter_map(|e| match e {
                    Effect::Apply { id, spore } => {
                        self.store.apply(spore, id);
                        Some(*id)
                    }
                    _ => None,
                })
                .collect();
            if let Err(why) = (s.expect)(&effects) {
                panic!("{rule}, row {n} ({}): {why}\neffects: {effects:#?}", s.desc);
            }
            if !applied.is_empty() {
                self.engine.step(s.at, Input::Applied(applied), &self.store);
            }
        }
    }

    fn batch(&self, origin: usize, spores: Vec<Spore>) -> Arc<SporeBatch> {
        Arc::new(SporeBatch::sign(
            &self.keys[origin],
            spores.into_iter().map(Arc::new).collect(),
        ))
    }

    fn endorse(&self, by: usize, ids: &[SporeId]) -> Arc<EndorseBatch> {
        Arc::new(EndorseBatch::sign(&self.keys[by], ids.to_vec()))
    }

    /// `sp`, signed by `origin`, with a certificate: endorsements of nodes 1, 2 and 3 (ω = 3).
    fn cert(&self, origin: usize, sp: Spore, id: SporeId) -> Message {
        bundle(
            vec![self.batch(origin, vec![sp])],
            vec![
                self.endorse(1, &[id]),
                self.endorse(2, &[id]),
                self.endorse(3, &[id]),
            ],
        )
    }

    fn from(&self, i: usize, msg: Message) -> Input {
        Input::Message {
            from: self.id(i),
            msg,
        }
    }
}

fn k(name: &str) -> Key {
    Key::new(0, Bytes::copy_from_slice(name.as_bytes()))
}

fn set(origin: NodeId, nonce: u64, key: &str, v: KeyVersion, deadline: u64) -> Spore {
    Spore {
        origin,
        nonce,
        deadline_ms: deadline,
        key_prereqs: vec![KeyPrereq::full(k(key), v)],
        db_prereqs: vec![],
        ops: vec![Op::Set {
            key: k(key),
            value: Bytes::from(format!("{nonce}")),
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        }],
    }
}

fn incr(origin: NodeId, nonce: u64, key: &str, v: KeyVersion, deadline: u64) -> Spore {
    Spore {
        origin,
        nonce,
        deadline_ms: deadline,
        key_prereqs: vec![KeyPrereq::order_only(k(key), v)],
        db_prereqs: vec![],
        ops: vec![Op::IncrBy {
            key: k(key),
            delta: BigInt::from(1),
        }],
    }
}

fn sadd(origin: NodeId, nonce: u64, key: &str, v: KeyVersion, deadline: u64) -> Spore {
    let mut p = KeyPrereq::order_only(k(key), v);
    // The member was never touched at this key order.
    p.members = vec![MemberPrereq::order_only(
        Bytes::from_static(b"m"),
        KeyVersion::member_absent(&v.order, &k(key), b"m"),
    )];
    let s = Spore {
        origin,
        nonce,
        deadline_ms: deadline,
        key_prereqs: vec![p],
        db_prereqs: vec![],
        ops: vec![Op::SAdd {
            key: k(key),
            members: vec![Bytes::from_static(b"m")],
        }],
    };
    assert_eq!(validate::validate(&s), Ok(()));
    s
}

fn bundle(spores: Vec<Arc<SporeBatch>>, endorsements: Vec<Arc<EndorseBatch>>) -> Message {
    Message::Bundle(Bundle {
        spores,
        endorsements,
        rejections: vec![],
    })
}

fn absent(key: &str) -> KeyVersion {
    KeyVersion::absent(&[0; 32], &k(key))
}

// ---- expectations ------------------------------------------------------------------------

fn endorsed(id: SporeId) -> Check {
    Box::new(move |e| {
        let ok = e.iter().any(|f| match f {
            Effect::Send { msg, .. } => matches!(&**msg, Message::Endorse(eb) if eb.contains(&id)),
            _ => false,
        });
        if ok {
            Ok(())
        } else {
            Err(format!("expected an endorsement of {id:?}"))
        }
    })
}

fn not_endorsed(id: SporeId) -> Check {
    Box::new(move |e| {
        let bad = e.iter().any(|f| match f {
            Effect::Send { msg, .. } => matches!(&**msg, Message::Endorse(eb) if eb.contains(&id)),
            Effect::Broadcast(msg) => matches!(&**msg, Message::Bundle(b) if b.endorsements.iter().any(|x| x.contains(&id))),
            _ => false,
        });
        if bad {
            Err(format!("{id:?} must not be endorsed"))
        } else {
            Ok(())
        }
    })
}

fn applies(ids: Vec<SporeId>) -> Check {
    Box::new(move |e| {
        let got: Vec<SporeId> = e
            .iter()
            .filter_map(|f| match f {
                Effect::Apply { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        if got == ids {
            Ok(())
        } else {
            Err(format!("expected applies {ids:?}, got {got:?}"))
        }
    })
}

fn commits_without_apply(id: SporeId) -> Check {
    Box::new(move |e| {
        let c = e
            .iter()
            .any(|f| matches!(f, Effect::Committed { id: x } if *x == id));
        let a = e.iter().any(|f| matches!(f, Effect::Apply { .. }));
        if c && !a {
            Ok(())
        } else {
            Err("expected a commit and no apply".into())
        }
    })
}

fn dropped(id: SporeId, reason: DropReason) -> Check {
    Box::new(move |e| {
        if e.iter()
            .any(|f| matches!(f, Effect::Dropped { id: x, reason: r } if *x == id && *r == reason))
        {
            Ok(())
        } else {
            Err(format!("expected {id:?} dropped: {reason}"))
        }
    })
}

fn evidence_against(culprit: NodeId) -> Check {
    Box::new(move |e| {
        if e.iter().any(
            |f| matches!(f, Effect::Evidence(ev) if ev.culprit() == culprit && ev.verify(GRACE)),
        ) {
            Ok(())
        } else {
            Err("expected verifiable evidence".into())
        }
    })
}

fn nothing() -> Check {
    Box::new(|e| {
        if e.is_empty() {
            Ok(())
        } else {
            Err("expected no effect".into())
        }
    })
}

fn no_apply() -> Check {
    Box::new(|e| {
        if e.iter()
            .any(|f| matches!(f, Effect::Apply { .. } | Effect::Committed { .. }))
        {
            Err("expected no commit".into())
        } else {
            Ok(())
        }
    })
}

fn all(checks: Vec<Check>) -> Check {
    Box::new(move |e| checks.iter().try_for_each(|c| c(e)))
}

// ---- the rules ------------------------------------------------------------------------------

#[test]
fn rule_commit_needs_omega_endorsements() {
    let mut h = Harness::new();
    let a = set(h.id(1), 1, "x", absent("x"), 2_000);
    let id = a.id();
    let b = h.batch(1, vec![a]);
    let steps = vec![
        Step {
            desc: "spore from node 1 with its own endorsement: node 0 endorses",
            at: 1_000,
            input: h.from(1, bundle(vec![b.clone()], vec![h.endorse(1, &[id])])),
            expect: all(vec![endorsed(id), no_apply()]),
        },
        Step {
            desc: "third endorsement (node 2): ω = 3 reached, applied",
            at: 1_010,
            input: h.from(2, Message::Endorse(h.endorse(2, &[id]))),
            expect: applies(vec![id]),
        },
        Step {
            desc: "a fourth endorsement changes nothing",
            at: 1_020,
            input: h.from(3, Message::Endorse(h.endorse(3, &[id]))),
            expect: no_apply(),
        },
    ];
    h.run("commit", steps);
}

#[test]
fn rule_timeout_and_horizon() {
    let mut h = Harness::new();
    let late = set(h.id(1), 1, "x", absent("x"), 900);
    let far = set(h.id(1), 2, "y", absent("y"), 1_000_000);
    let (li, fi) = (late.id(), far.id());
    let steps = vec![
        Step {
            desc: "deadline already passed: never endorsed (Timeout)",
            at: 1_000,
            input: h.from(1, bundle(vec![h.batch(1, vec![late])], vec![])),
            expect: not_endorsed(li),
        },
        Step {
            desc: "deadline beyond the horizon: never endorsed",
            at: 1_000,
            input: h.from(1, bundle(vec![h.batch(1, vec![far])], vec![])),
            expect: not_endorsed(fi),
        },
    ];
    h.run("timeout", steps);
}

#[test]
fn rule_consistency_defers_until_the_predecessor_applies() {
    let mut h = Harness::new();
    let s = set(h.id(1), 1, "x", absent("x"), 3_000);
    let after = absent("x").after_write(&s.id());
    let t = set(h.id(2), 2, "x", after, 3_000);
    let (si, ti) = (s.id(), t.id());
    let steps = vec![
        Step {
            desc: "T requires the version after S, S unknown: deferred",
            at: 1_000,
            input: h.from(2, bundle(vec![h.batch(2, vec![t])], vec![])),
            expect: not_endorsed(ti),
        },
        Step {
            desc: "S arrives: S endorsed; T reachable through S (chain rule): endorsed too",
            at: 1_010,
            input: h.from(1, bundle(vec![h.batch(1, vec![s])], vec![])),
            expect: all(vec![endorsed(si), endorsed(ti)]),
        },
    ];
    h.run("consistency", steps);
}

#[test]
fn rule_promise_blocks_a_conflicting_endorsement_until_expiration() {
    let mut h = Harness::new();
    let a = set(h.id(1), 1, "x", absent("x"), 1_500);
    let b = set(h.id(2), 2, "x", absent("x"), 4_000);
    let (ai, bi) = (a.id(), b.id());
    let steps = vec![
        Step {
            desc: "A endorsed",
            at: 1_000,
            input: h.from(1, bundle(vec![h.batch(1, vec![a])], vec![])),
            expect: endorsed(ai),
        },
        Step {
            desc: "B conflicts with pending A: not endorsed (Promise)",
            at: 1_010,
            input: h.from(2, bundle(vec![h.batch(2, vec![b])], vec![])),
            expect: not_endorsed(bi),
        },
        Step {
            desc: "before A's deadline + grace nothing changes",
            at: 2_000,
            input: Input::Tick,
            expect: not_endorsed(bi),
        },
        Step {
            desc: "A expires (Expiration): dropped, lock released, B endorsed",
            at: 2_600,
            input: Input::Tick,
            expect: all(vec![dropped(ai, DropReason::Expired), endorsed(bi)]),
        },
    ];
    h.run("promise", steps);
}

#[test]
fn rule_expiration_ignores_a_late_certificate() {
    let mut h = Harness::new();
    let a = set(h.id(1), 1, "x", absent("x"), 1_500);
    let ai = a.id();
    let b = h.batch(1, vec![a]);
    let steps = vec![
        Step {
            desc: "A endorsed",
            at: 1_000,
            input: h.from(1, bundle(vec![b.clone()], vec![])),
            expect: endorsed(ai),
        },
        Step {
            desc: "deadline + grace: dropped",
            at: 2_501,
            input: Input::Tick,
            expect: dropped(ai, DropReason::Expired),
        },
        Step {
            desc: "a certificate arriving afterwards is ignored",
            at: 2_600,
            input: h.from(
                2,
                bundle(
                    vec![b],
                    vec![
                        h.endorse(1, &[ai]),
                        h.endorse(2, &[ai]),
                        h.endorse(3, &[ai]),
                    ],
                ),
            ),
            expect: no_apply(),
        },
    ];
    h.run("expiration", steps);
}

#[test]
fn rule_apply_gate_ordering_note_scenario() {
    // S = SET x commits; A = INCRBY x built after S (order-only on the version after S).
    // This node receives A's certificate first: A is committed but waits; S then applies, A
    // follows in the same step.
    let mut h = Harness::new();
    let s = set(h.id(1), 1, "x", absent("x"), 3_000);
    let a = incr(h.id(2), 2, "x", absent("x").after_write(&s.id()), 3_000);
    let (si, ai) = (s.id(), a.id());
    let steps = vec![
        Step {
            desc: "A's certificate first: committed, not applied",
            at: 1_000,
            input: h.from(2, h.cert(2, a, ai)),
            expect: commits_without_apply(ai),
        },
        Step {
            desc: "S's certificate: S applied, then A",
            at: 1_010,
            input: h.from(1, h.cert(1, s, si)),
            expect: applies(vec![si, ai]),
        },
    ];
    h.run("apply gate", steps);
}

/// A = INCRBY x by node 2, and S = SET x by node 1 built after A (full prerequisite including
/// A's accumulator), with the given deadlines.
fn incr_then_set_after_it(h: &Harness, a_deadline: u64, s_deadline: u64) -> (Spore, Spore) {
    let a = incr(h.id(2), 2, "x", absent("x"), a_deadline);
    let after_a = absent("x").after_commutative(&a.id());
    let s = set(h.id(1), 1, "x", after_a, s_deadline);
    (a, s)
}

#[test]
fn a_spore_committed_past_its_retention_is_forgotten_once_applied() {
    // S commits but waits for A past its own forget time (deadline + grace + retention); A
    // arrives later, both apply: S must then be forgotten like any resolved spore.
    let mut h = Harness::new();
    let (a, s) = incr_then_set_after_it(&h, 9_000, 3_000);
    let (si, ai) = (s.id(), a.id());
    let steps = vec![
        Step {
            desc: "S's certificate: committed, waits for A",
            at: 1_000,
            input: h.from(1, h.cert(1, s, si)),
            expect: commits_without_apply(si),
        },
        Step {
            desc: "past S's forget time, still waiting: kept",
            at: 6_000,
            input: Input::Tick,
            expect: no_apply(),
        },
        Step {
            desc: "A's certificate: A applied, then S",
            at: 6_010,
            input: h.from(2, h.cert(2, a, ai)),
            expect: applies(vec![ai, si]),
        },
    ];
    h.run("forget after a long wait", steps);
    assert!(
        h.engine.phase(&si).is_some(),
        "S is remembered right after it applied"
    );
    h.engine.step(20_000, Input::Tick, &h.store);
    assert!(
        h.engine.phase(&ai).is_none(),
        "A is forgotten past its retention"
    );
    assert!(
        h.engine.phase(&si).is_none(),
        "S is forgotten too, although its first forget time found it waiting"
    );
}

#[test]
fn rule_apply_gate_mirror_image() {
    // A = INCRBY x commits first elsewhere; S = SET x built after A (full prerequisite
    // including A's accumulator). This node receives S's certificate first.
    let mut h = Harness::new();
    let (a, s) = incr_then_set_after_it(&h, 3_000, 3_000);
    let (si, ai) = (s.id(), a.id());
    let steps = vec![
        Step {
            desc: "S's certificate first: committed, waits for A",
            at: 1_000,
            input: h.from(1, h.cert(1, s, si)),
            expect: commits_without_apply(si),
        },
        Step {
            desc: "A's certificate: A applied, then S",
            at: 1_010,
            input: h.from(2, h.cert(2, a, ai)),
            expect: applies(vec![ai, si]),
        },
    ];
    h.run("apply gate mirror", steps);
}

#[test]
fn rule_evidence_conflicting_endorsements() {
    let mut h = Harness::new();
    let a = set(h.id(1), 1, "x", absent("x"), 2_000);
    let b = set(h.id(2), 2, "x", absent("x"), 2_100);
    let (ai, bi) = (a.id(), b.id());
    let steps = vec![
        Step {
            desc: "node 3 endorses A",
            at: 1_000,
            input: h.from(
                1,
                bundle(vec![h.batch(1, vec![a])], vec![h.endorse(3, &[ai])]),
            ),
            expect: Box::new(|_| Ok(())),
        },
        Step {
            desc: "node 3 endorses B (same version of x): evidence",
            at: 1_010,
            input: h.from(
                2,
                bundle(vec![h.batch(2, vec![b])], vec![h.endorse(3, &[bi])]),
            ),
            expect: evidence_against(h.id(3)),
        },
    ];
    h.run("evidence", steps);
}

#[test]
fn rule_evidence_endorsed_and_rejected() {
    let mut h = Harness::new();
    let a = set(h.id(1), 1, "x", absent("x"), 2_000);
    let ai = a.id();
    let rb = Arc::new(RejectBatch::sign(
        &h.keys[3],
        vec![(ai, RejectReason::Veto)],
    ));
    let steps = vec![
        Step {
            desc: "node 3 endorses A",
            at: 1_000,
            input: h.from(
                1,
                bundle(vec![h.batch(1, vec![a])], vec![h.endorse(3, &[ai])]),
            ),
            expect: Box::new(|_| Ok(())),
        },
        Step {
            desc: "node 3 also rejects A: evidence",
            at: 1_010,
            input: h.from(
                3,
                Message::Bundle(Bundle {
                    rejections: vec![rb],
                    ..Bundle::default()
                }),
            ),
            expect: evidence_against(h.id(3)),
        },
    ];
    h.run("evidence", steps);
}

#[test]
fn rule_reject_quorum_drops_early() {
    let mut h = Harness::new();
    let a = set(h.id(1), 1, "x", absent("x"), 3_000);
    let ai = a.id();
    let rej = |i: usize| {
        Arc::new(RejectBatch::sign(
            &h.keys[i],
            vec![(ai, RejectReason::Veto)],
        ))
    };
    // n − ω + f + 1 = 4 − 3 + 1 + 1 = 3 rejections needed; node 0 endorsed, so 1, 2, 3 reject.
    let steps = vec![
        Step {
            desc: "A endorsed",
            at: 1_000,
            input: h.from(1, bundle(vec![h.batch(1, vec![a])], vec![])),
            expect: endorsed(ai),
        },
        Step {
            desc: "two rejections: not enough",
            at: 1_010,
            input: h.from(
                2,
                Message::Bundle(Bundle {
                    rejections: vec![rej(2), rej(3)],
                    ..Bundle::default()
                }),
            ),
            expect: Box::new(|e| {
                if e.iter().any(|f| matches!(f, Effect::Dropped { .. })) {
                    Err("too early".into())
                } else {
                    Ok(())
                }
            }),
        },
        Step {
            desc: "third rejection: dropped",
            at: 1_020,
            input: h.from(
                1,
                Message::Bundle(Bundle {
                    rejections: vec![rej(1)],
                    ..Bundle::default()
                }),
            ),
            expect: dropped(ai, DropReason::Rejected),
        },
    ];
    h.run("reject quorum", steps);
}

#[test]
fn rule_veto_and_yield() {
    let mut h = Harness::new();
    h.engine
        .set_local_veto(|s| s.ops.iter().any(|op| matches!(op, Op::Set { .. })));
    let a = set(h.id(1), 1, "x", absent("x"), 3_000);
    let ai = a.id();
    let b = h.batch(1, vec![a]);
    let steps = vec![
        Step {
            desc: "vetoed: a signed REJECT goes to the origin, no endorsement",
            at: 1_000,
            input: h.from(1, bundle(vec![b.clone()], vec![])),
            expect: all(vec![
                not_endorsed(ai),
                Box::new(move |e: &[Effect]| {
                    let sent = e.iter().any(|f| matches!(f, Effect::Send { msg, .. } if matches!(&**msg, Message::Bundle(b) if b.rejections.iter().any(|r| r.contains(&ai)))));
                    if sent {
                        Ok(())
                    } else {
                        Err("expected a REJECT".into())
                    }
                }),
            ]),
        },
        Step {
            desc: "committed by the others: the reluctant node applies it (Yield)",
            at: 1_010,
            input: h.from(
                2,
                bundle(
                    vec![b],
                    vec![
                        h.endorse(1, &[ai]),
                        h.endorse(2, &[ai]),
                        h.endorse(3, &[ai]),
                    ],
                ),
            ),
            expect: applies(vec![ai]),
        },
    ];
    h.run("veto/yield", steps);
}

#[test]
fn rule_class_guard_refuses_mixing_counters_and_members() {
    let mut h = Harness::new();
    let a = incr(h.id(1), 1, "x", absent("x"), 3_000);
    let s = sadd(h.id(2), 2, "x", absent("x"), 3_000);
    let (ai, si) = (a.id(), s.id());
    let steps = vec![
        Step {
            desc: "INCR x committed and applied",
            at: 1_000,
            input: h.from(
                1,
                bundle(
                    vec![h.batch(1, vec![a])],
                    vec![
                        h.endorse(1, &[ai]),
                        h.endorse(2, &[ai]),
                        h.endorse(3, &[ai]),
                    ],
                ),
            ),
            expect: applies(vec![ai]),
        },
        Step {
            desc: "SADD x at the same order version: refused (class mix)",
            at: 1_010,
            input: h.from(2, bundle(vec![h.batch(2, vec![s])], vec![])),
            expect: not_endorsed(si),
        },
    ];
    h.run("class guard", steps);
}

#[test]
fn rule_forged_signatures_are_ignored() {
    let mut h = Harness::new();
    let a = set(h.id(1), 1, "x", absent("x"), 3_000);
    let ai = a.id();
    let mut forged = (*h.endorse(2, &[ai])).clone();
    forged.signature[0] ^= 1;
    let mut wrong_origin = (*h.batch(1, vec![a.clone()])).clone();
    wrong_origin.signature = SporeBatch::sign(&h.keys[2], vec![Arc::new(a.clone())]).signature;
    let steps = vec![
        Step {
            desc: "batch signed by the wrong key: ignored",
            at: 1_000,
            input: h.from(2, bundle(vec![Arc::new(wrong_origin)], vec![])),
            expect: nothing(),
        },
        Step {
            desc: "valid batch",
            at: 1_010,
            input: h.from(
                1,
                bundle(vec![h.batch(1, vec![a])], vec![h.endorse(1, &[ai])]),
            ),
            expect: endorsed(ai),
        },
        Step {
            desc: "forged third endorsement: no commit",
            at: 1_020,
            input: h.from(3, Message::Endorse(Arc::new(forged))),
            expect: no_apply(),
        },
    ];
    h.run("forgery", steps);
}

#[test]
fn rule_predecessor_dropped_drops_its_chain() {
    let mut h = Harness::new();
    let s = set(h.id(1), 1, "x", absent("x"), 1_500);
    let t = set(h.id(1), 2, "x", absent("x").after_write(&s.id()), 1_500);
    let (si, ti) = (s.id(), t.id());
    let steps = vec![
        Step {
            desc: "S and T (chained) endorsed",
            at: 1_000,
            input: h.from(1, bundle(vec![h.batch(1, vec![s, t])], vec![])),
            expect: all(vec![endorsed(si), endorsed(ti)]),
        },
        Step {
            desc: "S expires: T can never apply, dropped with it",
            at: 2_501,
            input: Input::Tick,
            expect: all(vec![
                dropped(si, DropReason::Expired),
                Box::new(move |e: &[Effect]| {
                    if e.iter()
                        .any(|f| matches!(f, Effect::Dropped { id, .. } if *id == ti))
                    {
                        Ok(())
                    } else {
                        Err("T not dropped".into())
                    }
                }),
            ]),
        },
    ];
    h.run("predecessor dropped", steps);
}

#[test]
fn rule_fallback_floods_an_endorsement_without_commit() {
    let mut h = Harness::new();
    let a = set(h.id(1), 1, "x", absent("x"), 1_500);
    let ai = a.id();
    let steps = vec![
        Step {
            desc: "A endorsed (sent to the origin only)",
            at: 1_000,
            input: h.from(1, bundle(vec![h.batch(1, vec![a])], vec![])),
            expect: endorsed(ai),
        },
        Step {
            desc: "deadline, no commit: the endorsement is flooded",
            at: 1_500,
            input: Input::Tick,
            expect: Box::new(move |e| {
                let flooded = e.iter().any(|f| matches!(f, Effect::Broadcast(m) if matches!(&**m, Message::Bundle(b) if b.endorsements.iter().any(|x| x.contains(&ai)))));
                if flooded {
                    Ok(())
                } else {
                    Err("expected a fallback flood".into())
                }
            }),
        },
    ];
    h.run("fallback", steps);
}

/// Endorsements of our own spores that arrive after their certificate are flooded at the
/// deadline for evidence visibility: all spores that became due in one step share one bundle,
/// which carries endorsements only (every peer had the spores from the certificates).
#[test]
fn rule_late_endorsements_of_own_spores_travel_together() {
    let mut h = Harness::new();
    let a = set(h.id(0), 1, "x", absent("x"), 2_000);
    let b = set(h.id(0), 2, "y", absent("y"), 2_000);
    let (ai, bi) = (a.id(), b.id());
    let floods = |e: &[Effect]| -> Vec<Bundle> {
        e.iter()
            .filter_map(|f| match f {
                Effect::Broadcast(m) => match &**m {
                    Message::Bundle(b) => Some(b.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    };
    let steps = vec![
        Step {
            desc: "our two spores, each its own batch, flooded",
            at: 1_000,
            input: Input::Submit(vec![a]),
            expect: no_apply(),
        },
        Step {
            desc: "second batch",
            at: 1_001,
            input: Input::Submit(vec![b]),
            expect: no_apply(),
        },
        Step {
            desc: "node 1 endorses both",
            at: 1_010,
            input: h.from(1, Message::Endorse(h.endorse(1, &sorted(&[ai, bi])))),
            expect: no_apply(),
        },
        Step {
            desc: "node 2 endorses both: ω reached, both applied and certified",
            at: 1_020,
            input: h.from(2, Message::Endorse(h.endorse(2, &sorted(&[ai, bi])))),
            expect: applies(sorted(&[ai, bi])),
        },
        Step {
            desc: "node 3 endorses each late, separately",
            at: 1_030,
            input: h.from(3, Message::Endorse(h.endorse(3, &[ai]))),
            expect: no_apply(),
        },
        Step {
            desc: "node 3, the other one",
            at: 1_031,
            input: h.from(3, Message::Endorse(h.endorse(3, &[bi]))),
            expect: no_apply(),
        },
        Step {
            desc: "deadline: one bundle, endorsements only, node 3's for both",
            at: 2_000,
            input: Input::Tick,
            expect: Box::new(move |e| {
                let f = floods(e);
                let [bundle] = f.as_slice() else {
                    return Err(format!("expected one flood, got {}", f.len()));
                };
                if !bundle.spores.is_empty() {
                    return Err("the late flood re-sent spore batches".into());
                }
                for id in [ai, bi] {
                    if !bundle.endorsements.iter().any(|x| x.contains(&id)) {
                        return Err(format!("no endorsement of {id} in the late flood"));
                    }
                }
                Ok(())
            }),
        },
    ];
    h.run("late endorsements", steps);
}

fn sorted(ids: &[SporeId]) -> Vec<SporeId> {
    let mut v = ids.to_vec();
    v.sort();
    v
}

fn rejected_by_me(id: SporeId) -> Check {
    Box::new(move |e: &[Effect]| {
        let sent = e.iter().any(|f| matches!(f, Effect::Send { msg, .. } if matches!(&**msg, Message::Bundle(b) if b.rejections.iter().any(|r| r.contains(&id)))));
        if sent {
            Ok(())
        } else {
            Err("expected a REJECT".into())
        }
    })
}

#[test]
fn rule_local_hold_waits_for_a_human() {
    let mut h = Harness::new();
    h.engine.set_local_policy(LocalPolicy(Arc::new(|s: &Spore| {
        if s.ops.iter().any(|op| matches!(op, Op::Set { .. })) {
            LocalDecision::Hold
        } else {
            LocalDecision::Endorse
        }
    })));
    let a = set(h.id(1), 1, "x", absent("x"), 3_000);
    let ai = a.id();
    let b = set(h.id(2), 2, "y", absent("y"), 3_000);
    let bi = b.id();
    let ba = h.batch(1, vec![a]);
    let bb = h.batch(2, vec![b]);
    let steps = vec![
        Step {
            desc: "held: neither endorsed nor rejected",
            at: 1_000,
            input: h.from(1, bundle(vec![ba], vec![])),
            expect: all(vec![
                not_endorsed(ai),
                Box::new(move |e: &[Effect]| match rejected_by_me(ai)(e) {
                    Ok(()) => Err("a held spore must not be rejected".into()),
                    Err(_) => Ok(()),
                }),
            ]),
        },
        Step {
            desc: "a tick does not release it",
            at: 1_100,
            input: Input::Tick,
            expect: not_endorsed(ai),
        },
        Step {
            desc: "approved: endorsed now",
            at: 1_200,
            input: Input::Approve(ai),
            expect: endorsed(ai),
        },
        Step {
            desc: "approving twice does nothing",
            at: 1_210,
            input: Input::Approve(ai),
            expect: nothing(),
        },
        Step {
            desc: "another held spore",
            at: 1_300,
            input: h.from(2, bundle(vec![bb], vec![])),
            expect: not_endorsed(bi),
        },
        Step {
            desc: "declined: a signed veto goes out",
            at: 1_400,
            input: Input::Decline(bi),
            expect: all(vec![not_endorsed(bi), rejected_by_me(bi)]),
        },
    ];
    h.run("local hold", steps);
    assert_eq!(h.engine.held().count(), 0);
}

#[test]
fn rule_amnesia_guard_endorses_nothing_until_it_ends() {
    let keys: Vec<NodeKey> = (0..4).map(node_key).collect();
    let policy = Policy::new(keys.iter().map(|k| k.id()).collect(), 3, 1).expect("policy");
    let mut cfg = EngineConfig::new(keys[0].clone(), policy);
    cfg.grace_ms = GRACE;
    cfg.max_horizon_ms = 5_000;
    cfg.max_skew_ms = 10;
    cfg.endorse_after_ms = 2_000;
    let mut h = Harness {
        engine: Engine::new(cfg),
        store: SimStore::default(),
        keys,
    };
    let a = set(h.id(1), 1, "x", absent("x"), 4_000);
    let ai = a.id();
    let ba = h.batch(1, vec![a]);
    let steps = vec![
        Step {
            desc: "restarted node: quiet, not endorsed",
            at: 1_000,
            input: h.from(1, bundle(vec![ba], vec![])),
            expect: not_endorsed(ai),
        },
        Step {
            desc: "still quiet",
            at: 1_990,
            input: Input::Tick,
            expect: not_endorsed(ai),
        },
        Step {
            desc: "guard over: the deferred spore is endorsed",
            at: 2_000,
            input: Input::Tick,
            expect: endorsed(ai),
        },
    ];
    h.run("amnesia guard", steps);
    assert_eq!(h.engine.quiet_until(), None);
}

/// An SADD or SREM of `member` of a fresh key "s", from `origin`, as an origin builds it.
fn member_write(origin: NodeId, nonce: u64, member: &'static [u8], add: bool) -> Spore {
    let mut s = common::member_spore(&SimStore::default(), k("s"), member, add, nonce);
    s.origin = origin;
    s.deadline_ms = 3_000;
    s
}

#[test]
fn rule_promise_lets_set_writes_of_different_members_through() {
    let mut h = Harness::new();
    let rem_a = member_write(h.id(1), 1, b"a", false);
    let add_b = member_write(h.id(2), 2, b"b", true);
    let add_a = member_write(h.id(3), 3, b"a", true);
    let (ra, ab, aa) = (rem_a.id(), add_b.id(), add_a.id());
    let steps = vec![
        Step {
            desc: "SREM a endorsed",
            at: 1_000,
            input: h.from(1, bundle(vec![h.batch(1, vec![rem_a])], vec![])),
            expect: endorsed(ra),
        },
        Step {
            desc: "SADD b while SREM a is pending: no conflict, endorsed",
            at: 1_010,
            input: h.from(2, bundle(vec![h.batch(2, vec![add_b])], vec![])),
            expect: endorsed(ab),
        },
        Step {
            desc: "SADD a while SREM a is pending: conflict (Promise), not endorsed",
            at: 1_020,
            input: h.from(3, bundle(vec![h.batch(3, vec![add_a])], vec![])),
            expect: not_endorsed(aa),
        },
    ];
    h.run("promise/members", steps);
}

/// A FLUSHDB of database 0 (its prerequisite: the database's version in `h`'s store).
fn flushdb(h: &Harness, origin: usize, nonce: u64, deadline: u64) -> Spore {
    Spore {
        origin: h.id(origin),
        nonce,
        deadline_ms: deadline,
        key_prereqs: vec![],
        db_prereqs: vec![DbPrereq {
            db: 0,
            version: h.store.db_state(0).version(),
        }],
        ops: vec![Op::FlushDb { db: 0 }],
    }
}

/// A spore deferred by a database-wide lock is looked at again when the lock goes, although
/// the two share no key (deferred spores used to be found by key only: a SET waiting behind
/// a FLUSHDB stayed deferred until its own deadline).
#[test]
fn rule_promise_on_a_flushed_database_ends_with_the_flush() {
    let mut h = Harness::new();
    let flush = flushdb(&h, 1, 1, 1_500);
    let b = set(h.id(2), 2, "x", absent("x"), 4_000);
    let (fi, bi) = (flush.id(), b.id());
    let steps = vec![
        Step {
            desc: "FLUSHDB endorsed",
            at: 1_000,
            input: h.from(1, bundle(vec![h.batch(1, vec![flush])], vec![])),
            expect: endorsed(fi),
        },
        Step {
            desc: "SET x in the database being flushed: not endorsed (Promise)",
            at: 1_010,
            input: h.from(2, bundle(vec![h.batch(2, vec![b])], vec![])),
            expect: not_endorsed(bi),
        },
        Step {
            desc: "FLUSHDB expires: lock released, the SET endorsed",
            at: 2_600,
            input: Input::Tick,
            expect: all(vec![dropped(fi, DropReason::Expired), endorsed(bi)]),
        },
    ];
    h.run("promise/flush then key", steps);
}

/// The mirror image: a FLUSHDB deferred behind a key of its database.
#[test]
fn rule_promise_on_a_key_ends_for_a_waiting_flush() {
    let mut h = Harness::new();
    let a = set(h.id(1), 1, "x", absent("x"), 1_500);
    let flush = flushdb(&h, 2, 2, 4_000);
    let (ai, fi) = (a.id(), flush.id());
    let steps = vec![
        Step {
            desc: "SET x endorsed",
            at: 1_000,
            input: h.from(1, bundle(vec![h.batch(1, vec![a])], vec![])),
            expect: endorsed(ai),
        },
        Step {
            desc: "FLUSHDB of x's database: not endorsed (Promise)",
            at: 1_010,
            input: h.from(2, bundle(vec![h.batch(2, vec![flush])], vec![])),
            expect: not_endorsed(fi),
        },
        Step {
            desc: "SET x expires: lock released, the FLUSHDB endorsed",
            at: 2_600,
            input: Input::Tick,
            expect: all(vec![dropped(ai, DropReason::Expired), endorsed(fi)]),
        },
    ];
    h.run("promise/key then flush", steps);
}
