//! Command line of cfg-gen.

use std::path::PathBuf;

use clap::Parser;

/// Generate a DC/OS cluster's install tree from genconf/ and a bundle.
///
/// Reads GENCONF/config.yaml (DC/OS keys, YAML 1.1 booleans as DC/OS reads
/// them), the ip-detect script it names (default genconf/ip-detect) and
/// GENCONF/templates/<pkg>/... (each directory becomes the config package
/// <pkg>--setup_<configid>; UTF-8 files are minijinja templates of the
/// resolved configuration). Every problem in the configuration is reported
/// at once, one line each naming file, line, key, value and reason (exit 3).
///
/// What DC/OS accepts but has no effect is a warning on stderr
/// (`cfg-gen: warning: FILE:LINE: KEY = VALUE: REASON`, and "warnings" in
/// --json), and the run succeeds: a key of another switch case (an
/// exhibitor key with `master_discovery: static`, `exhibitor_zk_hosts` with
/// another backend) and a key accepted for DC/OS compatibility that tarmac
/// does not use (`platform`, `ssh_user`, ...) unless a template reads it.
/// --strict makes every warning an error (exit 3).
///
/// Writes OUTPUT (default GENCONF/serve), replaced as a whole: bootstrap/
/// (the bundle and its active list), packages/ (the bundle's packages and
/// the config packages with their <id>.json manifests), cluster-packages.json,
/// config.json (every resolved value with its source: user, default or
/// computed; secrets hidden), ip-detect, bin/ (host tools + SHA256SUMS) and
/// dcos_install.sh (bootstrap id, bundle blake3, package ids and tool sha256
/// pinned). The same inputs give the same config id and the same bytes.
///
/// stdout: the config package ids, one per line (--json: one document).
/// Exit codes: 0 ok; 1 runtime failure; 2 usage; 3 invalid configuration,
/// templates or inputs; 5 another cfg-gen is writing OUTPUT; 6 no space.
#[derive(Debug, Parser)]
#[command(name = "cfg-gen", version = tarmac_cli::VERSION)]
pub struct Args {
    /// The genconf directory (config.yaml, ip-detect, templates/). Relative
    /// file names in config.yaml are relative to its parent, as in DC/OS.
    #[arg(long, value_name = "DIR", default_value = "genconf")]
    pub genconf: PathBuf,

    /// pkg-bundle's output: DIST/bootstrap/<id>.bootstrap.tar.zst and
    /// <id>.active.json. Required unless --validate-only or --print-config.
    #[arg(long, value_name = "DIR")]
    pub dist: Option<PathBuf>,

    /// The package repository holding packages/<name>/<id>.tar.zst and
    /// <id>.json for every bundle package (default: DIST).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// The bundle to use when DIST/bootstrap holds several.
    #[arg(long, value_name = "ID")]
    pub bootstrap_id: Option<String>,

    /// Directory holding the host tools (host-extract, ip-detect-run,
    /// pkg-activate) to serve under bin/; default: cfg-gen's own directory.
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,

    /// Where to write the serve tree (default GENCONF/serve).
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// A previous serve directory (or its config.json): also write
    /// upgrade/<previous config id>/dcos_node_upgrade.sh, which moves hosts
    /// installed from it to this configuration, downloading only the
    /// packages they lack and switching in one atomic activation. Given a
    /// directory, also write a delta from each of its packages to the new
    /// version of the same name (packages/<name>/<id>.from-<old id>.delta
    /// and <id>.deltas.json), which hosts fetch instead of the archive.
    #[arg(long, value_name = "DIR")]
    pub upgrade_from: Option<std::path::PathBuf>,

    /// Only validate: report problems (or the config id), write nothing.
    #[arg(long, conflicts_with = "print_config")]
    pub validate_only: bool,

    /// Print the resolved configuration (config.json) on stdout, write nothing.
    #[arg(long)]
    pub print_config: bool,

    #[command(flatten)]
    pub reporting: tarmac_cli::OutputArgs,

    /// Treat warnings (keys DC/OS accepts but that have no effect) as
    /// errors: report them with the problems and exit 3.
    #[arg(long)]
    pub strict: bool,
}
