//! The tarmac data model: package ids, package metadata and the exit classes
//! every tool shares.
//!
//! This crate is pure: it parses and validates values handed to it (bytes,
//! strings, JSON) and never touches the filesystem or the network, so every
//! other crate can depend on it. File names appear in errors only because the
//! caller passes them in.
//!
//! [`layout`] spells the on-disk layouts (repository, serve tree, host root)
//! as pure path functions: the one place every crate and test takes them from.

mod active;
mod buildinfo;
mod canonical;
mod error;
mod exit;
mod id;
pub mod layout;
mod manifest;
mod object;
mod pkginfo;
mod python_json;
mod report;
mod treeinfo;

pub use active::{ActiveList, ClusterPackage, ClusterPackages, ARCHIVE_SUFFIXES};
pub use buildinfo::{buildinfo_variant, file_variant, BuildInfo, Source, Sources, DEFAULT_DOCKER};
pub use canonical::{canonical_json, content_hash};
pub use error::ModelError;
pub use exit::{Diagnosed, ExitClass};
pub use id::{validate_name, validate_version, IdError, PackageId};
pub use manifest::{
    bootstrap_id, BundleManifest, DeltaIndex, DeltaRecord, PackageManifest, DELTA_FORMAT,
    MANIFEST_FORMAT,
};
pub use pkginfo::{
    env_value_problem, is_group_name, is_shell_name, is_username, PkgInfo, Requirement,
    SysctlValue, MAX_USER_NAME_LEN, RESERVED_ENV_VARS,
};
pub use python_json::write_python_string;
pub use report::{Reporter, Silent, TextLines};
pub use treeinfo::TreeInfo;
