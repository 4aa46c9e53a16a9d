//! Phase markers for crash testing: with `PLATEAU_TRACE_PHASES=1`, each step of a sweep that
//! writes to disk announces itself on stderr (`plateau-phase: checkpoint r0003`), so a harness
//! can kill the process inside that step. Silent otherwise.

use std::sync::OnceLock;

/// The environment variable that turns the markers on.
pub const TRACE_ENV: &str = "PLATEAU_TRACE_PHASES";

/// The prefix of every marker line.
pub const MARKER: &str = "plateau-phase:";

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os(TRACE_ENV).is_some_and(|v| v != "0"))
}

/// Announces that `phase` (of `what`: a run id, a file) starts now.
pub fn phase(phase: &str, what: &str) {
    if enabled() {
        eprintln!("{MARKER} {phase} {what}");
    }
}
