//! Records the git commit the tools are built from, for `--version`.
//!
//! `TARMAC_GIT_COMMIT` in the environment wins (a build from a source
//! tarball has no `.git`); else `git rev-parse HEAD`; else "unknown". Cargo
//! reruns this when HEAD moves (a checkout or a commit).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=TARMAC_GIT_COMMIT");
    let commit = std::env::var("TARMAC_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    // HEAD names a branch whose ref file moves on commit; both are watched.
    for path in ["HEAD", "refs/heads", "packed-refs"] {
        if let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", &head]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    println!("cargo:rustc-env=TARMAC_GIT_COMMIT={commit}");
}
