//! What one host-extract run knows about its mirrors, shared by every
//! [`crate::Download`] of the run (bundle mode: one download; package mode:
//! a manifest and an archive per package).
//!
//! Why run-wide and not per download: a mirror that served bad content for
//! a package manifest is not trusted for the archive either, a mirror that
//! asked us to come back later (`Retry-After`) asked for every path, and
//! the request budget (`--max-requests`) and the deadline
//! (`--total-timeout`) bound what one host costs the mirrors, whatever it
//! downloads. Mirrors are identified by their index in the command line
//! list (bundle URLs, or repository roots whose file URLs derive with
//! [`crate::Source::join`]), so every download of a run lists them in the
//! same order.
//!
//! Health rules (docs/host-extract.md, "Mirror health"):
//! - **bad content**: a mirror that served content failing verification is
//!   dropped for the run (recorded by the host loop, which knows the verdict;
//!   see `host::refetching` for bytes that came from several mirrors);
//! - **changing content**: a mirror whose validators changed between
//!   attempts gets the file restarted from byte 0 once; a second change
//!   drops it (recorded by the download, which sees the validators);
//! - **slow**: a mirror abandoned by the low-speed limit is only asked when
//!   no other mirror is ready;
//! - **not before**: a 429/503 `Retry-After` instant before which the
//!   mirror is not asked at all.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Instant;

use tarmac_model::ExitClass;

use crate::{Error, FetchOptions};

/// Why a mirror was dropped for the rest of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// It served content that failed verification (what, in words).
    BadContent(String),
    /// Its content changed twice between attempts.
    Changed(String),
}

#[derive(Debug, Default)]
struct Mirror {
    dropped: Option<Dropped>,
    not_before: Option<Instant>,
    changes: u32,
    slow: bool,
}

#[derive(Debug)]
struct State {
    mirrors: Vec<Mirror>,
    requests: u32,
    /// Mirrors that delivered bytes since the last [`Run::begin`].
    served: BTreeSet<usize>,
    /// The mirror the next download starts with.
    preferred: usize,
    /// The latest failure of any download or check, for the budget error.
    last_failure: Option<String>,
}

/// The per-run state; see the module docs.
#[derive(Debug)]
pub struct Run {
    names: Vec<String>,
    options: FetchOptions,
    deadline: Instant,
    state: Mutex<State>,
}

