//! Command line of ip-detect-run.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Run an ip-detect script and print the one address it reports.
///
/// The script runs with stdin from /dev/null in its own process group; on
/// timeout the whole group is killed, and so is anything the script leaves
/// in its group when it exits (named in a warning on stderr). Its stdout must be exactly one address
/// (trailing whitespace and CR are trimmed): no second line, no route metric,
/// no prefix length, no leading zeros, not loopback. Its stderr is passed
/// through. The address is printed on stdout.
///
/// Exit codes: 0 ok; 1 the script failed, timed out or could not run (its
/// stderr is shown); 3 the output is not one acceptable address, or the
/// address is not on a local interface (output quoted in the message), or
/// the script is missing or not executable;
/// 5 the address differs from the one recorded in the --pin file.
#[derive(Debug, Parser)]
#[command(name = "ip-detect-run", version = tarmac_cli::VERSION)]
pub struct Args {
    /// The ip-detect script to run (must be executable).
    pub script: PathBuf,

    /// Seconds before the script and all its children are killed.
    #[arg(long, default_value_t = 30, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    /// Address family the script must print.
    #[arg(long, value_enum, default_value_t = FamilyArg::Four)]
    pub family: FamilyArg,

    /// Accept an address that no local interface holds (default: refuse it).
    #[arg(long)]
    pub no_require_local: bool,

    /// Record the first accepted address in FILE (atomically, never
    /// rewritten); on later runs a different address is an error (exit 5),
    /// because a node whose IP changes breaks the cluster.
    #[arg(long, value_name = "FILE")]
    pub pin: Option<PathBuf>,

    /// Print a JSON document {format, address, family, pin} instead of the bare address.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    /// IPv4
    #[value(name = "4")]
    Four,
    /// IPv6
    #[value(name = "6")]
    Six,
}
