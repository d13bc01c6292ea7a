//! cfg-gen: validates genconf/ and writes the serve tree a cluster installs
//! from (see docs/cfg-gen.md).

mod args;

use std::process::ExitCode;

use clap::Parser;
use tarmac_config::{serve, GenOptions};

use args::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.reporting.json;
    let result = run(args);
    if let Err(error) = &result {
        if json {
            if let Some(report) = error.report() {
                tarmac_cli::print_json(&report);
            }
        }
        // One line per problem after the summary line `finish` prints.
        let lines = error.problem_lines();
        let warnings = error.warning_lines();
        let code = tarmac_cli::finish("cfg-gen", result);
        for line in lines {
            eprintln!("  {line}");
        }
        print_warnings(&warnings);
        return code;
    }
    tarmac_cli::finish("cfg-gen", result)
}

/// `cfg-gen: warning: genconf/config.yaml:7: key = value: reason`
fn print_warnings(lines: &[String]) {
    for line in lines {
        eprintln!("cfg-gen: warning: {line}");
    }
}

fn run(args: Args) -> Result<(), tarmac_config::Error> {
    let json = args.reporting.json;
    let bin_dir = args.bin_dir.or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|p| p.to_path_buf()))
    });
    let options = GenOptions {
        output: args.output.unwrap_or_else(|| args.genconf.join("serve")),
        genconf: args.genconf,
        dist: args.dist,
        bootstrap_id: args.bootstrap_id,
        bin_dir,
        upgrade_from: args.upgrade_from,
        strict: args.strict,
    };
    let bundle = match &options.dist {
        Some(dist) => Some(serve::find_bundle(dist, options.bootstrap_id.as_deref())?),
        None => None,
    };
    let bootstrap_id = bundle.as_ref().map(|b| b.id.as_str());
    if args.validate_only || args.print_config {
        let validated = tarmac_config::validate(&options, bootstrap_id)?;
        print_warnings(&validated.warning_lines());
        if args.print_config {
            tarmac_cli::print_json(&validated.config_document());
        } else if json {
            tarmac_cli::print_json(&validated.report());
        } else {
            eprintln!(
                "cfg-gen: {} is valid (config id {})",
                options.config_file().display(),
                validated.config_id
            );
        }
        return Ok(());
    }
    let Some(bundle) = bundle else {
        return Err(tarmac_config::Error::Input {
            path: "--dist".into(),
            reason: "the bundle directory is required to generate (or pass --validate-only)".into(),
        });
    };
    let repo = args
        .repo
        .or_else(|| options.dist.clone())
        .unwrap_or_default();
    let reporter = args.reporting.terminal_reporter("cfg-gen");
    let generated = serve::generate(&options, &repo, &bundle, reporter.as_ref())?;
    print_warnings(&generated.warning_lines);
    if json {
        tarmac_cli::print_json(&generated);
    } else {
        tarmac_cli::print_lines(&generated.cluster_packages);
    }
    Ok(())
}
