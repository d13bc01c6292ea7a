//! `pkg-activate check`: runs the executables in the active packages'
//! `check/` directories (pkgpanda's `check` command) the way a fleet needs
//! them run.
//!
//! - The host lock is held only to read which generation is current; the
//!   checks run without it. A hung check must never block host-extract or
//!   an activation (an operator's fix for the very problem the check found).
//! - Each check runs in its own process group with a timeout; on timeout the
//!   whole group is killed, so a check that forked a daemon leaves nothing.
//! - Output (stdout and stderr, interleaved) is kept, its last lines go into
//!   the report, so a failed check explains itself in `--json` and on stderr.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tarmac_model::PackageId;

use crate::error::Result;
use crate::generation::GenerationRecord;
use crate::paths::HostPaths;
use crate::switch::{lock_and_recover, Options};

/// Lines of output kept per check.
const TAIL_LINES: usize = 20;
/// Bytes of output kept per check (the tail).
const TAIL_BYTES: usize = 16 * 1024;

/// One check script and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub package: PackageId,
    pub check: String,
    pub path: PathBuf,
    /// None when only listed; Some(true) when it exited 0 in time.
    pub passed: Option<bool>,
    /// Its exit code; null when listed, killed (timeout) or ended by a signal.
    pub exit: Option<i32>,
    /// Wall time it ran, in seconds (0 when listed).
    pub seconds: f64,
    /// It ran past the timeout and its process group was killed.
    pub timed_out: bool,
    /// The last lines of its stdout and stderr, interleaved.
    pub output: Vec<String>,
}

/// `pkg-activate check [--list]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub format: u32,
    pub checks: Vec<CheckOutcome>,
    /// Files in a `check/` dir that are not executable (skipped, as pkgpanda).
    pub not_executable: Vec<PathBuf>,
}

impl tarmac_model::TextLines for CheckReport {
    /// `<package> <check>` for each check, run or listed.
    fn text_lines(&self) -> Vec<String> {
        self.checks
            .iter()
            .map(|c| format!("{} {}", c.package, c.check))
            .collect()
    }
}

impl CheckReport {
    /// For stderr: each file skipped because it is not executable.
    pub fn warning_lines(&self) -> Vec<String> {
        self.not_executable
            .iter()
            .map(|path| format!("{}: not executable, skipped", path.display()))
            .collect()
    }

    /// For stderr: each failed check, why, and the last lines of its output
    /// (indented).
    pub fn failure_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for check in self.failed() {
            let why = match (check.timed_out, check.exit) {
                (true, _) => "timed out".to_string(),
                (false, Some(code)) => format!("exit {code}"),
                (false, None) => "killed by a signal".to_string(),
            };
            lines.push(format!(
                "check {} {} failed ({why}, {:.3} s)",
                check.package, check.check, check.seconds
            ));
            lines.extend(check.output.iter().map(|line| format!("  {line}")));
        }
        lines
    }

    pub fn failed(&self) -> Vec<&CheckOutcome> {
        self.checks
            .iter()
            .filter(|c| c.passed == Some(false))
            .collect()
    }

    /// The run's verdict: any failed check is an error naming them all.
    pub fn verdict(&self) -> Result<()> {
        let failed = self.failed();
        if failed.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = failed
            .iter()
            .map(|c| c.path.display().to_string())
            .collect();
        Err(crate::Error::ChecksFailed {
            count: failed.len(),
            names: names.join(", "),
        })
    }
}

/// Runs (with `run`; else lists) every executable in the active packages'
/// `check/` dirs, in package then file name order, each bounded by
/// `timeout`.
pub fn check(
    host: &HostPaths,
    run: bool,
    timeout: Duration,
    options: &Options,
) -> Result<CheckReport> {
    let mut report = CheckReport {
        format: 1,
        ..CheckReport::default()
    };
    let record = {
        let (_lock, recovered) = lock_and_recover(host, options)?;
        let Some(n) = recovered.current else {
            return Ok(report);
        };
        GenerationRecord::read(&host.generation(n))?
        // The lock goes here: the checks run without it.
    };
    for id in record.packages {
        let dir = host.package(&id.to_string()).join("check");
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = read
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let executable = std::fs::metadata(&path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
            if !executable {
                report.not_executable.push(path);
                continue;
            }
            let mut outcome = CheckOutcome {
                package: id.clone(),
                check: name,
                path,
                passed: None,
                exit: None,
                seconds: 0.0,
                timed_out: false,
                output: Vec::new(),
            };
            if run {
                run_one(&mut outcome, timeout);
            }
            report.checks.push(outcome);
        }
    }
    Ok(report)
}

/// Runs one check in its own process group, stdout and stderr into one
/// pipe, killing the group after `timeout`.
fn run_one(outcome: &mut CheckOutcome, timeout: Duration) {
    let started = Instant::now();
    let fail = |outcome: &mut CheckOutcome, message: String| {
        outcome.passed = Some(false);
        outcome.output = vec![message];
    };
    let (reader, writer) = match std::io::pipe() {
        Ok(pair) => pair,
        Err(e) => return fail(outcome, format!("pipe: {e}")),
    };
    let writer_err = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return fail(outcome, format!("pipe: {e}")),
    };
    let spawned = Command::new(&outcome.path)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_err)
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => return fail(outcome, format!("{}: {e}", outcome.path.display())),
    };
    // The write ends live in the child (and its descendants) only now.
    let tail = Arc::new(Mutex::new(Vec::<u8>::new()));
    let (done_tx, done_rx) = mpsc::channel();
    {
        let tail = Arc::clone(&tail);
        let mut reader = reader;
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut kept = tail.lock().unwrap_or_else(|e| e.into_inner());
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * TAIL_BYTES {
                    let cut = kept.len() - TAIL_BYTES;
                    kept.drain(..cut);
                }
            }
            let _ = done_tx.send(());
        });
    }
    let deadline = started + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    // Whatever is left in its group goes: on timeout the check itself, and
    // in every case what it forked and left behind.
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let status = match status {
        Some(status) => Some(status),
        None => {
            outcome.timed_out = true;
            let _ = child.wait();
            None
        }
    };
    // Output written before the end; a descendant that left the group
    // could hold the pipe open: wait a little, then take what arrived.
    let _ = done_rx.recv_timeout(Duration::from_secs(1));
    outcome.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    outcome.exit = status.and_then(|s| s.code());
    outcome.passed = Some(status.is_some_and(|s| s.success()));
    let kept = tail.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let text = String::from_utf8_lossy(&kept);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(TAIL_LINES);
    outcome.output = lines[from..].iter().map(|l| l.to_string()).collect();
    if outcome.timed_out {
        outcome.output.push(format!(
            "killed after the timeout of {} s",
            timeout.as_secs_f64()
        ));
    }
}
