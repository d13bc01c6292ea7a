//! What the six binaries share and no library may depend on: the exit-code
//! table, error printing, JSON output, progress reporting and the flag
//! groups several tools share.
//!
//! Libraries return typed errors carrying an [`ExitClass`]; this crate is the
//! only place that turns a class into a process exit code (docs/architecture.md § Exit
//! codes), so the numbers live in one table with a test per row.

mod args;
mod progress;

pub use args::{EpochArgs, HostRootArgs, OutputArgs, PackagesArgs};

pub use progress::{reporter, BarReporter, PlainReporter};

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

pub use tarmac_model::{Diagnosed, ExitClass, TextLines};

/// What `--version` prints after the tool's name: the package version and
/// the git commit the binary was built from (crates/cli/build.rs), so a
/// host's tools can be traced to their source.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("TARMAC_GIT_COMMIT"),
    ")"
);

/// The process exit code of each class. Scripts (dcos_install.sh, Ansible,
/// Puppet guards) rely on these numbers: changing one is a breaking change.
pub fn exit_code(class: ExitClass) -> u8 {
    match class {
        ExitClass::Runtime => 1,
        ExitClass::Usage => 2,
        ExitClass::Invalid => 3,
        ExitClass::Integrity => 4,
        ExitClass::Conflict => 5,
        ExitClass::NoSpace => 6,
        ExitClass::Transient => 75,
    }
}

/// Formats `<tool>: error: <cause chain joined by ": ">` on one line.
pub fn error_line(tool: &str, error: &dyn std::error::Error) -> String {
    let mut line = format!("{tool}: error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // thiserror's #[error(transparent)] and "{0}" messages repeat the
        // cause; print each distinct part once.
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

/// Ends a tool run: prints the error (if any) on stderr and maps it to its
/// exit code. Call as the last expression of `main`.
pub fn finish<E: Diagnosed>(tool: &str, result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut stderr = io::stderr().lock();
            let _ = writeln!(stderr, "{}", error_line(tool, &error));
            for hint in error.hints() {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            ExitCode::from(exit_code(error.class()))
        }
    }
}

/// Writes lines to stdout; a closed pipe (`| head`) is not an error.
pub fn print_lines<I, T>(lines: I)
where
    I: IntoIterator<Item = T>,
    T: Display,
{
    let mut out = io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
    let _ = out.flush();
}

/// Prints one JSON document on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) {
    let text = serde_json::to_string_pretty(value).expect("serializable output");
    print_lines([text]);
}

/// Prints a result: its JSON document with `--json`, else its lines.
pub fn emit<T: serde::Serialize + TextLines>(json: bool, value: &T) {
    if json {
        print_json(value);
    } else {
        print_lines(value.text_lines());
    }
}

/// Whether progress bars should be drawn: stderr is a terminal and the user
/// did not ask for quiet or machine output.
pub fn progress_enabled(quiet: bool, json: bool) -> bool {
    !quiet && !json && io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_table() {
        assert_eq!(exit_code(ExitClass::Runtime), 1);
        assert_eq!(exit_code(ExitClass::Usage), 2);
        assert_eq!(exit_code(ExitClass::Invalid), 3);
        assert_eq!(exit_code(ExitClass::Integrity), 4);
        assert_eq!(exit_code(ExitClass::Conflict), 5);
        assert_eq!(exit_code(ExitClass::NoSpace), 6);
        assert_eq!(exit_code(ExitClass::Transient), 75);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer {path}")]
    struct Outer {
        path: &'static str,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn error_line_joins_the_cause_chain() {
        let error = Outer {
            path: "/x",
            source: std::io::Error::other("disk on fire"),
        };
        assert_eq!(error_line("t", &error), "t: error: outer /x: disk on fire");
    }

    impl Diagnosed for Outer {
        fn class(&self) -> ExitClass {
            ExitClass::NoSpace
        }
        fn hints(&self) -> Vec<String> {
            vec!["free some".into()]
        }
    }

    #[test]
    fn finish_maps_the_class_to_the_exit_code() {
        let error = Outer {
            path: "/x",
            source: std::io::Error::other("disk on fire"),
        };
        let code = finish("t", Err(error));
        assert_eq!(format!("{code:?}"), format!("{:?}", ExitCode::from(6)));
        assert_eq!(
            format!("{:?}", finish::<Outer>("t", Ok(()))),
            format!("{:?}", ExitCode::SUCCESS)
        );
    }
}
