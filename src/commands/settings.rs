//! Runtime parameters behind CONFIG GET / CONFIG SET.
//!
//! Two kinds of parameter live here. sporedb's own (`requirepass`, `maxclients`,
//! `proto-max-bulk-len`, `spore-deadline-ms`, and read-only ones such as `port`) are validated
//! and read by the node and the command layer. Redis tuning parameters that mean nothing to
//! sporedb (`save`, `appendonly`, encoding thresholds, `maxmemory-policy`, ...) are accepted,
//! validated loosely and reported back, so tools that read or tweak them (redis-benchmark reads
//! `save` and `appendonly`) keep working. Any other name is refused with Redis's exact error.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::config::Config;
use crate::error::RedisError;

/// How a parameter's value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Any text.
    Text,
    /// An integer in this inclusive range.
    Int(i64, i64),
    /// A byte size with Redis's memory units (`1gb`, `512mb`, `100`).
    Memory,
    /// `yes` or `no`.
    Bool,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// Cannot be changed at run time.
    Immutable,
}

/// (name, default, check). Sorted by name.
const PARAMS: &[(&str, &str, Check)] = &[
    ("activedefrag", "no", Check::Bool),
    ("activerehashing", "yes", Check::Bool),
    (
        "appendfsync",
        "everysec",
        Check::OneOf(&["always", "everysec", "no"]),
    ),
    ("appendonly", "no", Check::Bool),
    ("bind", "127.0.0.1", Check::Immutable),
    ("busy-reply-threshold", "5000", Check::Int(0, i64::MAX)),
    (
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Check::Text,
    ),
    ("databases", "16", Check::Immutable),
    ("dir", "./sporedb-data", Check::Immutable),
    ("hash-max-listpack-entries", "128", Check::Int(0, i64::MAX)),
    ("hash-max-listpack-value", "64", Check::Int(0, i64::MAX)),
    ("hash-max-ziplist-entries", "128", Check::Int(0, i64::MAX)),
    ("hash-max-ziplist-value", "64", Check::Int(0, i64::MAX)),
    ("hz", "10", Check::Int(1, 500)),
    ("latency-monitor-threshold", "0", Check::Int(0, i64::MAX)),
    ("lazyfree-lazy-eviction", "no", Check::Bool),
    ("lazyfree-lazy-expire", "no", Check::Bool),
    ("lazyfree-lazy-server-del", "no", Check::Bool),
    ("lazyfree-lazy-user-del", "no", Check::Bool),
    ("lazyfree-lazy-user-flush", "no", Check::Bool),
    ("list-compress-depth", "0", Check::Int(0, i64::MAX)),
    (
        "list-max-listpack-size",
        "-2",
        Check::Int(i64::MIN, i64::MAX),
    ),
    (
        "list-max-ziplist-size",
        "-2",
        Check::Int(i64::MIN, i64::MAX),
    ),
    (
        "loglevel",
        "notice",
        Check::OneOf(&["debug", "verbose", "notice", "warning", "nothing"]),
    ),
    ("lua-time-limit", "5000", Check::Int(0, i64::MAX)),
    ("maxclients", "10000", Check::Int(1, i64::MAX)),
    ("maxmemory", "0", Check::Memory),
    (
        "maxmemory-policy",
        "noeviction",
        Check::OneOf(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
    ),
    ("maxmemory-samples", "5", Check::Int(1, 64)),
    ("notify-keyspace-events", "", Check::Text),
    ("port", "6379", Check::Immutable),
    ("protected-mode", "no", Check::Bool),
    ("proto-max-bulk-len", "536870912", Check::Memory),
    ("requirepass", "", Check::Text),
    ("save", "", Check::Text),
    ("set-max-intset-entries", "512", Check::Int(0, i64::MAX)),
    ("set-max-listpack-entries", "128", Check::Int(0, i64::MAX)),
    ("set-max-listpack-value", "64", Check::Int(0, i64::MAX)),
    (
        "slowlog-log-slower-than",
        "10000",
        Check::Int(i64::MIN, i64::MAX),
    ),
    ("slowlog-max-len", "128", Check::Int(0, i64::MAX)),
    ("spore-deadline-ms", "5000", Check::Int(1, i64::MAX)),
    ("stream-node-max-bytes", "4096", Check::Memory),
    ("stream-node-max-entries", "100", Check::Int(0, i64::MAX)),
    ("tcp-keepalive", "300", Check::Int(0, i64::MAX)),
    ("timeout", "0", Check::Int(0, i64::MAX)),
    ("zset-max-listpack-entries", "128", Check::Int(0, i64::MAX)),
    ("zset-max-listpack-value", "64", Check::Int(0, i64::MAX)),
    ("zset-max-ziplist-entries", "128", Check::Int(0, i64::MAX)),
    ("zset-max-ziplist-value", "64", Check::Int(0, i64::MAX)),
];

/// The current parameter values.
pub struct Settings {
    values: Mutex<BTreeMap<&'static str, String>>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings::from_config(&Config::default())
    }
}

