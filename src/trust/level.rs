//! Trust levels (PGP's owner trust, whitepaper "Web of trust"): how far this node relies on a
//! peer to vouch for *other* keys and, during state transfer, for data.
//!
//! Trust is about the peer's judgement, not about whether its key is genuine: that is validity
//! (`validity.rs`). A trust level only counts once the key it is attached to is valid.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How much a peer is trusted to certify keys and to vouch for data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustLevel {
    /// Not trusted to vouch for anything (PGP "unknown"/"never"). The default for strangers.
    #[serde(alias = "unknown")]
    None,
    /// One voice among N: N marginal peers must agree (the whitepaper's N-marginal trust).
    Marginal,
    /// Trusted alone to certify keys and to vouch for data.
    Complete,
    /// As trusted as this node's own key: its key is valid without any certification.
    Ultimate,
}

impl TrustLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustLevel::None => "none",
            TrustLevel::Marginal => "marginal",
            TrustLevel::Complete => "complete",
            TrustLevel::Ultimate => "ultimate",
        }
    }
}

impl fmt::Display for TrustLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A trust level name that is not one of ultimate, complete, marginal, none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trust level '{0}' (expected ultimate, complete, marginal or none)")]
pub struct UnknownTrustLevel(pub String);

impl FromStr for TrustLevel {
    type Err = UnknownTrustLevel;

    fn from_str(s: &str) -> Result<TrustLevel, UnknownTrustLevel> {
        match s.to_ascii_lowercase().as_str() {
            "ultimate" => Ok(TrustLevel::Ultimate),
            "complete" | "full" => Ok(TrustLevel::Complete),
            "marginal" => Ok(TrustLevel::Marginal),
            "none" | "unknown" | "never" => Ok(TrustLevel::None),
            _ => Err(UnknownTrustLevel(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for level in [
            TrustLevel::None,
            TrustLevel::Marginal,
            TrustLevel::Complete,
            TrustLevel::Ultimate,
        ] {
            assert_eq!(level.as_str().parse::<TrustLevel>(), Ok(level));
        }
        assert_eq!("Unknown".parse::<TrustLevel>(), Ok(TrustLevel::None));
        assert!("trusty".parse::<TrustLevel>().is_err());
    }
}
