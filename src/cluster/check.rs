//! Does a spore respect the global policy? `GlobalPolicy::check_spore` is what every endorser
//! asks before endorsing; it is pure and deterministic (no clock, no randomness, no hash-map
//! iteration), so all honest nodes holding the same policy reach the same answer.
//!
//! Checks, in order (the first failure is reported): the whole spore's encoded size against
//! `max_spore_bytes`; then, op by op, the op's encoded size against `max_op_bytes` and the
//! rules. A key must satisfy **every** rule whose pattern matches its name (rules are
//! restrictions, so their order cannot matter); keys matching no rule allow everything. Patterns
//! match key names in every database. FLUSHDB and FLUSHALL name no key but delete every key, so
//! they count as touching every rule's keys: with any rule that does not allow them, they are
//! refused. Expiry is a node-initiated DEL: a rule that allows setting TTLs should allow DEL.

use super::ops;
use super::policy::GlobalPolicy;
use crate::spore::{codec, Spore};
use crate::store::glob::glob_match;

/// Why a spore breaks the global policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("spore is {len} bytes, the policy allows at most {max}")]
    SporeTooLarge { len: usize, max: u64 },
    #[error("op {index} ({op}) is {len} bytes, the policy allows at most {max} per op")]
    OpTooLarge {
        index: usize,
        op: &'static str,
        len: usize,
        max: u64,
    },
    #[error("op {index} ({op}) on key '{key}' is not allowed by the policy rule for '{pattern}'")]
    Forbidden {
        index: usize,
        op: &'static str,
        key: String,
        pattern: String,
    },
    #[error("op {index} ({op}) would delete keys matching '{pattern}', whose policy rule does not allow {op}")]
    FlushForbidden {
        index: usize,
        op: &'static str,
        pattern: String,
    },
}

/// Key names in messages: printable, escaped, bounded.
fn show_key(name: &[u8]) -> String {
    let mut s = name.escape_ascii().to_string();
    if s.len() > 120 {
        s.truncate(117);
        s.push_str("...");
    }
    s
}

impl GlobalPolicy {
    /// Checks `spore` against the policy, encoding it to learn its size (callers that check
    /// one spore against several policies encode once and use `check_spore`).
    pub fn admits(&self, spore: &Spore) -> Result<(), PolicyViolation> {
        self.check_spore(spore, crate::spore::codec::encode_spore(spore).len())
    }

