//! The checkout and the tools cargo built for this test run, as the
//! integration tests see them: the repository root, the directory holding
//! the six binaries, and a recursive copy that gives a test its own copy of
//! `packages/` or `genconf/` to edit, and the check that keeps each
//! `docs/<tool>.md` `--help` reference current. One definition each, so
//! every module copies the example tree and checks its docs the same way.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Copies the tree `from` into `to` (created): directories recursively,
/// symlinks as symlinks, everything else by content.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
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
