//! pkg-bundle: one reproducible bootstrap bundle from built packages (see
//! docs/pkg-bundle.md).

mod args;

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use tarmac_bundle::BundleOptions;
use tarmac_cli::{ExitClass, ToolError};
use tarmac_model::PackageId;

use args::Args;

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Bundle(Box<tarmac_bundle::Error>),
    #[error(transparent)]
    Tree(Box<tarmac_builder::Error>),
    #[error("{source_name}: {reason}")]
    Input { source_name: String, reason: String },
}

impl From<tarmac_bundle::Error> for Failure {
    fn from(e: tarmac_bundle::Error) -> Self {
        Failure::Bundle(Box::new(e))
    }
}

impl From<tarmac_builder::Error> for Failure {
    fn from(e: tarmac_builder::Error) -> Self {
        Failure::Tree(Box::new(e))
    }
}

impl ToolError for Failure {
    fn class(&self) -> ExitClass {
        match self {
            Failure::Bundle(e) => e.class(),
            Failure::Tree(e) => e.class(),
            Failure::Input { .. } => ExitClass::Invalid,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    tarmac_cli::finish("pkg-bundle", run(args))
}

fn run(args: Args) -> Result<(), Failure> {
    let ids = ids(&args)?;
    let options = BundleOptions {
        out: args.out.clone().unwrap_or_else(|| args.repo.clone()),
        repo: args.repo.clone(),
        level: args.level,
        threads: args.threads,
        source_date_epoch: tarmac_cli::source_date_epoch(args.source_date_epoch),
    };
    let reporter = tarmac_cli::reporter("pkg-bundle", args.quiet, args.json);
    let bundled = tarmac_bundle::bundle(&ids, &options, reporter.as_ref())?;
    if args.json {
        tarmac_cli::print_json(&bundled);
    } else {
        tarmac_cli::print_lines([&bundled.bootstrap_id, &bundled.blake3]);
    }
    Ok(())
}

/// The ids to bundle, from the arguments, --ids-from and --tree together.
fn ids(args: &Args) -> Result<Vec<PackageId>, Failure> {
    let mut texts: Vec<(String, String)> = args
        .ids
        .iter()
        .map(|i| ("argument".to_string(), i.clone()))
        .collect();
    if let Some(file) = &args.ids_from {
        let mut text = String::new();
        let name = file.display().to_string();
        let read = if name == "-" {
            std::io::stdin().read_to_string(&mut text).map(|_| ())
        } else {
            std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
        };
        read.map_err(|e| Failure::Input {
            source_name: name.clone(),
            reason: e.to_string(),
        })?;
        texts.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| (name.clone(), l.to_string())),
        );
    }
    let mut ids = Vec::new();
    for (source_name, text) in texts {
        ids.push(PackageId::parse(&text).map_err(|e| Failure::Input {
            source_name,
            reason: e.to_string(),
        })?);
    }
    if let Some(variant) = &args.tree {
        let tree = tarmac_builder::PackageTree::load(&args.packages_dir)?;
        let variant = (!variant.is_empty()).then_some(variant.as_str());
        let set = tree.tree_set(variant)?;
        let plan = tarmac_builder::plan(&tree, &set.bootstrap)?;
        ids.extend(plan.packages.into_iter().map(|p| p.id));
    }
    Ok(ids)
}
