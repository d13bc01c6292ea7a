//! tarmac-fetch: get bytes from mirrors reliably, and publish verified
//! packages on a host (the library behind `host-extract`).
//!
//! - [`Source`]: an HTTP(S) URL, `file://` URL or plain path.
//! - [`Download`]: a `Read` over a list of mirrors with timeouts, a stall
//!   detector, a low-speed limit, retries with full-jitter backoff,
//!   `Retry-After`, `Range` resume, validator checks (never splice two
//!   versions) and one-pass blake3. The transient/fatal decision lives in
//!   one function (`retry::classify`).
//! - [`fetch_to_file`]: one file to disk with all of the above (a run of
//!   its own); what pkg-build's source and `--cache-url` downloads use.
//! - [`Run`]: what one run knows about its mirrors (dropped for bad or
//!   changing content, slow, not before a `Retry-After`), its request
//!   budget and its deadline, shared by every download of the run.
//!
//! - [`TrustStore`]: the roots HTTPS is verified against (system store
//!   plus `--cacert`; see [`tls`]).
//! - [`host`]: staging, verification and publishing under `<root>/packages/`,
//!   and the content verdict (bad content drops the mirror, a body cut
//!   short is transient) in `host::refetching`.
//!
//! Not here: tar parsing and extraction policy (tarmac-archive).

mod delta;
mod download;
mod error;
pub mod host;
mod retry;
pub mod run;
mod source;
pub mod tls;

pub use download::{fetch_to_file, Download, Fetched};
pub use error::Error;
pub use retry::FetchOptions;
pub use run::Run;
pub use source::Source;
pub use tls::{CaCertError, TrustStore};
