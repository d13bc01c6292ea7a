//! The classes of failure shared by every tool (docs/architecture.md § Exit codes).
//!
//! Libraries map each of their error variants to one class; only the `cli`
//! crate turns a class into a process exit code.

/// What kind of failure an error is, independent of which tool hit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitClass {
    /// A runtime failure that is not the input's fault (I/O, a child failed).
    Runtime,
    /// The command line itself was wrong.
    Usage,
    /// Invalid input: config, buildinfo, pkginfo, archive policy.
    Invalid,
    /// A hash or signature did not match.
    Integrity,
    /// A conflict between packages, or the host lock is held.
    Conflict,
    /// Not enough disk space or inodes.
    NoSpace,
    /// A transient failure (network): safe to retry.
    Transient,
}

/// An error a tool reports: its class (which `cli` turns into the exit
/// code) and the hints printed after it. Every library's error implements
/// it, so each binary's main is parse → call → print → `cli::finish`, with
/// no adapter of its own.
pub trait Diagnosed: std::error::Error {
    fn class(&self) -> ExitClass;
    /// `hint:` lines printed after the error line (what to do next).
    fn hints(&self) -> Vec<String> {
        Vec::new()
    }
}
