//! One way for the integration tests to run a program (a tool's binary, a
//! script, a system command) and check what it did: [`run`] captures its
//! exit, stdout and stderr in a [`Run`], whose assertions (`success`,
//! `code`, `stderr_contains`, ...) print the command line, the exit and
//! both streams when they fail. One runner, so that a failing test always
//! shows the same, complete picture, and no module keeps its own
//! `stderr(&Output)` or `ok(&mut Command)`.

use std::fmt;
use std::process::{Command, ExitStatus, Output};

/// What a finished command did. `stdout` and `stderr` are the streams as
/// text (lossy: a stray byte shows as U+FFFD rather than hiding the rest);
/// `stdout_bytes` is stdout as written.
pub struct Run {
    /// The command as run (program, arguments, working directory).
    pub command: String,
    pub status: ExitStatus,
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub stdout_bytes: Vec<u8>,
}

/// Runs `command` to its end (stdin empty unless the caller set it),
/// capturing stdout and stderr. Panics only if it cannot start.
pub fn run(command: &mut Command) -> Run {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    Run::from_output(format!("{command:?}"), output)
}

/// [`run`] with `input` written to the command's stdin (then closed).
pub fn run_with_input(command: &mut Command, input: &[u8]) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    // A command that exits without reading all of it is not an error here.
    let _ = child.stdin.take().unwrap().write_all(input);
    let output = child.wait_with_output().unwrap();
    Run::from_output(format!("{command:?}"), output)
}

/// `command.run()`: [`run`] as a method, at the end of a builder chain.
pub trait Runs {
    fn run(&mut self) -> Run;
}

impl Runs for Command {
    fn run(&mut self) -> Run {
        run(self)
    }
}

/// [`run`], asserting exit 0; returns stdout.
pub fn ok(command: &mut Command) -> String {
    run(command).success().stdout.clone()
}

/// `program args...` on the machine, asserting exit 0; returns stdout.
pub fn program(program: &str, args: &[&str]) -> String {
    ok(Command::new(program).args(args))
}

impl Run {
    /// A `Run` from an [`Output`] collected elsewhere (a spawned child);
    /// `command` names it in failure messages.
    pub fn from_output(command: String, output: Output) -> Run {
        Run {
            command,
            status: output.status,
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            stdout_bytes: output.stdout,
        }
    }

    /// Asserts exit 0.
    #[track_caller]
    pub fn success(&self) -> &Run {
        assert!(self.status.success(), "expected success:\n{self}");
        self
    }

    /// Asserts the process exited (not killed) with a code other than 0.
    #[track_caller]
    pub fn failure(&self) -> &Run {
        assert!(
            !self.status.success() && self.status.code().is_some(),
            "expected a failure exit:\n{self}"
        );
        self
    }

    /// Asserts exit `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(
            self.status.code(),
            Some(code),
            "expected exit {code}:\n{self}"
        );
        self
    }

    /// Asserts stdout contains `needle`.
    #[track_caller]
    pub fn stdout_contains(&self, needle: &str) -> &Run {
        self.contains("stdout", &self.stdout, needle)
    }

    /// Asserts stderr contains `needle`.
    #[track_caller]
    pub fn stderr_contains(&self, needle: &str) -> &Run {
        self.contains("stderr", &self.stderr, needle)
    }

    #[track_caller]
    fn contains(&self, stream: &str, text: &str, needle: &str) -> &Run {
        assert!(
            text.contains(needle),
            "expected {needle:?} on {stream}:\n{self}"
        );
        self
    }

    /// Asserts stdout is empty.
    #[track_caller]
    pub fn stdout_empty(&self) -> &Run {
        assert!(self.stdout.is_empty(), "expected no stdout:\n{self}");
        self
    }

    /// Stdout parsed as one JSON document.
    #[track_caller]
    pub fn stdout_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }

    /// Stdout's lines.
    pub fn lines(&self) -> Vec<String> {
        self.stdout.lines().map(str::to_string).collect()
    }

    /// Stderr's first line ("" when there is none).
    pub fn first_stderr_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or_default()
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command: {}\nexit: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertions_pass_and_fail_on_what_the_program_did() {
        let run = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .run();
        let run = run
            .code(3)
            .failure()
            .stdout_contains("out")
            .stderr_contains("err");
        assert_eq!(run.lines(), ["out"]);
        assert_eq!(run.first_stderr_line(), "err");
        let message = std::panic::catch_unwind(|| {
            super::run(Command::new("sh").args(["-c", "echo why >&2; exit 1"])).success();
        })
        .unwrap_err();
        let message = message.downcast_ref::<String>().unwrap();
        assert!(message.contains("exit status: 1"), "{message}");
        assert!(message.contains("why"), "{message}");
        assert!(message.contains("\"sh\""), "{message}");
        assert_eq!(program("sh", &["-c", "printf '{\"a\": 1}'"]), "{\"a\": 1}");
        let json = super::run(Command::new("sh").args(["-c", "echo '[1]'"])).stdout_json();
        assert_eq!(json, serde_json::json!([1]));
        let echoed = run_with_input(&mut Command::new("cat"), b"in\n");
        assert_eq!(echoed.success().stdout, "in\n");
    }
}