impl Settings {
    /// Values from the node's configuration; tuning parameters start at Redis's defaults.
    pub fn from_config(c: &Config) -> Settings {
        let mut values: BTreeMap<&'static str, String> =
            PARAMS.iter().map(|(n, d, _)| (*n, d.to_string())).collect();
        values.insert("bind", c.bind.to_string());
        values.insert("port", c.port.to_string());
        values.insert("dir", c.data_dir.display().to_string());
        values.insert("requirepass", c.requirepass.clone().unwrap_or_default());
        values.insert("maxclients", c.maxclients.to_string());
        values.insert("proto-max-bulk-len", c.proto_max_bulk_len.to_string());
        values.insert("spore-deadline-ms", c.spore_deadline_ms.to_string());
        Settings {
            values: Mutex::new(values),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, String>> {
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A parameter's current value.
    pub fn get(&self, name: &str) -> Option<String> {
        self.lock().get(name).cloned()
    }

    /// The password AUTH checks, if one is set.
    pub fn requirepass(&self) -> Option<String> {
        self.get("requirepass").filter(|p| !p.is_empty())
    }

    /// An integer parameter (memory units resolved), if set and valid.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| parse_memory(&v))
    }

    /// Every (name, value) whose name matches one of the glob `patterns`, sorted, deduplicated.
    pub fn matching(&self, patterns: &[Vec<u8>]) -> Vec<(String, String)> {
        self.lock()
            .iter()
            .filter(|(n, _)| {
                patterns
                    .iter()
                    .any(|p| crate::store::glob::glob_match(&p.to_ascii_lowercase(), n.as_bytes()))
            })
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }

    /// Validates then applies every (name, value) pair, all or nothing (as Redis 7 does).
    pub fn set_all(&self, pairs: &[(String, String)]) -> Result<(), RedisError> {
        let mut checked = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let lower = name.to_ascii_lowercase();
            let Some((canon, _, check)) = PARAMS.iter().find(|(n, _, _)| *n == lower) else {
                return Err(RedisError::UnknownConfig { name: name.clone() });
            };
            if checked.iter().any(|(n, _)| n == canon) {
                return Err(RedisError::ConfigSetFailed {
                    name: name.clone(),
                    reason: "duplicate parameter".into(),
                });
            }
            let value = validate(*check, value).map_err(|reason| RedisError::ConfigSetFailed {
                name: name.clone(),
                reason: reason.into(),
            })?;
            checked.push((*canon, value));
        }
        let mut values = self.lock();
        for (n, v) in checked {
            values.insert(n, v);
        }
        Ok(())
    }
}

/// Checks a value and returns it as CONFIG GET will report it.
fn validate(check: Check, value: &str) -> Result<String, &'static str> {
    match check {
        Check::Text => Ok(value.to_string()),
        Check::Immutable => Err("can't set immutable config"),
        Check::Bool => match value.to_ascii_lowercase().as_str() {
            v @ ("yes" | "no") => Ok(v.to_string()),
            _ => Err("argument must be 'yes' or 'no'"),
        },
        Check::OneOf(words) => {
            let v = value.to_ascii_lowercase();
            if words.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err("argument(s) must be one of the following")
            }
        }
        Check::Int(min, max) => match super::args::parse_i64(value.as_bytes()) {
            Some(n) if (min..=max).contains(&n) => Ok(n.to_string()),
            Some(_) => Err("argument must be between the allowed bounds"),
            None => Err("argument couldn't be parsed into an integer"),
        },
        Check::Memory => match parse_memory(value) {
            Some(n) if n >= 0 => Ok(n.to_string()),
            _ => Err("argument must be a memory value"),
        },
    }
}

/// Redis's `memtoull`: an integer with an optional unit (b, k, kb, m, mb, g, gb; case-insensitive).
pub fn parse_memory(text: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    super::args::parse_i64(num.as_bytes())?.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_sorted_and_unique() {
        assert!(PARAMS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn get_set_and_errors() {
        let s = Settings::default();
        assert_eq!(s.get("save").as_deref(), Some(""));
        assert_eq!(s.requirepass(), None);
        s.set_all(&[
            ("MaxClients".into(), "50".into()),
            ("save".into(), "3600 1".into()),
        ])
        .unwrap();
        assert_eq!(s.int("maxclients"), Some(50));
        assert_eq!(s.get("save").as_deref(), Some("3600 1"));
        assert_eq!(
            s.set_all(&[("nope".into(), "1".into())])
                .unwrap_err()
                .to_string(),
            "ERR Unknown option or number of arguments for CONFIG SET - 'nope'"
        );
        let e = s.set_all(&[("maxclients".into(), "x".into())]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"
        );
        // All or nothing.
        assert!(s
            .set_all(&[
                ("timeout".into(), "5".into()),
                ("appendonly".into(), "maybe".into())
            ])
            .is_err());
        assert_eq!(s.get("timeout").as_deref(), Some("0"));
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("12x"), None);
    }

    #[test]
    fn glob_selection() {
        let s = Settings::default();
        let got = s.matching(&[b"*max-*-entries".to_vec()]);
        assert!(got.iter().any(|(n, _)| n == "hash-max-listpack-entries"));
        assert!(got.iter().all(|(n, _)| n.ends_with("entries")));
        assert!(s.matching(&[b"unknown".to_vec()]).is_empty());
    }
}
