//! Command line of pkg-activate (docs/pkg-activate.md is generated from it).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Activate DC/OS packages on a host, pkgpanda-compatible, through
/// generations that switch with one atomic rename.
///
/// Packages live extracted in <root>/packages/<id>/ (host-extract puts them
/// there). Each activation builds <root>/generations/<n>/ completely (symlink
/// farm of bin, etc, include, lib and their _<role> variants, active/,
/// environment, environment.export, active.buildinfo.full.json,
/// etc/dcos-service-configuration.json, generation.json), syncs it, and
/// commits by renaming the `current` symlink. <root>/bin, lib, etc, ... are
/// fixed links through `current`. Unit files are then copied into
/// --systemd-dir. Every command first repairs an interrupted run.
///
/// Exit codes: 0 ok, 1 runtime failure, 2 usage, 3 invalid input (bad id,
/// missing package, bad pkginfo, unmet requires), 4 damaged generation
/// (verify), 5 conflict between packages or host lock held.
#[derive(Debug, Parser)]
#[command(name = "pkg-activate", version = tarmac_cli::VERSION)]
pub struct Args {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Global {
    #[command(flatten)]
    pub host: tarmac_cli::HostRootArgs,
    /// Host configuration; the host's roles are the entries of <config-dir>/roles/.
    /// If <config-dir>/manual_host_users exists, package users are never
    /// created: a missing one refuses the set.
    #[arg(long, global = true, default_value = "/etc/mesosphere")]
    pub config_dir: PathBuf,
    /// Where unit files are copied, with dcos.target.wants/<unit> -> ../<unit>.
    #[arg(long, global = true, default_value = "/etc/systemd/system")]
    pub systemd_dir: PathBuf,
    /// Parent of the packages' state directories (<state-dir-root>/<name>).
    #[arg(long, global = true, default_value = "/var/lib/dcos")]
    pub state_dir_root: PathBuf,
    /// Root of the user database (etc/passwd, etc/group) that package users
    /// are checked against and created in: with `/`, by `useradd`; with any
    /// other root (a temp root or an image), pkg-activate appends the entries
    /// itself, so no root privilege is needed. State directories are chowned
    /// to the package user only when running as root.
    #[arg(long, global = true, default_value = "/")]
    pub user_db_root: PathBuf,
    /// Do not run systemctl (unit files are still copied).
    #[arg(long, global = true)]
    pub no_systemd: bool,
    /// Lay out pkgpanda's exact per-file farm instead of folding directories
    /// that come from one package into one link.
    #[arg(long, global = true)]
    pub no_fold: bool,
    #[command(flatten)]
    pub reporting: tarmac_cli::OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make exactly these package ids active (none: an empty farm). Prints
    /// the new generation number.
    Activate {
        /// Package ids (name--version), each extracted in <root>/packages/<id>/.
        ids: Vec<String>,
        /// Generations to keep afterwards (current and previous always stay).
        #[arg(long, default_value_t = 10)]
        keep: usize,
    },
    /// Replace the active package of the same name by this id.
    Swap {
        /// The new package id; its name must be active.
        id: String,
        /// Generations to keep afterwards (current and previous always stay).
        #[arg(long, default_value_t = 10)]
        keep: usize,
    },
    /// List the packages in the repository (<root>/packages/).
    List,
    /// Print the active package ids.
    Active,
    /// Show the current generation, its packages and roles, and its health
    /// (every link resolves, files match generation.json, units copied).
    ///
    /// Overrides: the active packages that are not in the cluster's set,
    /// which dcos_install.sh records in
    /// <config-dir>/setup-flags/cluster-package-ids (one id per line): a
    /// package swapped in by hand (an emergency change) shows as
    /// `override ID` (JSON: "overrides") until the host is back on the
    /// cluster's set. Without that file: "cluster_set": false and
    /// "overrides": null.
    Status,
    /// Switch back to the previous generation (or --to N). Offline.
    Rollback {
        /// Generation number to switch to (default: the newest older than current).
        #[arg(long)]
        to: Option<u64>,
    },
    /// Remove old generations (keeping the newest N, current and previous)
    /// and every package no remaining generation uses.
    Gc {
        /// Generations to keep, newest first.
        #[arg(long, default_value_t = 3)]
        keep: usize,
    },
    /// Repair what an interrupted run left (every command does this first).
    Recover,
    /// Run the executables in the active packages' check/ directories.
    Check {
        /// Only list the checks.
        #[arg(long)]
        list: bool,
        /// Seconds a check may run; then its whole process group is killed
        /// and it counts as failed.
        #[arg(long, value_name = "SECONDS", default_value_t = 60.0, value_parser = parse_seconds)]
        timeout: f64,
    },
    /// Remove packages from the repository (refused while a generation uses one).
    Remove {
        /// Package ids to remove from <root>/packages/.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Deactivate everything: remove installed units, generations, packages
    /// and links under the root (the lock file stays).
    ///
    /// Prints each path removed ("removed PATH") and each path of the
    /// install kept ("left PATH"): without --purge the install script's
    /// config entries and tools, and always the package state directories
    /// (service data).
    Uninstall {
        /// Also remove what dcos_install.sh wrote outside the root:
        /// CONFIG_DIR/roles, CONFIG_DIR/setup-flags and the tools dir.
        #[arg(long)]
        purge: bool,
        /// Where dcos_install.sh put the host tools (its TARMAC_TOOLS_DIR).
        #[arg(long, value_name = "DIR", default_value = "/var/lib/tarmac/bin")]
        tools_dir: PathBuf,
    },
    /// Status plus each active package's tree hash against host-extract's
    /// manifest: reports writes that landed inside a package through a
    /// folded link. Exit 4 when unhealthy.
    Verify,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}
