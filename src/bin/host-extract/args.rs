//! Command line of host-extract.

use std::path::PathBuf;

use clap::{ArgGroup, Parser};
use tarmac_model::PackageId;

/// Download, verify and extract a bootstrap bundle or single packages into
/// ROOT/packages/<id>/.
///
/// Bundle mode (`--url ... --blake3 HEX`) streams the bundle once: the bytes
/// are hashed while they are extracted into ROOT/packages/.staging/, and
/// packages are renamed into place only after the whole stream matched the
/// pinned blake3 and every package its tree hash from bundle.json.
/// Package mode (`--repository URL --package ID...`) fetches
/// packages/<name>/<id>.json and packages/<name>/<id>.tar.zst for each id
/// not already present. Packages already present are verified by their tree
/// hash and never downloaded again; a second run is a no-op.
/// Package file mode (`--package-file PKG.tar.zst [--manifest ID.json]`)
/// adds one package built elsewhere (an emergency change, see
/// docs/emergency.md) from local files, with the same checks: the id and
/// tree hash come from the manifest (default: the `<id>.json` sidecar
/// beside the archive), the archive is extracted into staging by the same
/// strict extractor and published only when it matches; a package already
/// present is verified against the manifest, never replaced.
///
/// Several --url (or --repository) values are mirrors: tried in order, then
/// round-robin. Failed attempts are retried with exponential backoff and
/// full jitter, interrupted downloads resume with Range. A mirror that
/// served content failing its checks (blake3, tree hash, a corrupt archive,
/// a manifest that does not parse) is not asked again in this run: the
/// next mirror is tried at once. A body that ended early is downloaded
/// again. A mirror answering 429/503 with Retry-After is not asked sooner.
///
/// stdout: the ids now present, one per line (or one JSON document with
/// --json). stderr: progress and errors.
///
/// HTTPS: servers are verified against the system trust store plus
/// --cacert FILE (see --cacert).
///
/// Exit codes: 0 ok; 1 runtime failure (e.g. TLS verification); 2 usage;
/// 3 invalid input (a bad --cacert file, archive
/// policy, bad manifest, HTTP 404/410 or a missing file: the URL or id names
/// nothing); 4 integrity (every mirror served bad content, no mirror
/// serves the --pin tree hash, or a present package was modified); 5 the host lock is held (see --wait); 6 not
/// enough space or inodes (checked before writing); 75 transient: network
/// failure after all retries, --max-requests spent, --total-timeout
/// reached or a Retry-After beyond it, content changing on every mirror
/// (safe to run again).
#[derive(Debug, Parser)]
#[command(name = "host-extract", version = tarmac_cli::VERSION)]
#[command(group(
    ArgGroup::new("source")
        .required(true)
        .args(["url", "repository", "package_file"])
))]
pub struct Args {
    /// Bundle URL (http, https, file:// or a path); repeat for mirrors.
    #[arg(
        long,
        value_name = "URL",
        requires = "blake3",
        conflicts_with = "package"
    )]
    pub url: Vec<String>,

    /// The pinned blake3 (64 hex digits) of the bundle file.
    #[arg(long, value_name = "HEX", value_parser = parse_blake3, conflicts_with = "package_file")]
    pub blake3: Option<String>,

    /// Repository root URL for package mode; repeat for mirrors.
    #[arg(long, value_name = "URL", requires = "package")]
    pub repository: Vec<String>,

    /// Package ids to make present (package mode).
    #[arg(long, value_name = "ID", num_args = 1.., requires = "repository")]
    pub package: Vec<PackageId>,

    /// Package file mode: a package archive built by pkg-build (on any
    /// machine), added from this local file. A corrupt archive is exit 3,
    /// one that does not match its manifest exit 4; nothing is published
    /// then.
    #[arg(long, value_name = "PKG.tar.zst")]
    pub package_file: Option<PathBuf>,

    /// The manifest of --package-file (default: the sidecar `<id>.json`
    /// beside it, which pkg-build writes next to `<id>.tar.zst`). Missing
    /// or unreadable: exit 3, naming the file.
    #[arg(
        long,
        value_name = "ID.json",
        requires = "package_file",
        conflicts_with_all = ["url", "repository"]
    )]
    pub manifest: Option<PathBuf>,

    /// Package mode: never fetch a delta (`<id>.from-<old id>.delta`), always
    /// the whole archive. By default a package whose older version is on
    /// the host and verified comes as a delta when the repository offers
    /// one; any failure of that path falls back to the archive.
    #[arg(long)]
    pub no_delta: bool,

    /// Largest zstd window (MiB) a delta may declare; a delta above it is
    /// not decoded and the archive is fetched instead.
    #[arg(long, value_name = "MiB", default_value_t = 2048)]
    pub max_delta_window: u64,

    #[command(flatten)]
    pub host: tarmac_cli::HostRootArgs,

    /// Consecutive failed attempts (without progress) tolerated before
    /// giving up (exit 75).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub retries: u32,

    /// First backoff ceiling in milliseconds (doubles per failure, full jitter).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub backoff_ms: u64,

    /// Largest backoff ceiling in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub backoff_max_ms: u64,

    /// Seconds without a byte before an attempt counts as stalled.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_seconds)]
    pub stall_timeout: f64,

    /// TCP connect timeout in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_seconds)]
    pub connect_timeout: f64,

    /// Bound on the whole run (every download, retries and waits
    /// included), in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600.0, value_parser = parse_seconds)]
    pub total_timeout: f64,

    // Mirror politeness and health (issue 12).
    /// Low-speed limit: an attempt delivering fewer bytes per second than
    /// this over --speed-time is abandoned for the next mirror (resumed
    /// there with Range). 0 disables it.
    #[arg(long, value_name = "BYTES_PER_SEC", default_value_t = 64 * 1024)]
    pub speed_limit: u64,

    /// The window of --speed-limit, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 20.0, value_parser = parse_seconds)]
    pub speed_time: f64,

    /// Requests the run may send over all mirrors and files; when spent,
    /// exit 75.
    #[arg(long, value_name = "N", default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_requests: u32,

    /// Free bytes that must remain after extraction (space preflight).
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    pub reserve_bytes: u64,

    /// Free inodes that must remain after extraction (space preflight).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub reserve_inodes: u64,

    #[command(flatten)]
    pub reporting: tarmac_cli::OutputArgs,

    /// PEM file of CA certificates to trust for HTTPS besides the system
    /// trust store (a private CA). HTTPS is verified against the system
    /// store (SSL_CERT_FILE / SSL_CERT_DIR, else the distribution's bundle,
    /// e.g. /etc/ssl/certs/ca-certificates.crt); when that store is empty or
    /// unreadable, against the Mozilla roots built into this binary (said on
    /// stderr). A FILE that cannot be read or holds no certificate fails
    /// with exit 3 before any download; a server whose certificate does not
    /// verify is not retried.
    #[arg(
        long,
        value_name = "FILE",
        env = "TARMAC_CACERT",
        hide_env_values = true
    )]
    pub cacert: Option<PathBuf>,

    /// Package mode: the tree hash the manifest of package ID must declare,
    /// whichever mirror serves it (else that download counts as bad content
    /// and the next mirror is tried; exit 4 when none serves the pinned
    /// package). Also checked against a present package's local manifest.
    /// Repeat for each package.
    #[arg(long, value_name = "ID=TREEHASH", value_parser = parse_pin, requires = "package")]
    pub pin: Vec<(PackageId, String)>,
}

fn parse_pin(text: &str) -> Result<(PackageId, String), String> {
    let (id, hash) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not ID=TREEHASH"))?;
    let id = PackageId::parse(id).map_err(|e| format!("{text:?}: {e}"))?;
    if hash.is_empty()
        || !hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!("{text:?}: the tree hash is not lowercase hex"));
    }
    Ok((id, hash.to_string()))
}

fn parse_blake3(text: &str) -> Result<String, String> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!("{text:?} is not 64 hex digits"))
    }
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}
