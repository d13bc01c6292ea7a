//! ip-detect: run the operator's ip-detect script and decide whether its
//! answer is an address this host can be known by for the life of a cluster.
//!
//! DC/OS calls the script from many services and trusts whatever it prints.
//! This crate is the one place that runs it (see COMPAT.md § ip-detect-run):
//! the script gets `/dev/null` as stdin and its own process group, so a
//! timeout or a child that keeps stdout open cannot hang the caller; its
//! answer must be exactly one address of the requested family (trailing
//! whitespace and CR trimmed), not loopback, and by default assigned to a
//! local interface. With a pin file, the first accepted answer is recorded
//! and every later run must give the same one.
//!
//! Not here: argument parsing and printing (the `ip-detect-run` binary).

mod answer;
mod local;
mod pin;
mod script;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tarmac_fs::FsError;
use tarmac_model::ExitClass;

pub use answer::{parse_answer, Family};
pub use local::local_addresses;
pub use pin::PinState;
pub use script::Leftover;

/// What to run and which checks apply.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    pub script: PathBuf,
    pub timeout: Duration,
    pub family: Family,
    /// The answer must be assigned to one of this host's interfaces.
    pub require_local: bool,
    /// Record the first answer here; later answers must match it.
    pub pin: Option<PathBuf>,
}

/// The result of a successful run (the `--json` document of ip-detect-run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detected {
    /// Format version of this document.
    pub format: u32,
    /// The address the script printed, in canonical form.
    pub address: IpAddr,
    /// 4 or 6.
    pub family: u8,
    /// What happened to the pin file, if one was given.
    pub pin: Option<PinState>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot run ip-detect script: {source}", script.display())]
    Spawn {
        script: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: ip-detect script not found", script.display())]
    ScriptMissing { script: PathBuf },
    #[error("{}: ip-detect script is not executable (chmod +x, or a #! line it can run)", script.display())]
    NotExecutable { script: PathBuf },
    #[error("{}: ip-detect script exited with {status}", script.display())]
    ScriptFailed { script: PathBuf, status: String },
    #[error("{}: ip-detect script did not finish within {seconds}s (process group killed)", script.display())]
    Timeout { script: PathBuf, seconds: u64 },
    #[error("{}: ip-detect script printed {output}: {reason}", script.display())]
    BadOutput {
        script: PathBuf,
        /// The script's stdout, quoted and shortened for the message.
        output: String,
        reason: String,
    },
    #[error("{}: ip-detect script printed {address}, which is not assigned to any local interface", script.display())]
    NotLocal { script: PathBuf, address: IpAddr },
    #[error("{}: pinned address is {pinned} but the ip-detect script now prints {detected}; a node's IP must not change", pin.display())]
    PinMismatch {
        pin: PathBuf,
        pinned: IpAddr,
        detected: IpAddr,
    },
    #[error("{}: pin file holds {content}, not one address", pin.display())]
    PinCorrupt { pin: PathBuf, content: String },
    #[error("cannot list local interfaces: {0}")]
    Interfaces(nix::Error),
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl Error {
    pub fn class(&self) -> ExitClass {
        match self {
            Error::Spawn { .. } => ExitClass::Runtime,
            Error::ScriptMissing { .. } => ExitClass::Invalid,
            Error::NotExecutable { .. } => ExitClass::Invalid,
            Error::ScriptFailed { .. } => ExitClass::Runtime,
            Error::Timeout { .. } => ExitClass::Runtime,
            Error::BadOutput { .. } => ExitClass::Invalid,
            Error::NotLocal { .. } => ExitClass::Invalid,
            // An IP change is a conflict with what the cluster already knows.
            Error::PinMismatch { .. } => ExitClass::Conflict,
            Error::PinCorrupt { .. } => ExitClass::Invalid,
            Error::Interfaces(_) => ExitClass::Runtime,
            Error::Fs(e) => e.class(),
        }
    }
}

/// Runs the script and applies every check; records the pin on success.
/// `leftovers` hears of the processes the script left in its process group
/// when it exited (all killed), whatever the outcome: a daemon started by
/// an ip-detect script is a bug the operator should see.
pub fn detect(
    options: &DetectOptions,
    leftovers: &mut dyn FnMut(&[Leftover]),
) -> Result<Detected, Error> {
    let stdout = script::run(&options.script, options.timeout, leftovers)?;
    let address = parse_answer(&stdout, options.family).map_err(|reason| Error::BadOutput {
        script: options.script.clone(),
        output: answer::quote(&stdout),
        reason,
    })?;
    if options.require_local && !local_addresses()?.contains(&address) {
        return Err(Error::NotLocal {
            script: options.script.clone(),
            address,
        });
    }
    let pin = match &options.pin {
        Some(path) => Some(pin::check_or_record(path, address)?),
        None => None,
    };
    Ok(Detected {
        format: 1,
        address,
        family: options.family.number(),
        pin,
    })
}

/// Reads a pin file written by an earlier run, for callers that only need
/// the recorded address.
pub fn read_pin(path: &Path) -> Result<Option<IpAddr>, Error> {
    pin::read(path)
}

impl tarmac_model::Diagnosed for Error {
    fn class(&self) -> ExitClass {
        Error::class(self)
    }
    /// What to tell the operator after the error.
    fn hints(&self) -> Vec<String> {
        match self {
            Error::NotLocal { .. } => vec![
                "pass --no-require-local if the address is assigned elsewhere on purpose (NAT)"
                    .into(),
            ],
            Error::PinMismatch { pin, .. } => vec![format!(
                "if the node really moved, remove it from the cluster and reinstall it; {} records the original address",
                pin.display()
            )],
            _ => Vec::new(),
        }
    }
}