    /// Checks `spore`, whose canonical encoding is `encoded_len` bytes, against the policy.
    pub fn check_spore(&self, spore: &Spore, encoded_len: usize) -> Result<(), PolicyViolation> {
        if encoded_len as u64 > self.max_spore_bytes {
            return Err(PolicyViolation::SporeTooLarge {
                len: encoded_len,
                max: self.max_spore_bytes,
            });
        }
        for (index, op) in spore.ops.iter().enumerate() {
            let name = ops::op_name(op);
            let len = codec::encoded_op_len(op);
            if len as u64 > self.max_op_bytes {
                return Err(PolicyViolation::OpTooLarge {
                    index,
                    op: name,
                    len,
                    max: self.max_op_bytes,
                });
            }
            let tag = op.tag();
            if op.db_scope().is_some() {
                if let Some(rule) = self.rules.iter().find(|r| !r.allow.contains(&tag)) {
                    return Err(PolicyViolation::FlushForbidden {
                        index,
                        op: name,
                        pattern: rule.pattern.clone(),
                    });
                }
            }
            let mut violation = None;
            op.access(&mut |key, _| {
                if violation.is_some() {
                    return;
                }
                if let Some(rule) = self.rules.iter().find(|r| {
                    !r.allow.contains(&tag) && glob_match(r.pattern.as_bytes(), &key.name)
                }) {
                    violation = Some(PolicyViolation::Forbidden {
                        index,
                        op: name,
                        key: show_key(&key.name),
                        pattern: rule.pattern.clone(),
                    });
                }
            });
            if let Some(v) = violation {
                return Err(v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;
    use crate::spore::{Key, Op, SetCond, Ttl};
    use bytes::Bytes;

    fn policy(extra: &str) -> GlobalPolicy {
        let key = hex::encode(NodeKey::from_seed([1; 32]).id());
        GlobalPolicy::parse(&format!(
            "quorum = 1\nfaulty = 0\nmax_spore_bytes = 2048\nmax_op_bytes = 512\n\
             [[endorsers]]\nname = \"a\"\nkey = \"{key}\"\n{extra}"
        ))
        .unwrap()
    }

    fn spore(ops: Vec<Op>) -> Spore {
        super::super::spore_of(ops)
    }

    fn check(p: &GlobalPolicy, ops: Vec<Op>) -> Result<(), PolicyViolation> {
        let s = spore(ops);
        p.check_spore(&s, s.encode().len())
    }

    fn set(key: &str, len: usize) -> Op {
        Op::Set {
            key: Key::new(0, Bytes::copy_from_slice(key.as_bytes())),
            value: Bytes::from(vec![b'x'; len]),
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        }
    }

    fn sadd(key: &str) -> Op {
        Op::SAdd {
            key: Key::new(3, Bytes::copy_from_slice(key.as_bytes())),
            members: vec![Bytes::from_static(b"m")],
        }
    }

    #[test]
    fn size_limits() {
        let p = policy("");
        assert_eq!(check(&p, vec![set("k", 10)]), Ok(()));
        assert!(matches!(
            check(&p, vec![set("k", 600)]),
            Err(PolicyViolation::OpTooLarge {
                index: 0,
                op: "SET",
                ..
            })
        ));
        assert!(matches!(
            check(
                &p,
                vec![
                    set("a", 400),
                    set("b", 400),
                    set("c", 400),
                    set("d", 400),
                    set("e", 400)
                ]
            ),
            Err(PolicyViolation::SporeTooLarge { max: 2048, .. })
        ));
    }

    #[test]
    fn rules_restrict_matching_keys_only_in_every_db() {
        let p = policy(
            "[[rules]]\npattern = \"audit:*\"\nallow = [\"SADD\", \"SISMEMBER\"]\n\
             [[rules]]\npattern = \"audit:secret:*\"\nallow = [\"SET\", \"SADD\"]\n",
        );
        assert_eq!(check(&p, vec![sadd("audit:1")]), Ok(()));
        assert_eq!(check(&p, vec![set("other", 1)]), Ok(()));
        let err = check(&p, vec![sadd("x"), set("audit:1", 1)]).unwrap_err();
        assert_eq!(
            err,
            PolicyViolation::Forbidden {
                index: 1,
                op: "SET",
                key: "audit:1".into(),
                pattern: "audit:*".into()
            }
        );
        assert!(
            err.to_string().contains("op 1 (SET) on key 'audit:1'"),
            "{err}"
        );
        // Both matching rules apply: SET is allowed by the narrower one, not by audit:*.
        assert!(check(&p, vec![set("audit:secret:1", 1)]).is_err());
        assert_eq!(check(&p, vec![sadd("audit:secret:1")]), Ok(()));
        // RENAME touches both keys: moving a key into the protected space is refused.
        let rename = Op::Rename {
            src: Key::new(0, Bytes::from_static(b"tmp")),
            dst: Key::new(0, Bytes::from_static(b"audit:9")),
            nx: false,
        };
        assert!(matches!(
            check(&p, vec![rename]),
            Err(PolicyViolation::Forbidden { op: "RENAME", .. })
        ));
        // FLUSHALL would delete audit keys.
        assert!(matches!(
            check(&p, vec![Op::FlushAll]),
            Err(PolicyViolation::FlushForbidden { .. })
        ));
        assert_eq!(check(&policy(""), vec![Op::FlushDb { db: 0 }]), Ok(()));
    }

    #[test]
    fn empty_allow_list_makes_keys_read_only_and_keys_are_escaped() {
        let p = policy("[[rules]]\npattern = \"ro:*\"\nallow = []\n");
        let err = check(&p, vec![set("ro:\u{1}\"", 1)]).unwrap_err();
        assert!(err.to_string().contains("ro:\\x01\\\""), "{err}");
    }
}
