//! pkg-activate: makes a set of extracted packages the active view of a
//! host (see docs/pkg-activate.md). Thin glue over tarmac-activate.

mod args;

use std::process::ExitCode;

use clap::Parser;
use tarmac_activate::{Error, HostPaths, Options};
use tarmac_cli::{print_json, print_lines};

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
    let host = host_paths(g);
    let json = g.reporting.json;
    let roles = || tarmac_activate::roles_from_config_dir(&absolute(&g.config_dir));
    match args.command {
        Command::Activate { ids, keep } => {
            let done = tarmac_activate::activate(
                &host,
                &ids,
                &roles()?,
                &options(g, keep),
                reporter.as_ref(),
            )?;
            emit(json, &done, [done.generation]);
        }
        Command::Swap { id, keep } => {
            let done =
                tarmac_activate::swap(&host, &id, &roles()?, &options(g, keep), reporter.as_ref())?;
            emit(json, &done, [done.generation]);
        }
        Command::Rollback { to } => {
            let done =
                tarmac_activate::rollback(&host, to, &options(g, usize::MAX), reporter.as_ref())?;
            emit(json, &done, [done.generation]);
        }
        Command::List => {
            let ids = tarmac_activate::list(&host, &options(g, 0))?;
            emit(json, &tarmac_activate::PackageIds::new(ids.clone()), &ids);
        }
        Command::Active => {
            let ids = tarmac_activate::active(&host, &options(g, 0))?;
            emit(json, &tarmac_activate::PackageIds::new(ids.clone()), &ids);
        }
        Command::Status => {
            let status = tarmac_activate::status(&host, &options(g, 0))?;
            emit(json, &status, status_lines(&status));
        }
        Command::Verify => {
            let status = tarmac_activate::verify(&host, &options(g, 0))?;
            emit(json, &status, status_lines(&status));
            status.verdict()?;
        }
        Command::Recover => {
            let done = tarmac_activate::recover(&host, &options(g, 0))?;
            let lines = done
                .removed
                .iter()
                .map(|p| format!("removed {}", p.display()));
            let lines = lines.chain(done.units.copied.iter().map(|u| format!("unit copied {u}")));
            let lines = lines.chain(
                done.units
                    .removed
                    .iter()
                    .map(|u| format!("unit removed {u}")),
            );
            emit(json, &done, lines.collect::<Vec<_>>());
        }
        Command::Gc { keep } => {
            let done = tarmac_activate::gc(&host, keep, &options(g, keep))?;
            let lines = done.generations.iter().map(|n| format!("generation {n}"));
            let lines = lines.chain(done.packages.iter().map(|p| format!("package {p}")));
            emit(json, &done, lines.collect::<Vec<_>>());
        }
        Command::Remove { ids } => {
            let removed = tarmac_activate::remove(&host, &ids, &options(g, 0))?;
            emit(
                json,
                &tarmac_activate::Removed::new(removed.clone()),
                &removed,
            );
        }
        Command::Uninstall { purge, tools_dir } => {
            let leftovers = tarmac_activate::InstallLeftovers {
                config_dir: absolute(&g.config_dir),
                tools_dir: absolute(&tools_dir),
            };
            let done = tarmac_activate::uninstall(&host, &leftovers, purge, &options(g, 0))?;
            let removed = done
                .removed
                .iter()
                .map(|p| format!("removed {}", p.display()));
            let left = done.left.iter().map(|p| format!("left {}", p.display()));
            emit(json, &done, removed.chain(left).collect::<Vec<_>>());
        }
        Command::Check { list, timeout } => {
            let timeout = std::time::Duration::from_secs_f64(timeout);
            let report = tarmac_activate::check(&host, !list, timeout, &options(g, 0))?;
            for path in &report.not_executable {
                eprintln!(
                    "pkg-activate: warning: {}: not executable, skipped",
                    path.display()
                );
            }
            let lines = report
                .checks
                .iter()
                .map(|c| format!("{} {}", c.package, c.check));
            emit(json, &report, lines.collect::<Vec<_>>());
            let failed = report.failed();
            for check in &failed {
                let why = match (check.timed_out, check.exit) {
                    (true, _) => "timed out".to_string(),
                    (false, Some(code)) => format!("exit {code}"),
                    (false, None) => "killed by a signal".to_string(),
                };
                eprintln!(
                    "pkg-activate: check {} {} failed ({why}, {:.3} s)",
                    check.package, check.check, check.seconds
                );
                for line in &check.output {
                    eprintln!("  {line}");
                }
            }
            report.verdict()?;
        }
    }
    Ok(())
}

fn emit<T, I, L>(json: bool, value: &T, lines: I)
where
    T: serde::Serialize,
    I: IntoIterator<Item = L>,
    L: std::fmt::Display,
{
    if json {
        print_json(value);
    } else {
        print_lines(lines);
    }
}

fn status_lines(status: &tarmac_activate::Status) -> Vec<String> {
    let mut lines = vec![match status.current {
        Some(n) => format!("generation {n}"),
        None => "generation none".to_string(),
    }];
    lines.extend(status.packages.iter().map(|p| format!("package {p}")));
    lines.extend(status.roles.iter().map(|r| format!("role {r}")));
    lines.push(format!("cluster-set {}", status.cluster_set));
    lines.extend(
        status
            .overrides
            .iter()
            .flatten()
            .map(|id| format!("override {id}")),
    );
    lines.push(format!("healthy {}", status.healthy));
    lines.extend(status.problems.iter().map(|p| format!("problem {p}")));
    let services = &status.services;
    lines.push(format!("services {}", services.verdict));
    lines.extend(services.units.iter().map(|u| {
        format!(
            "unit {} {}/{} since {}",
            u.unit, u.active_state, u.sub_state, u.since
        )
    }));
    lines.extend(services.error.iter().map(|e| format!("services-error {e}")));
    lines
}
