//! Validation messages of `GlobalPolicy::load`: every problem, each saying what to fix.

use super::policy::{GlobalPolicy, PolicyLoadError};
use crate::crypto::NodeKey;

fn key(n: u8) -> String {
    hex::encode(NodeKey::from_seed([n; 32]).id())
}

fn endorsers(n: u8) -> String {
    (1..=n)
        .map(|i| format!("[[endorsers]]\nname = \"n{i}\"\nkey = \"{}\"\n", key(i)))
        .collect()
}

fn load(text: &str) -> Result<GlobalPolicy, PolicyLoadError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, text).unwrap();
    GlobalPolicy::load(&path)
}

fn problems(text: &str) -> Vec<String> {
    match load(text) {
        Err(PolicyLoadError::Invalid { problems, .. }) => problems,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn a_valid_policy_loads_with_defaults() {
    let p = load(&format!("quorum = 3\nfaulty = 1\n{}", endorsers(4))).unwrap();
    assert_eq!((p.n(), p.quorum(), p.faulty()), (4, 3, 1));
    assert_eq!(p.spore_deadline_ms(), 5_000);
    let c = p.consensus_policy();
    assert_eq!((c.n(), c.quorum, c.faulty), (4, 3, 1));
    assert!(p.is_endorser(&NodeKey::from_seed([2; 32]).id()));
    assert!(p.warnings().is_empty());
    // Round trip through to_toml keeps the hash.
    let again = GlobalPolicy::parse(&p.to_toml()).unwrap();
    assert_eq!(again.hash(), p.hash());
}

#[test]
fn unsafe_quorum_says_what_is_safe() {
    let ps = problems(&format!("quorum = 2\nfaulty = 1\n{}", endorsers(4)));
    assert_eq!(
        ps,
        vec!["quorum 2 is unsafe for n=4, f=1: need 3 ≤ quorum ≤ 4".to_string()]
    );
    let ps = problems(&format!("quorum = 5\nfaulty = 1\n{}", endorsers(4)));
    assert!(ps[0].contains("quorum 5 is unsafe"), "{ps:?}");
    let ps = problems(&format!("quorum = 4\nfaulty = 4\n{}", endorsers(4)));
    assert!(
        ps[0].contains("faulty 4 leaves no safe quorum for n=4"),
        "{ps:?}"
    );
    // Unanimity with f = 1 is safe but not live: allowed, with a warning.
    let p = load(&format!("quorum = 4\nfaulty = 1\n{}", endorsers(4))).unwrap();
    assert_eq!(p.warnings().len(), 1);
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = format!(
        "quorum = 1\nfaulty = 0\nspore_deadline_ms = 0\ngrace_ms = 0\nmax_spore_bytes = 10\n\
         max_op_bytes = 5\n{}\
         [[endorsers]]\nname = \"n1\"\nkey = \"{}\"\n\
         [[endorsers]]\nname = \"bad\"\nkey = \"12\"\n\
         [[rules]]\npattern = \"a:*\"\nallow = [\"SADDD\"]\n\
         [[rules]]\npattern = \"a:*\"\nallow = [\"SADD\"]\n\
         [[rules]]\npattern = \"\"\nallow = []\n",
        endorsers(1),
        key(1)
    );
    let ps = problems(&text);
    let all = ps.join("\n");
    for needle in [
        "endorsers[1] ('n1'): name used twice",
        "endorsers[1] ('n1'): same key as 'n1'",
        "endorsers[2] ('bad'): key is not 64 hex digits",
        "spore_deadline_ms must be between",
        "grace_ms must be between",
        "max_spore_bytes must be between",
        "max_op_bytes must be between",
        "rules[0] (pattern 'a:*'): unknown operation 'SADDD'",
        "rules[1] (pattern 'a:*'): pattern used by two rules",
        "rules[2]: pattern must not be empty",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

#[test]
fn empty_unknown_and_unparsable() {
    let ps = problems("quorum = 1\nfaulty = 0\n");
    assert!(ps[0].starts_with("no endorsers"), "{ps:?}");
    let err = load(&format!(
        "quorum = 3\nfaulty = 1\nquroum = 3\n{}",
        endorsers(4)
    ))
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `quroum`"), "{err}");
    let err = GlobalPolicy::load(std::path::Path::new("/nonexistent/policy.toml")).unwrap_err();
    assert!(err.to_string().contains("cannot read policy file"), "{err}");
}
