//! `sporedb verify`: checks a proof offline against a root and the nodes' signatures of it, or
//! scrubs a stopped node's data directory.
//!
//! Exit status: 0 valid, 1 invalid (with the reason on stderr), 2 bad usage.

use std::path::PathBuf;

use clap::Args;

use super::{verify_attestation, Attestation, Integrity, Proof, Root};

/// Arguments of `sporedb verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The proof, hex (the last element of SPORE.PROOF's reply).
    #[arg(long, requires = "root")]
    pub proof: Option<String>,
    /// The state root the proof must match, hex (SPORE.ROOT's first element).
    #[arg(long)]
    pub root: Option<String>,
    /// The applied-spore digest, hex (SPORE.ROOT's second element); needed with --attestation.
    #[arg(long)]
    pub applied_digest: Option<String>,
    /// The applied-spore count (SPORE.ROOT's third element); needed with --attestation.
    #[arg(long)]
    pub applied_count: Option<u64>,
    /// A node's signature of the root, as NODE_ID_HEX:SIGNATURE_HEX (SPORE.ROOT's last two
    /// elements); repeat for each node. Every one must verify.
    #[arg(long = "attestation", value_name = "NODE:SIG")]
    pub attestations: Vec<String>,
    /// The key the proof must be about (as text).
    #[arg(long)]
    pub key: Option<String>,
    /// The database of --key.
    #[arg(long, default_value_t = 0)]
    pub db: u8,
    /// Instead of a proof: scrub the store in this data directory (the node must be stopped):
    /// recompute the root from the data and compare it with the stored root.
    #[arg(long, conflicts_with = "proof")]
    pub data_dir: Option<PathBuf>,
}

/// The outcome of `sporedb verify`.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Valid; what was checked.
    Valid(String),
    /// Invalid; why.
    Invalid(String),
    /// The arguments cannot be checked (missing or malformed).
    Usage(String),
}

impl Verdict {
    pub fn exit_code(&self) -> u8 {
        match self {
            Verdict::Valid(_) => 0,
            Verdict::Invalid(_) => 1,
            Verdict::Usage(_) => 2,
        }
    }
}

fn hex32(what: &str, s: &str) -> Result<[u8; 32], Verdict> {
    hex::decode(s.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Verdict::Usage(format!("{what} is not 32 hex bytes")))
}

/// Runs the checks `args` asks for.
pub fn verify(args: &VerifyArgs) -> Verdict {
    match verify_inner(args) {
        Ok(v) | Err(v) => v,
    }
}

fn verify_inner(args: &VerifyArgs) -> Result<Verdict, Verdict> {
    if let Some(dir) = &args.data_dir {
        return Ok(scrub_dir(dir));
    }
    let (Some(proof), Some(root)) = (&args.proof, &args.root) else {
        return Err(Verdict::Usage(
            "give --proof and --root (or --data-dir)".into(),
        ));
    };
    let root = hex32("--root", root)?;
    let proof = Proof::from_hex(proof).map_err(|e| Verdict::Invalid(e.to_string()))?;
    if let Some(key) = &args.key {
        proof
            .check_key(args.db, key.as_bytes())
            .map_err(|e| Verdict::Invalid(e.to_string()))?;
    }
    proof
        .verify(&root)
        .map_err(|e| Verdict::Invalid(e.to_string()))?;
    let mut checked = vec![describe(&proof)];
    if !args.attestations.is_empty() {
        let (Some(digest), Some(count)) = (&args.applied_digest, args.applied_count) else {
            return Err(Verdict::Usage(
                "--attestation needs --applied-digest and --applied-count (they are signed with the root)".into(),
            ));
        };
        let full = Root {
            root,
            applied_digest: hex32("--applied-digest", digest)?,
            applied_count: count,
        };
        for a in &args.attestations {
            let a = Attestation::parse(a).map_err(Verdict::Usage)?;
            verify_attestation(&full, &a).map_err(|e| {
                Verdict::Invalid(format!("attestation of node {}: {e}", hex::encode(a.node)))
            })?;
            checked.push(format!("root attested by {}", hex::encode(a.node)));
        }
    }
    Ok(Verdict::Valid(checked.join("; ")))
}

/// What a valid proof shows, in words.
fn describe(p: &Proof) -> String {
    let what = match p.key.split_first() {
        Some((db, name)) if p.table == crate::store::Table::Keys => {
            format!("key {:?} of db {db}", String::from_utf8_lossy(name))
        }
        _ => format!("entry {} of table {}", hex::encode(&p.key), p.table.name()),
    };
    match (p.record(), &p.value) {
        (Some(r), _) if r.is_live() => format!("proof valid: {what} is present ({:?})", r.payload),
        (Some(_), _) => format!("proof valid: {what} is absent (deleted; its record remains)"),
        (None, Some(v)) => format!("proof valid: {what} holds {}", hex::encode(v)),
        (None, None) => format!("proof valid: {what} is absent"),
    }
}

fn scrub_dir(dir: &std::path::Path) -> Verdict {
    let options = crate::store::StoreOptions::default();
    match crate::store::Store::check_dir(dir, &options) {
        Err(e) => Verdict::Invalid(format!("cannot open the store: {e}")),
        Ok(integrity) => match integrity {
            Integrity::Verified { root } => {
                Verdict::Valid(format!("data matches the state root {}", hex::encode(root)))
            }
            Integrity::Tampered {
                stored,
                recomputed,
                dbs,
            } => Verdict::Invalid(format!(
                "state tampered in database(s) {}: stored root {} but the data gives {}; repair needs peers",
                crate::root::dbroots::list(dbs),
                hex::encode(stored),
                hex::encode(recomputed)
            )),
            other => Verdict::Invalid(format!("not checked: {}", other.status())),
        },
    }
}
