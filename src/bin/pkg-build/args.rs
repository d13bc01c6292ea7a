//! Command line of pkg-build (the `--help` text; docs/pkg-build.md is
//! generated from it).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Build DC/OS-style packages into content-addressed, reproducible archives.
///
/// Reads a package tree (`<packages>/<name>/buildinfo.json`, `build`,
/// `extra/`, variants `<variant>.buildinfo.json`, `treeinfo.json`) and
/// writes `<repo>/packages/<name>/<name>--<version>.tar.zst` with its
/// `<id>.json` manifest. The version is a hash of every build input, so an
/// unchanged package is never rebuilt. Dependencies are built first,
/// independent packages in parallel.
///
/// stdout: the id of every selected package (built or cached) in build
/// order, one per line, or one JSON document with --json. Progress and
/// build status go to stderr.
///
/// Exit codes: 0 ok, 1 build failed, 2 usage, 3 invalid buildinfo/tree or
/// package output, 4 a source did not match its checksum (kept as
/// `<file>.corrupt`), 75 network failure (retry).
#[derive(Debug, Parser)]
#[command(name = "pkg-build", version = tarmac_cli::VERSION)]
pub struct Args {
    /// Packages to build, as NAME or NAME:VARIANT (their requires are built
    /// too). Give either packages or --tree.
    #[arg(value_name = "PACKAGE", conflicts_with = "tree")]
    pub packages: Vec<String>,

    /// Build a whole tree: every package of `treeinfo.json` (or of
    /// `VARIANT.treeinfo.json`), honoring its exclude, variants and
    /// core_package_list. Without VARIANT, every tree variant present.
    #[arg(long, value_name = "VARIANT", num_args = 0..=1, default_missing_value = "")]
    pub tree: Option<String>,

    #[command(flatten)]
    pub dirs: tarmac_cli::PackagesArgs,

    /// Source downloads, git mirrors and build work directories.
    #[arg(long, value_name = "DIR", default_value = ".cache/pkg-build")]
    pub cache: PathBuf,

    /// Fetch prebuilt packages by id from this repository (http(s):// or
    /// file://, laid out as --repo) before building them; each download is
    /// verified against its manifest, and a miss or a bad copy is built.
    #[arg(long, value_name = "URL")]
    pub cache_url: Option<String>,

    /// Print the build order and the id each package would get, build
    /// nothing (no network needed).
    #[arg(long)]
    pub plan: bool,

    /// Packages built at once (default: available cores).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Build isolation: `auto` uses a mount namespace when the kernel allows
    /// it and warns otherwise, `namespace` requires it, `none` runs build
    /// scripts directly on the host.
    #[arg(long, value_enum, default_value = "auto")]
    pub sandbox: SandboxArg,

    /// zstd level of the package archives.
    #[arg(long, value_name = "N", default_value_t = 9, value_parser = clap::value_parser!(i32).range(1..=19))]
    pub level: i32,

    #[command(flatten)]
    pub epoch: tarmac_cli::EpochArgs,

    #[command(flatten)]
    pub reporting: tarmac_cli::OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxArg {
    Auto,
    Namespace,
    None,
}
