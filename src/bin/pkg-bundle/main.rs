//! pkg-bundle: one reproducible bootstrap bundle from built packages (see
//! docs/pkg-bundle.md).

mod args;

use std::process::ExitCode;

use clap::Parser;
use tarmac_bundle::{BundleOptions, IdSources};

use args::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    tarmac_cli::finish("pkg-bundle", run(args))
}

fn run(args: Args) -> Result<(), tarmac_bundle::Error> {
    let ids = tarmac_bundle::collect_ids(&IdSources {
        ids: args.ids.clone(),
        ids_from: args.ids_from.clone(),
        tree: args
            .tree
            .clone()
            .map(|v| (args.dirs.packages_dir.clone(), v)),
    })?;
    let options = BundleOptions {
        out: args.out.clone().unwrap_or_else(|| args.dirs.repo.clone()),
        repo: args.dirs.repo.clone(),
        level: args.level,
        threads: args.threads,
        source_date_epoch: args.epoch.resolve(),
    };
    let reporter = args.reporting.reporter("pkg-bundle");
    let bundled = tarmac_bundle::bundle(&ids, &options, reporter.as_ref())?;
    if args.reporting.json {
        tarmac_cli::print_json(&bundled);
    } else {
        tarmac_cli::print_lines([&bundled.bootstrap_id, &bundled.blake3]);
    }
    Ok(())
}