impl Run {
    /// A run over mirrors with these names (bundle URLs or repository
    /// roots, in command line order); the deadline starts now.
    pub fn new(names: Vec<String>, options: &FetchOptions) -> Run {
        assert!(!names.is_empty(), "a run needs at least one mirror");
        let mirrors = names.iter().map(|_| Mirror::default()).collect();
        Run {
            names,
            options: options.clone(),
            deadline: Instant::now() + options.total_timeout,
            state: Mutex::new(State {
                mirrors,
                requests: 0,
                served: BTreeSet::new(),
                preferred: 0,
                last_failure: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn options(&self) -> &FetchOptions {
        &self.options
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    pub(crate) fn mirror_count(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn name(&self, index: usize) -> &str {
        &self.names[index]
    }

    /// Requests sent so far (HTTP requests and local file opens).
    pub fn requests(&self) -> u32 {
        self.state().requests
    }

    /// Counts one request; `false` when the budget is already spent.
    pub(crate) fn take_request(&self) -> bool {
        let mut state = self.state();
        if state.requests >= self.options.max_requests {
            return false;
        }
        state.requests += 1;
        true
    }

    /// Remembers the latest failure (URL first) of the run.
    pub(crate) fn note_failure(&self, what: String) {
        self.state().last_failure = Some(what);
    }

    pub(crate) fn last_failure(&self) -> String {
        self.state()
            .last_failure
            .clone()
            .unwrap_or_else(|| "none".into())
    }

    pub(crate) fn is_dropped(&self, index: usize) -> bool {
        self.state().mirrors[index].dropped.is_some()
    }

    pub(crate) fn not_before(&self, index: usize) -> Option<Instant> {
        self.state().mirrors[index].not_before
    }

    pub(crate) fn is_slow(&self, index: usize) -> bool {
        self.state().mirrors[index].slow
    }

    /// `Retry-After`: never ask `index` before `when` (a later instant
    /// from an earlier answer stands).
    pub(crate) fn wait_until(&self, index: usize, when: Instant) {
        let mut state = self.state();
        let slot = &mut state.mirrors[index].not_before;
        *slot = Some(slot.map_or(when, |t| t.max(when)));
    }

    pub(crate) fn mark_slow(&self, index: usize) {
        self.state().mirrors[index].slow = true;
    }

    pub(crate) fn preferred(&self) -> usize {
        self.state().preferred
    }

    pub(crate) fn set_preferred(&self, index: usize) {
        self.state().preferred = index;
    }

    /// The next download starts one mirror further on (after a body that
    /// ended early: a fresh try elsewhere, without blame).
    pub(crate) fn rotate(&self) {
        let mut state = self.state();
        state.preferred = (state.preferred + 1) % self.names.len();
    }

    /// `index` delivered bytes of the current attempt.
    pub(crate) fn delivered(&self, index: usize) {
        self.state().served.insert(index);
    }

    /// Starts a host-level attempt: forgets who served the previous one.
    pub(crate) fn begin(&self) {
        self.state().served.clear();
    }

    /// The mirrors that delivered bytes since [`Run::begin`].
    pub(crate) fn served(&self) -> BTreeSet<usize> {
        self.state().served.clone()
    }

    /// `index` served content that failed verification: dropped for the run.
    pub(crate) fn drop_bad(&self, index: usize, what: String) {
        let mut state = self.state();
        let mirror = &mut state.mirrors[index];
        if mirror.dropped.is_none() {
            mirror.dropped = Some(Dropped::BadContent(what));
        }
    }

    /// `index` changed its content between attempts: `true` for the first
    /// change (restart the file from byte 0), `false` once it changed again
    /// (then it is dropped for the run).
    pub(crate) fn changed(&self, index: usize, what: String) -> bool {
        let mut state = self.state();
        let mirror = &mut state.mirrors[index];
        mirror.changes += 1;
        if mirror.changes >= 2 {
            if mirror.dropped.is_none() {
                mirror.dropped = Some(Dropped::Changed(what));
            }
            return false;
        }
        true
    }

    /// Whether any mirror is still usable.
    pub(crate) fn any_usable(&self) -> bool {
        self.state().mirrors.iter().any(|m| m.dropped.is_none())
    }

    /// The error when no mirror is left: each mirror and why it was
    /// dropped. Exit 4 only when every mirror served bad content; a
    /// mirror dropped for changing content makes it transient (75): the
    /// mirror is probably being updated, a later run may succeed.
    /// `others` names mirrors that failed fatally for this file only
    /// (404, TLS): (index, error).
    pub(crate) fn no_mirror(&self, others: &[(usize, &Error)]) -> Error {
        let state = self.state();
        let mut reasons = Vec::new();
        let mut all_bad = true;
        let mut any_changed = false;
        let mut fatal_class = None;
        for (index, mirror) in state.mirrors.iter().enumerate() {
            let name = &self.names[index];
            match &mirror.dropped {
                Some(Dropped::BadContent(what)) => {
                    reasons.push(format!("{name}: served bad content: {what}"))
                }
                Some(Dropped::Changed(what)) => {
                    all_bad = false;
                    any_changed = true;
                    reasons.push(format!("{name}: content changed twice: {what}"));
                }
                None => {
                    all_bad = false;
                    if let Some((_, error)) = others.iter().find(|(i, _)| *i == index) {
                        fatal_class.get_or_insert(error.class());
                        reasons.push(format!("{name}: {error}"));
                    }
                }
            }
        }
        let class = if all_bad {
            ExitClass::Integrity
        } else if any_changed {
            ExitClass::Transient
        } else {
            fatal_class.unwrap_or(ExitClass::Runtime)
        };
        Error::NoMirror {
            mirrors: reasons.join("; "),
            class,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: usize) -> Run {
        let names = (0..n).map(|i| format!("http://m{i}")).collect();
        Run::new(
            names,
            &FetchOptions {
                max_requests: 3,
                ..FetchOptions::default()
            },
        )
    }

    #[test]
    fn every_mirror_bad_is_integrity_and_lists_each() {
        let run = run(2);
        run.drop_bad(0, "blake3 mismatch".into());
        assert!(run.any_usable());
        run.drop_bad(1, "tree hash mismatch".into());
        assert!(!run.any_usable());
        let error = run.no_mirror(&[]);
        assert_eq!(error.class(), ExitClass::Integrity);
        let text = error.to_string();
        assert!(
            text.contains("http://m0: served bad content: blake3 mismatch")
                && text.contains("http://m1: served bad content: tree hash mismatch"),
            "{text}"
        );
    }

    #[test]
    fn a_mirror_dropped_for_changes_makes_it_transient() {
        let run = run(2);
        run.drop_bad(0, "blake3 mismatch".into());
        assert!(run.changed(1, "ETag".into()));
        assert!(run.any_usable());
        assert!(!run.changed(1, "ETag again".into()));
        assert!(!run.any_usable());
        assert_eq!(run.no_mirror(&[]).class(), ExitClass::Transient);
    }

    #[test]
    fn the_request_budget_is_counted() {
        let run = run(1);
        assert!(run.take_request() && run.take_request() && run.take_request());
        assert!(!run.take_request());
        assert_eq!(run.requests(), 3);
    }
}
