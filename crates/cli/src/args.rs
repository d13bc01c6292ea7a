//! Flag groups that several tools share (`#[command(flatten)]`), so a flag
//! that means one thing has one name, one default and one help text in
//! every tool that takes it, and its interpretation (the reporter, the
//! lock wait, `$SOURCE_DATE_EPOCH`) lives next to it.

use std::path::PathBuf;

use tarmac_model::{Reporter, Silent};

/// `--json` and `--quiet`: how a tool reports.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Print one JSON document on stdout (docs/json.md) instead of lines;
    /// no progress.
    #[arg(long, global = true)]
    pub json: bool,

    /// No progress on stderr. Bars are drawn only when stderr is a
    /// terminal; errors and warnings are always printed.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

impl OutputArgs {
    /// Bars on a terminal, plain progress lines on a pipe (build and
    /// download tools, whose logs want progress), nothing with
    /// `--quiet`/`--json`.
    pub fn reporter(&self, tool: &'static str) -> Box<dyn Reporter> {
        crate::reporter(tool, self.quiet, self.json)
    }

    /// Bars on a terminal only: without one stderr stays for errors, which
    /// scripts and config management read (pkg-activate, cfg-gen).
    pub fn terminal_reporter(&self, tool: &'static str) -> Box<dyn Reporter> {
        if crate::progress_enabled(self.quiet, self.json) {
            self.reporter(tool)
        } else {
            Box::new(Silent)
        }
    }
}

/// `--root` and `--wait`: the install root and its lock, shared by the two
/// tools that change a host (host-extract and pkg-activate take one lock).
#[derive(Debug, Clone, clap::Args)]
pub struct HostRootArgs {
    /// Install root: packages/, generations/, `current` and the host lock
    /// (ROOT/.lock).
    #[arg(
        long,
        value_name = "DIR",
        global = true,
        default_value = "/opt/mesosphere"
    )]
    pub root: PathBuf,

    /// Wait for the host lock, held by another pkg-activate or
    /// host-extract, instead of failing with exit 5.
    #[arg(long, global = true)]
    pub wait: bool,
}

impl HostRootArgs {
    pub fn lock_wait(&self) -> tarmac_fs::LockWait {
        if self.wait {
            tarmac_fs::LockWait::Wait
        } else {
            tarmac_fs::LockWait::NoWait
        }
    }
}

/// `--packages` and `--repo`: the package tree and the repository of built
/// packages (pkg-build writes it, pkg-bundle reads it).
#[derive(Debug, Clone, clap::Args)]
pub struct PackagesArgs {
    /// The package tree: one directory per package (`buildinfo.json`,
    /// `build`), `treeinfo.json` at its top.
    #[arg(long = "packages", value_name = "DIR", default_value = "packages")]
    pub packages_dir: PathBuf,

    /// The package repository (`packages/<name>/<id>.tar.zst` + `<id>.json`).
    #[arg(long, value_name = "DIR", default_value = "repo")]
    pub repo: PathBuf,
}

/// `--source-date-epoch`: the mtime of every archive entry.
#[derive(Debug, Clone, clap::Args)]
pub struct EpochArgs {
    /// mtime of every archive entry (default: $SOURCE_DATE_EPOCH, else 0).
    #[arg(long, value_name = "SECONDS")]
    pub source_date_epoch: Option<u64>,
}

impl EpochArgs {
    /// The flag if given, else `$SOURCE_DATE_EPOCH` (reproducible-builds.org;
    /// unset or not a number counts as unset), else 0. Read here, in the
    /// bins' crate, because libraries read no environment.
    pub fn resolve(&self) -> u64 {
        self.source_date_epoch.unwrap_or_else(|| {
            std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        })
    }
}
