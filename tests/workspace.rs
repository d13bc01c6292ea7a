//! The checkout and the tools cargo built for this test run, as the
//! integration tests see them: the repository root, the directory holding
//! the six binaries, pkg-activate on a simulated host ([`Activate`]), and
//! the check that keeps each `docs/<tool>.md` `--help` reference current.
//! One definition each, so every module finds the tools, drives a host and
//! checks its docs the same way (what needs no `CARGO_BIN_EXE_*` lives in
//! tarmac-testkit: the command runner, the host, the tree copy).

use std::path::{Path, PathBuf};
use std::process::Command;

use tarmac_testkit::cmd::{self, Run};
use tarmac_testkit::host::Host;

/// The repository root (the root package's manifest directory).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the six tools built for this test run.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_pkg-activate"))
        .parent()
        .expect("binary has a parent directory")
        .to_path_buf()
}

/// docs/<tool>.md ends with the tool's `--help` (`COLUMNS=100`) after a
/// `<!-- generated from ...` marker line; a stale copy fails.
/// `TARMAC_BLESS=1` rewrites it. Every tool's page uses this one check.
pub fn check_help_doc(exe: &str, doc: &str) {
    let path = repo_root().join("docs").join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    let marker = text
        .find("<!-- generated from `")
        .unwrap_or_else(|| panic!("{doc}: no generated-reference marker"));
    let marker_end = marker + text[marker..].find('\n').unwrap() + 1;
    let help = Command::new(exe)
        .arg("--help")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(help.status.success());
    let expected = format!(
        "{}\n```text\n{}```\n",
        &text[..marker_end],
        String::from_utf8(help.stdout).expect("UTF-8 --help")
    );
    if std::env::var_os("TARMAC_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    assert!(
        text == expected,
        "{doc} is stale: run `TARMAC_BLESS=1 cargo test --test integration docs_`"
    );
}

/// The example of `docs/json.md` under the heading `### <title>` (its
/// first ```json block), parsed.
pub fn json_doc_example(title: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo_root().join("docs/json.md")).unwrap();
    let heading = format!("### {title}\n");
    let section = text
        .split_once(&heading)
        .unwrap_or_else(|| panic!("docs/json.md: no heading {heading:?}"))
        .1;
    let block = section
        .split_once("```json\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .unwrap_or_else(|| panic!("docs/json.md: no json block under {title:?}"))
        .0;
    serde_json::from_str(block).unwrap_or_else(|e| panic!("docs/json.md {title:?}: {e}"))
}

/// Asserts the real `--json` output has the shape of the documented
/// example: the same keys at every level, the same kind of value (a null
/// in either matches anything: optional fields), arrays compared by their
/// first elements when both have one, and an object whose only key is `"*"`
/// matches a map with any keys whose values all have its value's shape.
pub fn assert_same_shape(title: &str, example: &serde_json::Value, real: &serde_json::Value) {
    use serde_json::Value;
    fn walk(path: &str, example: &Value, real: &Value, errors: &mut Vec<String>) {
        match (example, real) {
            (Value::Null, _) | (_, Value::Null) => {}
            // A map keyed by data (config keys, unit names): `"*"` stands
            // for every key.
            (Value::Object(a), Value::Object(b)) if a.len() == 1 && a.contains_key("*") => {
                for (key, value) in b {
                    walk(&format!("{path}.{key}"), &a["*"], value, errors);
                }
            }
            (Value::Object(a), Value::Object(b)) => {
                let keys_a: Vec<&String> = a.keys().collect();
                let keys_b: Vec<&String> = b.keys().collect();
                if keys_a != keys_b {
                    errors.push(format!(
                        "{path}: documented keys {keys_a:?}, real {keys_b:?}"
                    ));
                    return;
                }
                for (key, value) in a {
                    walk(&format!("{path}.{key}"), value, &b[key], errors);
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                if let (Some(x), Some(y)) = (a.first(), b.first()) {
                    walk(&format!("{path}[0]"), x, y, errors);
                }
            }
            (Value::Bool(_), Value::Bool(_))
            | (Value::Number(_), Value::Number(_))
            | (Value::String(_), Value::String(_)) => {}
            (a, b) => errors.push(format!("{path}: documented {a}, real {b}")),
        }
    }
    let mut errors = Vec::new();
    walk("$", example, real, &mut errors);
    assert!(
        errors.is_empty(),
        "docs/json.md {title:?} does not match the real output:\n{}\nreal: {real:#}",
        errors.join("\n")
    );
    assert_eq!(
        real["format"], example["format"],
        "docs/json.md {title:?}: format"
    );
}

/// Asserts `real` has the shape of the example under `### <title>` in
/// docs/json.md.
pub fn assert_documented(title: &str, real: &serde_json::Value) {
    assert_same_shape(title, &json_doc_example(title), real);
}

/// Fails (never skips) when `tool` is not on PATH; `how` says how to get it
/// (scripts/test.sh installs every tool the tests need when run as root).
pub fn require_tool(tool: &str, how: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .unwrap();
    assert!(found.status.success(), "{tool} not installed: {how}");
}

/// The tool `name` built for this test run.
pub fn tool(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// pkg-activate on a simulated host ([`Host`]), as the pkg-activate,
/// emergency and reliability tests drive it: without systemd, stdin empty.
pub trait Activate {
    /// `pkg-activate --no-systemd <args>` with every path of the host.
    fn command(&self, args: &[&str]) -> Command;
    /// Runs [`Activate::command`].
    fn run(&self, args: &[&str]) -> Run {
        cmd::run(&mut self.command(args))
    }
    /// Runs, asserts success, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.run(args).success().stdout.clone()
    }
    /// Runs, asserts exit `code`, returns the first stderr line.
    fn fail(&self, args: &[&str], code: i32) -> String {
        self.run(args).code(code).first_stderr_line().to_string()
    }
    /// `status --json`.
    fn status(&self) -> serde_json::Value {
        self.run(&["status", "--json"]).success().stdout_json()
    }
}

impl Activate for Host {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.pkg_activate(&tool("pkg-activate"));
        command
            .arg("--no-systemd")
            .args(args)
            .stdin(std::process::Stdio::null());
        command
    }
}
