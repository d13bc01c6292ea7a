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

/// Runs `script` and returns its stdout; a non-zero exit is an error.
pub fn run(script: &Path, timeout: Duration) -> Result<Vec<u8>, Error> {
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
    // The group id is the script's pid, which stays reserved until it is
    // reaped below, so this cannot hit an unrelated group.
    let _ = killpg(pid, Signal::SIGKILL);
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
        assert_eq!(run(&path, Duration::from_secs(10)).unwrap(), b"10.1.2.3\n");
    }

    #[test]
    fn stdin_is_dev_null() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "cat; echo done");
        assert_eq!(run(&path, Duration::from_secs(10)).unwrap(), b"done\n");
    }

    #[test]
    fn background_child_holding_stdout_does_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "sleep 30 &\necho 10.1.2.3");
        let started = Instant::now();
        assert_eq!(run(&path, Duration::from_secs(20)).unwrap(), b"10.1.2.3\n");
        assert!(started.elapsed() < Duration::from_secs(15));
    }

    #[test]
    fn timeout_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let path = script(
            dir.path(),
            &format!("(sleep 2; touch {}) &\nsleep 30", marker.display()),
        );
        let error = run(&path, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(error, Error::Timeout { .. }), "{error}");
        thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "a child of the timed-out script survived");
    }

    #[test]
    fn non_zero_exit_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "echo 10.1.2.3; exit 7");
        let error = run(&path, Duration::from_secs(10)).unwrap_err();
        assert!(error.to_string().contains("exit status: 7"), "{error}");
    }
}
