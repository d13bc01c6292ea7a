//! pkg-build: plans and builds packages of a package tree (see
//! docs/pkg-build.md).

mod args;

use std::process::ExitCode;

use clap::Parser;
use serde::Serialize;
use tarmac_build::{PackageKey, PackageTree, Selection};
use tarmac_cli::{ExitClass, ToolError};

use args::Args;

#[derive(Debug)]
struct Failure(tarmac_build::Error);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl ToolError for Failure {
    fn class(&self) -> ExitClass {
        self.0.class()
    }
    fn hints(&self) -> Vec<String> {
        self.0.hints()
    }
}

/// One line of `--plan --json`.
#[derive(Serialize)]
struct Planned {
    id: String,
    name: String,
    variant: Option<String>,
    requires: Vec<String>,
    cached: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tarmac_cli::finish("pkg-build", run(args).map_err(Failure))
}

fn run(args: Args) -> Result<(), tarmac_build::Error> {
    let tree = PackageTree::load(&args.packages_dir)?;
    let selection = match &args.tree {
        Some(variant) if variant.is_empty() => Selection::Trees(Vec::new()),
        Some(variant) => Selection::Trees(vec![Some(variant.clone())]),
        None if args.packages.is_empty() => Selection::Trees(Vec::new()),
        None => Selection::Packages(args.packages.iter().map(|p| PackageKey::parse(p)).collect()),
    };
    let roots = tarmac_build::roots(&tree, &selection)?;
    let plan = tarmac_build::plan(&tree, &roots)?;
    if args.plan {
        let planned: Vec<Planned> = plan
            .packages
            .iter()
            .map(|p| Planned {
                id: p.id.to_string(),
                name: p.key.name.clone(),
                variant: p.key.variant.clone(),
                requires: p.closure.iter().map(ToString::to_string).collect(),
                cached: tarmac_build::manifest_path(&args.repo, &p.id).is_file()
                    && tarmac_build::archive_path(&args.repo, &p.id).is_file(),
            })
            .collect();
        if args.json {
            tarmac_cli::print_json(&serde_json::json!({"format": 1, "packages": planned}));
        } else {
            tarmac_cli::print_lines(planned.iter().map(|p| &p.id));
        }
        return Ok(());
    }
    Ok(())
}
