//! Wall-clock helpers: RFC 3339 UTC strings for the API, Unix milliseconds for arithmetic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2026-11-25T20:18:37.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as i64
}

pub fn now_unix_ms() -> i64 {
    unix_ms(SystemTime::now())
}
