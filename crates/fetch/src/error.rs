//! The one error type of tarmac-fetch, with the evidence each failure needs
//! (URL first) and its exit class.

use std::path::PathBuf;
use std::time::Duration;

use tarmac_model::ExitClass;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Every attempt failed transiently and the retry budget is spent.
    #[error("{url}: giving up after {attempts} attempts: {last}")]
    Exhausted {
        url: String,
        attempts: u32,
        last: String,
    },
    /// The total time bound passed.
    #[error("{url}: gave up after the total time limit of {}s: {last}", limit.as_secs_f64())]
    TimedOut {
        url: String,
        limit: Duration,
        last: String,
    },
    /// A status that retrying cannot fix (404 and other 4xx).
    #[error("{url}: HTTP status {code}")]
    Status { url: String, code: u16 },
    /// A local source that does not exist.
    #[error("{url}: no such file")]
    NotFound { url: String },
    /// A request that cannot succeed as asked (bad URL, TLS, redirect loop).
    #[error("{url}: {reason}")]
    Request { url: String, reason: String },
    /// Reading the stream failed outside any retryable attempt.
    #[error("{url}: {reason}")]
    Read { url: String, reason: String },
    /// The artifact changed between attempts or differs between mirrors:
    /// the file is started again from byte 0 (never spliced).
    #[error("{url}: content changed during download: {reason}")]
    ContentChanged { url: String, reason: String },
    /// The pinned blake3 of the downloaded bytes did not match.
    #[error("{url}: blake3 mismatch: expected {expected}, got {actual}")]
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },
    /// A package manifest declares another tree hash than the one pinned
    /// for its id (`--pin`): the source serves another package.
    #[error("{url}: package {id} is not the pinned one: tree hash expected {expected} (--pin), the manifest says {actual}")]
    Pin {
        url: String,
        id: String,
        expected: String,
        actual: String,
    },
    /// `--package-file`: a package of this id is already present, published
    /// with another tree hash than this manifest's (present packages are
    /// never replaced).
    #[error("{url}: package {id} is already present with tree hash {present}, this manifest says {offered}: a present package is never replaced (a rebuilt package needs a new version)")]
    Differs {
        url: String,
        id: String,
        present: String,
        offered: String,
    },
    /// The archive broke the extraction policy, its manifest, or was corrupt.
    #[error("{url}: {source}")]
    Archive {
        url: String,
        #[source]
        source: tarmac_archive::Error,
    },
    /// A manifest (`<id>.json`, bundle.json or a local record) is unusable.
    #[error("{url}: {reason}")]
    Manifest { url: String, reason: String },
    /// A package already on the host no longer matches its manifest.
    #[error("{}: present package was modified: tree hash expected {expected}, got {actual}", path.display())]
    Tampered {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    /// The declared content plus the reserve does not fit.
    #[error(
        "{}: not enough space: need {need_bytes} bytes and {need_inodes} inodes (reserve included), {free_bytes} bytes and {free_inodes} inodes free",
        path.display()
    )]
    NoSpace {
        path: PathBuf,
        need_bytes: u64,
        free_bytes: u64,
        need_inodes: u64,
        free_inodes: u64,
    },
    /// The stream outgrew the free space less the reserve.
    #[error("{}: not enough space: the bundle outgrew the {limit} free ({what}, reserve excluded)", path.display())]
    OutOfSpace {
        path: PathBuf,
        what: String,
        limit: u64,
    },
    /// The body ended early although the server announced it complete
    /// (the archive or manifest stops mid-way): transient, never bad content.
    #[error("{url}: the download ended early: {reason}")]
    CutShort { url: String, reason: String },
    /// The run's request budget (`--max-requests`) is spent.
    #[error("{url}: request budget spent: {requests} requests sent (--max-requests); last failure: {last}")]
    Budget {
        url: String,
        requests: u32,
        last: String,
    },
    /// Every usable mirror asked (`Retry-After`) to wait longer than the
    /// time the run has left.
    #[error(
        "{url}: asked to retry after {:.0}s (Retry-After), more than the {:.0}s left of --total-timeout",
        wait.as_secs_f64(),
        left.as_secs_f64()
    )]
    WaitTooLong {
        url: String,
        wait: Duration,
        left: Duration,
    },
    /// No mirror is left: each dropped for the run (bad content, content
    /// that changed twice) or failed fatally for this file; `mirrors`
    /// lists each with what it did.
    #[error("no usable mirror left: {mirrors}")]
    NoMirror { mirrors: String, class: ExitClass },
    /// `--cacert` cannot be used (checked before any download).
    #[error(transparent)]
    CaCert(#[from] crate::tls::CaCertError),
    #[error(transparent)]
    Lock(#[from] tarmac_fs::LockError),
    #[error(transparent)]
    Fs(#[from] tarmac_fs::FsError),
}

impl Error {
    pub fn class(&self) -> ExitClass {
        match self {
            Error::Exhausted { .. }
            | Error::TimedOut { .. }
            | Error::ContentChanged { .. }
            | Error::CutShort { .. }
            | Error::Budget { .. }
            | Error::WaitTooLong { .. } => ExitClass::Transient,
            Error::NoMirror { class, .. } => *class,
            // 404/410 and a missing file: the URL or id names nothing. That is
            // the caller's input, not a network hiccup: never retried, exit 3.
            Error::Status {
                code: 404 | 410, ..
            }
            | Error::NotFound { .. } => ExitClass::Invalid,
            Error::Status { .. } | Error::Request { .. } | Error::Read { .. } => ExitClass::Runtime,
            Error::Checksum { .. }
            | Error::Pin { .. }
            | Error::Differs { .. }
            | Error::Tampered { .. } => ExitClass::Integrity,
            Error::Archive { source, .. } => source.class(),
            Error::Manifest { .. } => ExitClass::Invalid,
            Error::NoSpace { .. } | Error::OutOfSpace { .. } => ExitClass::NoSpace,
            Error::CaCert(e) => e.class(),
            Error::Lock(e) => e.class(),
            Error::Fs(e) => e.class(),
        }
    }
}

impl tarmac_model::Diagnosed for Error {
    fn class(&self) -> ExitClass {
        Error::class(self)
    }
    /// What to tell the operator after an error of this class.
    fn hints(&self) -> Vec<String> {
        match Error::class(self) {
            ExitClass::Transient => {
                vec!["the network failed; running the same command again is safe".into()]
            }
            ExitClass::Conflict => vec!["pass --wait to wait for the other process".into()],
            _ => Vec::new(),
        }
    }
}
