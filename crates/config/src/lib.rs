//! tarmac-config: what cfg-gen does, as a library.
//!
//! `yaml` reads config.yaml with DC/OS's YAML 1.1 semantics (and refuses
//! duplicate keys); `keys` is the table of settable keys; `checks` holds the
//! per-value validators; `resolve` turns the file into a complete
//! configuration with provenance or the full list of problems.
//!
//! Invariant: the same inputs give the same resolved values, the same config
//! id and the same output bytes (BTreeMaps everywhere, no clock).

pub mod checks;
pub mod keys;
pub mod pem;
pub mod resolve;
pub mod value;
pub mod yaml;

pub use resolve::{resolve, Input, Problem, Resolved, Setting, Source};
pub mod generate;
pub mod templates;

pub use generate::{validate, Error, GenOptions, Generated, Validated};
pub mod install_script;
pub mod serve;
