//! The one error type of tarmac-activate: every variant names the file,
//! package or key it concerns and maps to exactly one exit class.

use std::path::PathBuf;

use tarmac_fs::{FsError, LockError};
use tarmac_model::{ExitClass, IdError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Id(#[from] IdError),
    #[error("{id}: given more than once")]
    RepeatedId { id: String },
    #[error("{name}: repeated package name in the set ({first} and {second})")]
    RepeatedName {
        name: String,
        first: String,
        second: String,
    },
    #[error("{}: package not found in the repository", path.display())]
    PackageMissing { path: PathBuf },
    #[error("{message}")]
    PkgInfo { message: String },
    #[error("{}: invalid JSON: {reason}", file.display())]
    Json { file: PathBuf, reason: String },
    #[error("{id}: pkginfo.json: `group` {group:?} cannot be used without `username`")]
    GroupWithoutUser { id: String, group: String },
    #[error("{id}: pkginfo.json: username {username:?} must match ^dcos_[a-z0-9_]+$")]
    BadUsername { id: String, username: String },
    #[error("{id}: pkginfo.json: group {group:?} must match ^[a-z_][a-z0-9_-]*$")]
    BadGroupName { id: String, group: String },
    #[error("{id}: requires {name}, which is not in the set of packages")]
    UnmetRequire { id: String, name: String },
    #[error("{id}: pkginfo.json: environment variable {var} is reserved (PATH and LD_LIBRARY_PATH are set by pkg-activate)")]
    ReservedEnv { id: String, var: String },
    #[error("{var}: environment variable set by both {first} and {second}")]
    RepeatedEnv {
        var: String,
        first: String,
        second: String,
    },
    /// `first` and `second` read `<value> (<id>, service <service>)`.
    #[error("{key}: conflicting sysctl values {first} and {second}")]
    SysctlConflict {
        key: String,
        first: String,
        second: String,
    },
    #[error("{id}: pkginfo.json: sysctl is set but the package has no *.service file to name the service")]
    SysctlWithoutService { id: String },
    #[error("{path}: provided by both {first} and {second}")]
    FileConflict {
        path: String,
        first: String,
        second: String,
    },
    #[error("{path}: provided by {id}, but pkg-activate writes this file itself")]
    ServiceConfigShipped { path: String, id: String },
    #[error("{id}: unit name {unit} is reserved")]
    ReservedUnit { id: String, unit: String },
    #[error("{}: not a usable unit file: {reason}", path.display())]
    BadUnit { path: PathBuf, reason: String },
    #[error("{user}: {reason}")]
    User { user: String, reason: String },
    #[error("{command}: failed with {status}: {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("{}: nothing is active (no `current` generation)", root.display())]
    NoCurrent { root: PathBuf },
    #[error("{}: no such generation", path.display())]
    NoGeneration { path: PathBuf },
    #[error("{}: no older generation to roll back to", root.display())]
    NoPrevious { root: PathBuf },
    #[error("{}: generation is damaged: {reason}", path.display())]
    GenerationDamaged { path: PathBuf, reason: String },
    #[error("{name}: no package with this name is active, nothing to swap")]
    SwapNotActive { name: String },
    #[error("{id}: used by generation(s) {generations}; refusing to remove it")]
    PackageInUse { id: String, generations: String },
    #[error("{}: exists and is not a tarmac link; refusing to replace it", path.display())]
    NotTarmacLayout { path: PathBuf },
    #[error("{count} check(s) failed: {names}")]
    ChecksFailed { count: usize, names: String },
    #[error("{count} problem(s) found; first: {first}")]
    Unhealthy { count: usize, first: String },
}

impl Error {
    pub fn class(&self) -> ExitClass {
        match self {
            Error::Fs(e) => e.class(),
            Error::Lock(e) => e.class(),
            Error::Id(_) => ExitClass::Invalid,
            Error::RepeatedId { .. } => ExitClass::Invalid,
            Error::RepeatedName { .. } => ExitClass::Conflict,
            Error::PackageMissing { .. } => ExitClass::Invalid,
            Error::PkgInfo { .. } => ExitClass::Invalid,
            Error::Json { .. } => ExitClass::Invalid,
            Error::GroupWithoutUser { .. } => ExitClass::Invalid,
            Error::BadUsername { .. } => ExitClass::Invalid,
            Error::BadGroupName { .. } => ExitClass::Invalid,
            Error::UnmetRequire { .. } => ExitClass::Invalid,
            Error::ReservedEnv { .. } => ExitClass::Invalid,
            Error::RepeatedEnv { .. } => ExitClass::Conflict,
            Error::SysctlConflict { .. } => ExitClass::Conflict,
            Error::SysctlWithoutService { .. } => ExitClass::Invalid,
            Error::FileConflict { .. } => ExitClass::Conflict,
            Error::ServiceConfigShipped { .. } => ExitClass::Conflict,
            Error::ReservedUnit { .. } => ExitClass::Invalid,
            Error::BadUnit { .. } => ExitClass::Invalid,
            Error::User { .. } => ExitClass::Invalid,
            Error::Command { .. } => ExitClass::Runtime,
            Error::NoCurrent { .. } => ExitClass::Invalid,
            Error::NoGeneration { .. } => ExitClass::Invalid,
            Error::NoPrevious { .. } => ExitClass::Invalid,
            Error::GenerationDamaged { .. } => ExitClass::Integrity,
            Error::SwapNotActive { .. } => ExitClass::Invalid,
            Error::PackageInUse { .. } => ExitClass::Conflict,
            Error::NotTarmacLayout { .. } => ExitClass::Conflict,
            Error::ChecksFailed { .. } => ExitClass::Runtime,
            Error::Unhealthy { .. } => ExitClass::Integrity,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl tarmac_model::Diagnosed for Error {
    fn class(&self) -> ExitClass {
        Error::class(self)
    }
}
