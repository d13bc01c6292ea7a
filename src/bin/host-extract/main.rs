//! host-extract: gets the bootstrap bundle or single packages onto a host,
//! verified, under ROOT/packages/<id>/ (see docs/host-extract.md).

mod args;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tarmac_fetch::host::{self, BundleRequest, FileRequest, HostPaths, PackagesRequest, Settings};
use tarmac_fetch::{FetchOptions, Source, TrustStore};

use args::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    tarmac_cli::finish("host-extract", run(&args))
}

fn run(args: &Args) -> Result<(), tarmac_fetch::Error> {
    // Before any download: a bad --cacert fails here, naming the file. The
    // system store is read only when something may be fetched over HTTP(S).
    let http = (args.url.iter().chain(&args.repository))
        .any(|u| matches!(Source::parse(u), Source::Http(_)));
    let trust = if http || args.cacert.is_some() {
        TrustStore::load(args.cacert.as_deref())
    } else {
        Ok(TrustStore::default())
    };
    let trust = trust?;
    for note in trust.notes() {
        eprintln!("host-extract: warning: {note}");
    }
    let settings = Settings {
        host: HostPaths::new(&args.host.root),
        fetch: FetchOptions {
            connect_timeout: Duration::from_secs_f64(args.connect_timeout),
            stall_timeout: Duration::from_secs_f64(args.stall_timeout),
            retries: args.retries,
            backoff_base: Duration::from_millis(args.backoff_ms),
            backoff_max: Duration::from_millis(args.backoff_max_ms),
            total_timeout: Duration::from_secs_f64(args.total_timeout),
            speed_limit: args.speed_limit,
            speed_time: Duration::from_secs_f64(args.speed_time),
            max_requests: args.max_requests,
            trust,
        },
        wait: args.host.lock_wait(),
        reserve_bytes: args.reserve_bytes,
        reserve_inodes: args.reserve_inodes,
        delta: !args.no_delta,
        max_delta_window: args.max_delta_window.saturating_mul(1 << 20),
    };
    let reporter = args.reporting.reporter("host-extract");
    let result = if let Some(archive) = &args.package_file {
        let request = FileRequest {
            archive: archive.clone(),
            manifest: args.manifest.clone(),
        };
        host::extract_file(&settings, &request, reporter.as_ref())
    } else if let Some(blake3) = args.blake3.clone().filter(|_| !args.url.is_empty()) {
        let request = BundleRequest {
            mirrors: args.url.iter().map(|u| Source::parse(u)).collect(),
            blake3,
        };
        host::extract_bundle(&settings, &request, reporter.as_ref())
    } else {
        let request = PackagesRequest {
            repositories: args.repository.iter().map(|u| Source::parse(u)).collect(),
            ids: args.package.clone(),
            pins: args.pin.iter().cloned().collect(),
        };
        host::extract_packages(&settings, &request, reporter.as_ref())
    };
    let outcome = result?;
    if args.reporting.json {
        tarmac_cli::print_json(&outcome);
    } else {
        tarmac_cli::print_lines(&outcome.packages);
    }
    Ok(())
}
