//! pkg-build: plans and builds packages of a package tree (see
//! docs/pkg-build.md).

mod args;

use std::process::ExitCode;

use clap::Parser;
use tarmac_builder::{BuildOptions, PackageKey, PackageTree, SandboxMode, Selection, SourceCache};

use args::{Args, SandboxArg};

fn main() -> ExitCode {
    let args = Args::parse();
    tarmac_cli::finish("pkg-build", run(args))
}

fn run(args: Args) -> Result<(), tarmac_builder::Error> {
    let tree = PackageTree::load(&args.dirs.packages_dir)?;
    let selection = match &args.tree {
        Some(variant) if variant.is_empty() => Selection::Trees(Vec::new()),
        Some(variant) => Selection::Trees(vec![Some(variant.clone())]),
        None if args.packages.is_empty() => Selection::Trees(Vec::new()),
        None => Selection::Packages(args.packages.iter().map(|p| PackageKey::parse(p)).collect()),
    };
    let roots = tarmac_builder::roots(&tree, &selection)?;
    let plan = tarmac_builder::plan(&tree, &roots)?;
    if args.plan {
        let report = plan.report(&args.dirs.repo);
        if args.reporting.json {
            tarmac_cli::print_json(&report);
        } else {
            tarmac_cli::print_lines(report.packages.iter().map(|p| &p.id));
        }
        return Ok(());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut options = BuildOptions {
        repo: args.dirs.repo.clone(),
        cache: SourceCache {
            dir: args.cache.clone(),
        },
        work: args.cache.join("work"),
        jobs: args.jobs.unwrap_or(cores).max(1),
        sandbox: match args.sandbox {
            SandboxArg::Auto => SandboxMode::Auto,
            SandboxArg::Namespace => SandboxMode::Namespace,
            SandboxArg::None => SandboxMode::None,
        },
        source_date_epoch: args.epoch.resolve(),
        level: args.level,
        cache_url: args.cache_url.clone(),
        num_cores: cores,
    };
    if !plan
        .packages
        .iter()
        .all(|p| tarmac_builder::is_cached(&options.repo, &p.id))
    {
        let (mode, warning) = tarmac_builder::resolve_sandbox(&options)?;
        if let Some(warning) = warning {
            eprintln!("pkg-build: {warning}");
        }
        options.sandbox = mode;
    }
    let reporter = args.reporting.reporter("pkg-build");
    let built = tarmac_builder::build(&plan, &options, reporter.as_ref())?;
    if args.reporting.json {
        tarmac_cli::print_json(&tarmac_builder::BuildReport::new(built));
    } else {
        tarmac_cli::print_lines(built.iter().map(|b| &b.id));
    }
    Ok(())
}
