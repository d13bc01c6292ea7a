//! The one error type of tarmac-builder: each variant names the file, package,
//! source or URL first and carries the evidence.

use std::path::PathBuf;

use tarmac_fs::FsError;
use tarmac_model::{ExitClass, ModelError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Fs(#[from] FsError),

    /// buildinfo.json / treeinfo.json / pkginfo.json did not validate.
    #[error(transparent)]
    Model(#[from] ModelError),

    #[error(transparent)]
    Archive(#[from] tarmac_archive::Error),

    #[error(transparent)]
    Lock(#[from] tarmac_fs::LockError),

    /// The package tree is inconsistent: a missing package, a cycle, an
    /// excluded or wrongly-variant package.
    #[error("{}: {reason}", file.display())]
    Tree { file: PathBuf, reason: String },

    /// A source is declared wrongly or cannot be resolved locally.
    #[error("{}: source {source_name:?}: {reason}", package.display())]
    Source {
        package: PathBuf,
        source_name: String,
        reason: String,
    },

    /// A git_local source has uncommitted changes (pkgpanda's rule: only
    /// committed content can be pinned by a commit).
    #[error("{}: git_local work tree has uncommitted changes ({status}); commit or stash them", dir.display())]
    GitDirty { dir: PathBuf, status: String },

    #[error("{}: git {command}: {reason}", dir.display())]
    Git {
        dir: PathBuf,
        command: String,
        reason: String,
    },

    /// A downloaded file does not match its declared checksum.
    #[error("{url}: {algorithm} mismatch: expected {expected}, got {actual}; kept as {}", kept.display())]
    Checksum {
        url: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
        kept: PathBuf,
    },

    /// A download through tarmac-fetch (url sources, `--cache-url`); its
    /// exit class is fetch's (the one transient/fatal classifier).
    #[error("download failed: {0}")]
    Fetch(Box<tarmac_fetch::Error>),

    #[error("{url}: download failed: {reason}")]
    Download {
        url: String,
        reason: String,
        transient: bool,
    },

    /// The archive of a url_extract source is not a kind we can extract.
    #[error("{url}: url_extract: {reason}")]
    Extract { url: String, reason: String },

    /// The build script failed.
    #[error("{package}: build script {} failed ({status}); log: {}", script.display(), log.display())]
    BuildFailed {
        package: String,
        script: PathBuf,
        status: String,
        log: PathBuf,
        tail: Vec<String>,
    },

    /// The package's output breaks a packaging rule (reserved unit name,
    /// generated file written by the script).
    #[error("{package}: {path}: {reason}")]
    Output {
        package: String,
        path: String,
        reason: String,
    },

    /// The sandbox could not be set up (with `--sandbox namespace`).
    #[error("build sandbox: {reason}")]
    Sandbox { reason: String },
}

impl Error {
    pub fn class(&self) -> ExitClass {
        match self {
            Error::Fs(e) => e.class(),
            Error::Model(e) => e.class(),
            Error::Archive(e) => e.class(),
            Error::Lock(e) => e.class(),
            Error::Tree { .. } => ExitClass::Invalid,
            Error::Source { .. } => ExitClass::Invalid,
            Error::GitDirty { .. } => ExitClass::Invalid,
            Error::Git { .. } => ExitClass::Runtime,
            Error::Checksum { .. } => ExitClass::Integrity,
            Error::Fetch(e) => e.class(),
            Error::Download { transient, .. } => {
                if *transient {
                    ExitClass::Transient
                } else {
                    ExitClass::Runtime
                }
            }
            Error::Extract { .. } => ExitClass::Invalid,
            Error::BuildFailed { .. } => ExitClass::Runtime,
            Error::Output { .. } => ExitClass::Invalid,
            Error::Sandbox { .. } => ExitClass::Runtime,
        }
    }

    /// Lines worth showing after the error (the end of a failed build's log).
    pub fn hints(&self) -> Vec<String> {
        match self {
            Error::BuildFailed { tail, .. } => tail.clone(),
            _ => Vec::new(),
        }
    }
}

impl tarmac_model::Diagnosed for Error {
    fn class(&self) -> ExitClass {
        Error::class(self)
    }
    fn hints(&self) -> Vec<String> {
        Error::hints(self)
    }
}
