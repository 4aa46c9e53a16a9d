//! Phase markers and injected faults, for crash and failure tests (hidden from the docs: the
//! constants are for test harnesses, not an API).
//!
//! With `PLATEAU_TRACE_PHASES=1`, each step of a sweep that writes to disk announces itself on
//! stderr (`plateau-phase: checkpoint r0003`), so a harness can kill the process inside that
//! step. With `PLATEAU_FAULT=<phase>:panic[:<run id>]`, the run panics when it reaches that
//! phase, as a bug would. Both are silent and free when unset.

use std::sync::OnceLock;

/// The environment variable that turns the markers on.
pub const TRACE_ENV: &str = "PLATEAU_TRACE_PHASES";

/// The environment variable that injects a fault.
pub const FAULT_ENV: &str = "PLATEAU_FAULT";

/// The prefix of every marker line.
pub const MARKER: &str = "plateau-phase:";

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os(TRACE_ENV).is_some_and(|v| v != "0"))
}

/// `(phase, only for this run id)` of the injected panic, if any.
fn fault() -> Option<&'static (String, Option<String>)> {
    static FAULT: OnceLock<Option<(String, Option<String>)>> = OnceLock::new();
    FAULT
        .get_or_init(|| {
            let value = std::env::var(FAULT_ENV).ok()?;
            let mut parts = value.splitn(3, ':');
            let phase = parts.next()?.to_string();
            match parts.next() {
                Some("panic") => Some((phase, parts.next().map(str::to_string))),
                _ => panic!("{FAULT_ENV}={value}: expected <phase>:panic[:<run id>]"),
            }
        })
        .as_ref()
}

/// Announces that `phase` (of `what`: a run id, a file) starts now.
pub(crate) fn phase(phase: &str, what: &str) {
    if enabled() {
        crate::sweep::progress::say_marker(&format!("{MARKER} {phase} {what}"));
    }
    if let Some((at, only)) = fault()
        && at == phase
        && only.as_deref().is_none_or(|id| id == what)
    {
        panic!("{FAULT_ENV}: injected panic at {phase} {what}");
    }
}
