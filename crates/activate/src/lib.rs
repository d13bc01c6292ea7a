//! tarmac-activate: makes a set of extracted packages the active view of a
//! host, pkgpanda-compatible (COMPAT.md § pkg-activate), through generations.
//!
//! `packages/<id>/` are immutable; each activation builds
//! `generations/<n>/` completely (symlink farm, `active/`, environment
//! files, service configuration, `generation.json`), syncs it, and commits
//! with ONE rename of the `current` symlink. Systemd unit copies are synced
//! from `current` afterwards, idempotently.
//!
//! Invariant: after any crash, `current` names a complete generation, and
//! the next call of any operation here (they all start with [`recover`])
//! removes staging debris and finishes the unit sync.
//!
//! Not here: downloading or extracting packages (host-extract), printing
//! (the `pkg-activate` binary), default paths (passed in as [`HostPaths`]).

mod checks;
mod error;
mod failpoint;
mod farm;
mod generation;
mod maintain;
mod package;
mod paths;
mod plan;
mod services;
mod status;
mod switch;
mod units;
mod users;

pub use checks::{check, CheckOutcome, CheckReport};
pub use error::{Error, Result};
pub use failpoint::ENABLED as FAILPOINTS_ENABLED;
pub use generation::{GenerationRecord, GENERATION_FORMAT};
pub use maintain::{
    active, list, remove, uninstall, InstallLeftovers, PackageIds, Removed, Uninstalled,
};
pub use package::{Meta, Package};
pub use paths::{roles_from_config_dir, HostPaths, FIXED_LINKS};
pub use plan::RESERVED_UNITS;
pub use services::{ServiceState, Services};
pub use status::{status, verify, GenerationSummary, Status, STATUS_FORMAT};
pub use switch::{activate, gc, recover, rollback, swap, Collected, Options, Recovered, Switched};
pub use tarmac_fs::LockWait;
pub use units::UnitChanges;
