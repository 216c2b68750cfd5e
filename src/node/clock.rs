//! The node's one source of wall-clock time.
//!
//! Consensus and execution never read a clock: the node reads it here and passes `now_ms` in
//! (to the engine's `step`, to read handlers that hide expired keys, to the materialiser that
//! sets deadlines). Keeping the call in one place makes that rule checkable.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the system clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
