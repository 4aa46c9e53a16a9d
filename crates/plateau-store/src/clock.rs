//! Wall-clock times as plateau's files hold them: seconds since the Unix epoch (TensorBoard's
//! `wall_time`, a `metrics.jsonl` line's `wall_time`, a claim's heartbeat).

use std::time::SystemTime;

/// `at` in seconds since the Unix epoch (0 for a time before it).
pub fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Now, in seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    unix_seconds(SystemTime::now())
}
