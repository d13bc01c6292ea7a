//! pkg-activate: makes a set of extracted packages the active view of a
//! host (see docs/pkg-activate.md). Thin glue over tarmac-activate.

mod args;

use std::process::ExitCode;

use clap::Parser;
use tarmac_activate::{Error, HostPaths, Options, PackageIds, Removed};
use tarmac_cli::emit;

use args::{Args, Command, Global};

fn main() -> ExitCode {
    let args = Args::parse();
    tarmac_cli::finish("pkg-activate", run(args))
}

fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn host_paths(global: &Global) -> HostPaths {
    HostPaths {
        root: absolute(&global.host.root),
        systemd_dir: Some(absolute(&global.systemd_dir)),
        state_dir_root: Some(absolute(&global.state_dir_root)),
        user_db_root: Some(absolute(&global.user_db_root)),
        config_dir: Some(absolute(&global.config_dir)),
    }
}

fn options(global: &Global, keep: usize) -> Options {
    Options {
        fold: !global.no_fold,
        systemctl: !global.no_systemd,
        wait: global.host.lock_wait(),
        keep,
        durable: true,
    }
}

fn run(args: Args) -> Result<(), Error> {
    let g = &args.global;
    let reporter = g.reporting.terminal_reporter("pkg-activate");
    let reporter = reporter.as_ref();
    let host = host_paths(g);
    let json = g.reporting.json;
    let roles = || tarmac_activate::roles_from_config_dir(&absolute(&g.config_dir));
    match args.command {
        Command::Activate { ids, keep } => emit(
            json,
            &tarmac_activate::activate(&host, &ids, &roles()?, &options(g, keep), reporter)?,
        ),
        Command::Swap { id, keep } => emit(
            json,
            &tarmac_activate::swap(&host, &id, &roles()?, &options(g, keep), reporter)?,
        ),
        Command::Rollback { to } => emit(
            json,
            &tarmac_activate::rollback(&host, to, &options(g, usize::MAX), reporter)?,
        ),
        Command::List => emit(
            json,
            &PackageIds::new(tarmac_activate::list(&host, &options(g, 0))?),
        ),
        Command::Active => emit(
            json,
            &PackageIds::new(tarmac_activate::active(&host, &options(g, 0))?),
        ),
        Command::Status => emit(json, &tarmac_activate::status(&host, &options(g, 0))?),
        Command::Verify => {
            let status = tarmac_activate::verify(&host, &options(g, 0))?;
            emit(json, &status);
            status.verdict()?;
        }
        Command::Recover => emit(json, &tarmac_activate::recover(&host, &options(g, 0))?),
        Command::Gc { keep } => emit(json, &tarmac_activate::gc(&host, keep, &options(g, keep))?),
        Command::Remove { ids } => emit(
            json,
            &Removed::new(tarmac_activate::remove(&host, &ids, &options(g, 0))?),
        ),
        Command::Uninstall { purge, tools_dir } => {
            let leftovers = tarmac_activate::InstallLeftovers {
                config_dir: absolute(&g.config_dir),
                tools_dir: absolute(&tools_dir),
            };
            emit(
                json,
                &tarmac_activate::uninstall(&host, &leftovers, purge, &options(g, 0))?,
            );
        }
        Command::Check { list, timeout } => {
            let timeout = std::time::Duration::from_secs_f64(timeout);
            let report = tarmac_activate::check(&host, !list, timeout, &options(g, 0))?;
            for line in report.warning_lines() {
                eprintln!("pkg-activate: warning: {line}");
            }
            emit(json, &report);
            for line in report.failure_lines() {
                eprintln!(
                    "{}{line}",
                    if line.starts_with(' ') {
                        ""
                    } else {
                        "pkg-activate: "
                    }
                );
            }
            report.verdict()?;
        }
    }
    Ok(())
}
