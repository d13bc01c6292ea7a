//! Command line of pkg-bundle (the `--help` text; docs/pkg-bundle.md is
//! generated from it).

use std::path::PathBuf;

use clap::Parser;

/// Bundle a closed set of built packages into one reproducible bootstrap
/// artifact, plus the per-package repository layout.
///
/// Packages come from the ids given as arguments, from --ids-from (one id
/// per line, e.g. pkg-build's stdout), or from a tree (--tree: the
/// bootstrap packages of the tree's treeinfo, ids as pkg-build plans them).
/// The set must be closed: every `requires` of every package present, one
/// id per package name; nothing is written otherwise.
///
/// Writes under --out: `bootstrap/<bootstrap_id>.bootstrap.tar.zst`
/// (`bundle.json` first, then `packages/<id>/...` sorted),
/// `bootstrap/<bootstrap_id>.active.json` and `packages/<name>/<id>.tar.zst`
/// (+ `<id>.json`). The same ids always give the same bytes.
///
/// stdout: the bootstrap id, then the blake3 of the bundle file, one per
/// line (or one JSON document with --json).
///
/// Exit codes: 0 ok, 1 runtime, 2 usage (no packages), 3 a package or a
/// requirement is missing, or an archive is invalid, 4 an archive does not
/// match its manifest, 5 two packages with one name.
#[derive(Debug, Parser)]
#[command(name = "pkg-bundle", version = tarmac_cli::VERSION)]
pub struct Args {
    /// Package ids (name--version) to bundle.
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,

    /// Read ids from FILE, one per line ('-' for stdin).
    #[arg(long, value_name = "FILE")]
    pub ids_from: Option<PathBuf>,

    /// Bundle the bootstrap packages of a tree (`treeinfo.json`, or
    /// `VARIANT.treeinfo.json`) of the package tree given by --packages.
    #[arg(long, value_name = "VARIANT", num_args = 0..=1, default_missing_value = "")]
    pub tree: Option<String>,

    #[command(flatten)]
    pub dirs: tarmac_cli::PackagesArgs,

    /// Where to write `bootstrap/` and `packages/` (default: --repo).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// zstd level (9: within about 10% of xz -6 in size, many times faster).
    #[arg(long, value_name = "N", default_value_t = 9, value_parser = clap::value_parser!(i32).range(1..=19))]
    pub level: i32,

    /// zstd worker threads (0: one per core). Never changes the output.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: u32,

    #[command(flatten)]
    pub epoch: tarmac_cli::EpochArgs,

    #[command(flatten)]
    pub reporting: tarmac_cli::OutputArgs,
}
