//! How libraries tell a human what they are doing without printing.
//!
//! A library takes `&dyn Reporter`; the binary passes a progress bar when
//! stderr is a terminal, plain periodic lines otherwise, or [`Silent`].

/// Receives progress events from long operations. Every method has a no-op
/// default so a reporter implements only what it shows.
pub trait Reporter: Sync {
    /// A named step started (e.g. "download", "extract", "switch").
    fn step(&self, _name: &str) {}
    /// The total amount of work of the current step, in bytes, is known.
    fn total_bytes(&self, _bytes: u64) {}
    /// `bytes` more bytes of the current step are done.
    fn advance(&self, _bytes: u64) {}
    /// A one-line message worth showing (a retry, a warning).
    fn note(&self, _message: &str) {}
    /// The current step is finished.
    fn finish_step(&self) {}
}

/// A reporter that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {}

/// The line form of a tool's result: what it prints on stdout without
/// `--json`, one fact per line, so a shell script can `grep` or `read` it.
/// The `--json` form is the same struct's `Serialize` (docs/json.md); both
/// live with the struct, so a binary only chooses between them.
pub trait TextLines {
    fn text_lines(&self) -> Vec<String>;
}
