//! Running the script: own process group, stdin from /dev/null, stderr
//! passed through, stdout captured, a deadline for the whole group.
//!
//! Invariant: when `run` returns, no process of the script's group is left
//! alive. Once the script itself exits, whatever it left behind in its group
//! is killed, so a background child holding stdout open cannot keep the
//! caller waiting (DC/OS's check_output would wait for it forever).

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::Error;

/// How often the exit of the script is polled.
const POLL: Duration = Duration::from_millis(10);

/// A process the script left running in its process group after it
/// exited, killed by [`run`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Leftover {
    pub pid: i32,
    /// The process's command name (`/proc/<pid>/comm`).
    pub command: String,
}

/// Runs `script` and returns its stdout; a non-zero exit is an error.
/// `leftovers` is called (before the result is known) with the processes
/// the script left in its group once it exited, which were then killed.
pub fn run(
    script: &Path,
    timeout: Duration,
    leftovers: &mut dyn FnMut(&[Leftover]),
) -> Result<Vec<u8>, Error> {
    let deadline = Instant::now() + timeout;
    let mut child = spawn(script).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => Error::ScriptMissing {
            script: script.to_path_buf(),
        },
        io::ErrorKind::PermissionDenied => Error::NotExecutable {
            script: script.to_path_buf(),
        },
        _ => Error::Spawn {
            script: script.to_path_buf(),
            source,
        },
    })?;
    let pid = Pid::from_raw(child.id() as i32);
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut buffer = Vec::new();
        let result = stdout.read_to_end(&mut buffer).map(|_| buffer);
        let _ = sender.send(result);
    });

    let exited = wait_until(pid, deadline);
    // Who is still in the group besides the (unreaped) script: listed
    // before the kill so the caller can say what was killed.
    let left = if exited {
        group_members(pid)
    } else {
        Vec::new()
    };
    // The group id is the script's pid, which stays reserved until it is
    // reaped below, so this cannot hit an unrelated group.
    let _ = killpg(pid, Signal::SIGKILL);
    if !left.is_empty() {
        leftovers(&left);
    }
    let status = reap(&mut child, script)?;
    if !exited {
        return Err(timeout_error(script, timeout));
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    let output = match receiver.recv_timeout(remaining) {
        Ok(result) => result.map_err(|source| Error::Spawn {
            script: script.to_path_buf(),
            source,
        })?,
        // Something outside the group (setsid) still holds stdout.
        Err(_) => return Err(timeout_error(script, timeout)),
    };
    if !status.success() {
        return Err(Error::ScriptFailed {
            script: script.to_path_buf(),
            status: status.to_string(),
        });
    }
    Ok(output)
}

/// The live processes of process group `group` other than its leader,
/// from /proc (zombies are already dead and are skipped).
fn group_members(group: Pid) -> Vec<Leftover> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut members = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == group.as_raw() {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let mut fields = stat[close + 1..].split_whitespace();
        let (Some(state), Some(_ppid), Some(pgrp)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if pgrp.parse::<i32>().ok() == Some(group.as_raw()) && state != "Z" && state != "X" {
            members.push(Leftover {
                pid,
                command: stat[open + 1..close].to_string(),
            });
        }
    }
    members.sort_by_key(|m| m.pid);
    members
}

/// Starts the script. ETXTBSY (the script was just written and a forked
/// process still holds it open for writing) is retried briefly.
fn spawn(script: &Path) -> io::Result<Child> {
    let mut attempts = 0;
    loop {
        let result = Command::new(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn();
        match result {
            Err(e) if e.raw_os_error() == Some(nix::libc::ETXTBSY) && attempts < 20 => {
                attempts += 1;
                thread::sleep(POLL);
            }
            other => return other,
        }
    }
}

/// Waits for the script to exit without reaping it; false on timeout.
fn wait_until(pid: Pid, deadline: Instant) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) => {}
            // Exited (or already gone): either way nothing more to wait for.
            Ok(_) | Err(_) => return true,
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}

fn reap(child: &mut Child, script: &Path) -> Result<std::process::ExitStatus, Error> {
    child.wait().map_err(|source| Error::Spawn {
        script: script.to_path_buf(),
        source,
    })
}

fn timeout_error(script: &Path, timeout: Duration) -> Error {
    Error::Timeout {
        script: script.to_path_buf(),
        seconds: timeout.as_secs().max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, body: &str) -> std::path::PathBuf {
        let path = dir.join("detect");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn captures_stdout() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "echo 10.1.2.3");
        assert_eq!(
            run(&path, Duration::from_secs(10), &mut |_| {}).unwrap(),
            b"10.1.2.3\n"
        );
    }

    #[test]
    fn stdin_is_dev_null() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "cat; echo done");
        assert_eq!(
            run(&path, Duration::from_secs(10), &mut |_| {}).unwrap(),
            b"done\n"
        );
    }

    #[test]
    fn background_child_holding_stdout_does_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "sleep 30 &\necho 10.1.2.3");
        let started = Instant::now();
        assert_eq!(
            run(&path, Duration::from_secs(20), &mut |_| {}).unwrap(),
            b"10.1.2.3\n"
        );
        assert!(started.elapsed() < Duration::from_secs(15));
    }

    #[test]
    fn leftovers_are_listed_then_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let path = script(
            dir.path(),
            &format!("sleep 30 &\necho $! > {}\necho 10.1.2.3", pidfile.display()),
        );
        let mut seen = Vec::new();
        let out = run(&path, Duration::from_secs(20), &mut |left| {
            seen.extend_from_slice(left)
        });
        assert_eq!(out.unwrap(), b"10.1.2.3\n");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(
            seen,
            [Leftover {
                pid,
                command: "sleep".into()
            }]
        );
        let mut seen = Vec::new();
        let path = script(dir.path(), "echo 10.1.2.3");
        run(&path, Duration::from_secs(20), &mut |left| {
            seen.extend_from_slice(left)
        })
        .unwrap();
        assert!(seen.is_empty(), "{seen:?}");
    }

    #[test]
    fn timeout_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let path = script(
            dir.path(),
            &format!("(sleep 2; touch {}) &\nsleep 30", marker.display()),
        );
        let error = run(&path, Duration::from_millis(300), &mut |_| {}).unwrap_err();
        assert!(matches!(error, Error::Timeout { .. }), "{error}");
        thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "a child of the timed-out script survived");
    }

    #[test]
    fn non_zero_exit_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "echo 10.1.2.3; exit 7");
        let error = run(&path, Duration::from_secs(10), &mut |_| {}).unwrap_err();
        assert!(error.to_string().contains("exit status: 7"), "{error}");
    }
}
