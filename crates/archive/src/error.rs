//! The one error type of the archive crate and its exit classes.
//!
//! Policy violations name the archive entry first and then the rule, so a
//! human sees at once which path of which archive was refused and why:
//! `entry "../etc/passwd": path escapes the package ("..")`.

use std::io;
use std::path::{Path, PathBuf};

use tarmac_fs::FsError;
use tarmac_model::ExitClass;

/// Everything that can go wrong while writing, hashing or extracting an archive.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An entry breaks the extraction policy (COMPAT.md § Archives).
    #[error("entry {entry:?}: {rule}")]
    Policy { entry: String, rule: String },

    /// The stream is not a well-formed archive: unknown container, bad
    /// header, truncated data, trailing garbage.
    #[error("archive: {reason}")]
    Malformed { reason: String },

    /// The compressed container is corrupt (the decoder refused it).
    #[error("archive: corrupt {container} data: {source}")]
    Corrupt {
        container: &'static str,
        #[source]
        source: io::Error,
    },

    /// The stream outgrew a limit (flags or the manifest): refused at once.
    #[error("entry {entry:?}: {what} exceeds the limit of {limit}")]
    Limit {
        entry: String,
        what: String,
        limit: u64,
    },

    /// The manifest (bundle.json or `<id>.json`) itself is unusable.
    #[error("{file}: {reason}")]
    Manifest { file: String, reason: String },

    /// What was extracted does not match what the manifest declared.
    #[error("{what}: tree hash mismatch: expected {expected}, got {actual}")]
    Integrity {
        what: String,
        expected: String,
        actual: String,
    },

    /// A tree to archive or hash holds something an archive cannot carry.
    #[error("{}: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },

    /// Entries were handed to the writer out of order or twice.
    #[error("archive writer: {path:?}: {reason}")]
    Order { path: String, reason: String },

    /// A compression level outside what the extractor can read back.
    #[error("zstd level {level} is not supported: use 1 to 19 (higher levels need more than 16 MiB of memory to decompress)")]
    Level { level: i32 },

    /// A delta cannot be made or decoded (not a zstd frame, a window or
    /// size other than declared, a reference it was not made against).
    #[error("delta: {reason}")]
    Delta { reason: String },

    /// The caller's `on_bundle` hook refused the bundle.
    #[error("bundle.json: {}", .0.reason)]
    Rejected(crate::Rejected),

    /// The staging directory must be new: extraction never writes into an
    /// existing directory.
    #[error("{}: staging directory already exists", path.display())]
    StagingExists { path: PathBuf },

    /// Reading the raw (compressed) input failed: the caller's source (a
    /// file, an HTTP body) broke, not the archive. The caller classifies it
    /// (fetch decides whether it is transient).
    #[error("reading the archive stream: {0}")]
    Source(#[source] io::Error),

    /// Writing the archive output failed.
    #[error("writing the archive: {0}")]
    Output(#[source] io::Error),

    /// A filesystem call on a named path failed.
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl Error {
    /// The exit class: policy and format problems are invalid input (3), a
    /// tree hash mismatch is integrity (4), ENOSPC is no space (6).
    pub fn class(&self) -> ExitClass {
        match self {
            Error::Policy { .. }
            | Error::Malformed { .. }
            | Error::Corrupt { .. }
            | Error::Limit { .. }
            | Error::Manifest { .. }
            | Error::Delta { .. }
            | Error::Unsupported { .. } => ExitClass::Invalid,
            Error::Integrity { .. } => ExitClass::Integrity,
            Error::Level { .. } => ExitClass::Usage,
            Error::Rejected(rejected) => rejected.class,
            Error::Order { .. } | Error::StagingExists { .. } | Error::Source(_) => {
                ExitClass::Runtime
            }
            Error::Output(e) => tarmac_fs::io_class(e),
            Error::Fs(e) => e.class(),
        }
    }

    /// Whether the stream simply ended too early (a body cut short), as
    /// opposed to holding bad data: the tar stream ending inside a header
    /// or an entry, or the decoder hitting the end mid-frame. A download
    /// may retry the first; the second is what the source serves.
    pub fn cut_short(&self) -> bool {
        match self {
            Error::Malformed { reason } => reason.starts_with(TRUNCATED),
            Error::Corrupt { source, .. } => source.kind() == io::ErrorKind::UnexpectedEof,
            _ => false,
        }
    }

    /// Names the file an [`Error::Output`] was writing (the writer only
    /// sees a stream): it becomes an [`Error::Fs`] on `path`, same class.
    pub fn writing(self, path: &Path) -> Error {
        match self {
            Error::Output(source) => FsError::new("write", path, source).into(),
            other => other,
        }
    }

    /// Names the file an [`Error::Source`] was reading, for callers whose
    /// source is a local file (not an HTTP body, which fetch classifies).
    pub fn reading(self, path: &Path) -> Error {
        match self {
            Error::Source(source) => FsError::new("read", path, source).into(),
            other => other,
        }
    }

    pub(crate) fn policy(entry: &[u8], rule: impl Into<String>) -> Error {
        Error::Policy {
            entry: String::from_utf8_lossy(entry).into_owned(),
            rule: rule.into(),
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Error {
        Error::Malformed {
            reason: reason.into(),
        }
    }
}

/// How every "the stream ended too early" reason starts.
pub(crate) const TRUNCATED: &str = "truncated: ";

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writing_and_reading_name_the_file_and_keep_the_class() {
        let full = Error::Output(io::Error::from_raw_os_error(28)).writing(Path::new("/b/x.tmp"));
        assert!(full.to_string().contains("/b/x.tmp"), "{full}");
        assert_eq!(full.class(), ExitClass::NoSpace);
        let read = Error::Source(io::Error::other("EIO")).reading(Path::new("/r/a.tar.zst"));
        assert!(read.to_string().contains("/r/a.tar.zst"), "{read}");
        assert_eq!(read.class(), ExitClass::Runtime);
        // Errors that already carry their evidence pass through.
        let policy = Error::policy(b"../x", "escapes").writing(Path::new("/b"));
        assert!(matches!(policy, Error::Policy { .. }));
    }

    #[test]
    fn a_stream_cut_short_is_told_from_bad_data() {
        assert!(crate::tar_read::truncated_for_test("a header").cut_short());
        let eof = Error::Corrupt {
            container: "zstd",
            source: io::Error::from(io::ErrorKind::UnexpectedEof),
        };
        assert!(eof.cut_short());
        let bad = Error::Corrupt {
            container: "zstd",
            source: io::Error::other("checksum"),
        };
        assert!(!bad.cut_short());
        assert!(!Error::malformed("bad header checksum").cut_short());
        assert!(!Error::policy(b"../x", "escapes").cut_short());
    }
}
