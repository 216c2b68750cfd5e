//! Keys and the web of trust (whitepaper "Web of trust"): which peers this node knows, how much
//! it trusts each to vouch for others, and which keys it therefore believes genuine.
//!
//! - `level`: the PGP trust levels (ultimate, complete, marginal, none).
//! - `cert`: key certifications, domain-separated signatures over a certified key.
//! - `ring`: `<data_dir>/trust.toml`, the key ring (load, import, sign, save).
//! - `validity`: PGP validity with N-marginal trust, and `agreement` for state transfer.
//! - `export`: the snippet `sporedb keys export` prints and `keys import` reads.
//! - `cli`: the `sporedb keys` subcommand.
//!
//! The node's own key stays where it always was, `<data_dir>/node.key` (`node::keyfile`); the
//! ring never holds secret material.

pub mod cert;
pub mod cli;
pub mod export;
pub mod level;
pub mod ring;
pub mod validity;

pub use cert::Certification;
pub use export::KeyExport;
pub use level::TrustLevel;
pub use ring::{KeyEntry, TrustError, TrustRing};
