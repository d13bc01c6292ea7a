//! Tests of tarmac-archive through its public API: round trips, determinism,
//! container sniffing, manifests, and the hostile-archive corpus.

mod fixtures;
mod hostile;
mod mutate;
mod roundtrip;
mod transcode;
