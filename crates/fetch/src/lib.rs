//! tarmac-fetch: get bytes from mirrors reliably, and publish verified
//! packages on a host (the library behind `host-extract`).
//!
//! - [`Source`]: an HTTP(S) URL, `file://` URL or plain path.
//! - [`Download`]: a `Read` over a list of mirrors with timeouts, a stall
//!   detector, retries with full-jitter backoff, `Range` resume and one-pass
//!   blake3. The transient/fatal decision lives in one function
//!   (`retry::classify`).
//!
//! - [`TrustStore`]: the roots HTTPS is verified against (system store
//!   plus `--cacert`; see [`tls`]).
//! - [`host`]: staging, verification and publishing under `<root>/packages/`.
//!
//! Not here: tar parsing and extraction policy (tarmac-archive).

mod download;
mod error;
pub mod host;
mod retry;
mod source;
pub mod tls;

pub use download::{Download, Fetched};
pub use error::Error;
pub use retry::FetchOptions;
pub use source::Source;
pub use tls::{CaCertError, TrustStore};
