//! Named crash points for the crash-safety tests (STYLE.md § Tests).
//!
//! With the `failpoints` feature, `TARMAC_FAILPOINT=<name>` makes the process
//! abort (no destructors, no flushes: like a power cut for everything not yet
//! written) when it reaches [`hit`]`(name)`. Without the feature `hit` is an
//! empty inline function, so release binaries carry neither the check nor
//! the environment read.

/// Aborts the process if `TARMAC_FAILPOINT` names this point.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    if std::env::var_os("TARMAC_FAILPOINT").is_some_and(|v| v == name) {
        std::process::abort();
    }
}

/// Failpoints are compiled out of non-test builds.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

/// Whether this build honours `TARMAC_FAILPOINT` (reported by `--version`-like
/// introspection in tests to prove release builds do not).
pub const ENABLED: bool = cfg!(feature = "failpoints");
