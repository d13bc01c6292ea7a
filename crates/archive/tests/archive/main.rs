//! Tests of tarmac-archive through its public API: round trips, determinism,
//! container sniffing, manifests, and the hostile-archive corpus.

// Test and bench code: unwrap and print freely (the workspace lints are for
// library code).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod fixtures;
mod hostile;
mod mutate;
mod parallel;
mod roundtrip;
mod transcode;
