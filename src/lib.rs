//! sporedb: a Redis-protocol server whose every write is a signed *spore* that a quorum of
//! independent nodes must endorse before any node applies it.
