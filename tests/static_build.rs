//! scripts/build-static.sh: the fast parts, run on every test run. The
//! full static build takes minutes (a release musl build of every tool), so
//! it is not part of the suite; docs/static-binaries.md gives the command.
//! What is checked here is what decides whether that build is right: the
//! tool list comes from the package's real bins, and the static check
//! refuses a dynamic executable and accepts a static one.

use std::path::{Path, PathBuf};
use std::process::Command;

use tarmac_testkit::cmd::{Run, Runs};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-static.sh")
}

fn run(args: &[&str]) -> Run {
    Command::new(script()).args(args).run()
}

#[test]
fn lists_exactly_the_bins_of_the_root_package() {
    let output = run(&["--list"]);
    output.code(0);
    let listed = output.stdout;
    // Every src/bin/<tool>/main.rs is a bin (cargo's auto-discovery).
    let bin_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin");
    let mut expected: Vec<String> = std::fs::read_dir(&bin_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("main.rs").is_file())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    assert!(expected.contains(&"pkg-activate".to_string()));
    assert_eq!(listed.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn check_refuses_a_dynamic_executable() {
    // The test build of a tool is linked against glibc, dynamically.
    let dynamic = env!("CARGO_BIN_EXE_pkg-activate");
    let output = run(&["--check", dynamic]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let message = output.stderr.as_str();
    assert!(
        message.starts_with(&format!(
            "build-static.sh: error: {dynamic}: not statically linked"
        )),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");

    let text = tempfile::NamedTempFile::new().unwrap();
    let output = run(&["--check", text.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    output.stderr_contains("not an x86-64 ELF executable");

    let output = run(&["--check", "/nonexistent/tool"]);
    assert_eq!(output.status.code(), Some(1));
    output.stderr_contains("/nonexistent/tool: no such file");
}

#[test]
fn check_accepts_a_static_executable() {
    // musl-gcc (musl-tools, installed by .ci/run) links statically like the
    // Rust musl target does.
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("hello.c");
    std::fs::write(&source, "int main(void) { return 0; }\n").unwrap();
    let exe = dir.path().join("hello");
    let status = Command::new("musl-gcc")
        .args(["-static", "-o"])
        .arg(&exe)
        .arg(&source)
        .status()
        .expect("musl-gcc (Debian package musl-tools) must be installed");
    assert!(status.success());
    let exe = exe.to_str().unwrap();
    let output = run(&["--check", exe]);
    output.code(0);
    assert_eq!(output.stdout, format!("{exe}\n"));
}

#[test]
fn help_and_usage_errors() {
    let output = run(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = output.stdout;
    assert!(help.contains("x86_64-unknown-linux-musl") && help.contains("SHA256SUMS"));

    let output = run(&["--frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output
        .stderr
        .starts_with("build-static.sh: error: unknown option '--frobnicate'"));

    let output = run(&["a", "b"]);
    assert_eq!(output.status.code(), Some(2));
    let output = run(&["--check"]);
    assert_eq!(output.status.code(), Some(2));
}
