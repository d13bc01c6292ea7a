//! The repository as a newcomer clones it: it stands alone (no file reaches
//! outside the clone, e.g. a sibling workspace directory or an absolute path of
//! the machine it was written on), and each crate depends only on what
//! `crates/README.md` says it may.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::workspace::repo_root;

/// The tracked files, as a fresh clone has them.
fn tracked_files() -> Vec<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo_root())
        .args(["ls-files", "-z"])
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git ls-files failed");
    output
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8(p.to_vec()).expect("UTF-8 path"))
        .collect()
}

/// The workspace directory the project was started in, beside the clone.
/// Spelled in pieces so this file does not itself name it.
fn sibling() -> String {
    ["..", "shared"].join("/")
}

/// The machine's workspace root, as an absolute path prefix.
fn machine_root() -> String {
    format!("/{}/", "work")
}

/// Whether `line` names a path outside the clone: the sibling workspace
/// (`../` + its name) or an absolute path under the machine's workspace root.
fn reaches_outside(line: &str) -> bool {
    let root = machine_root();
    let absolute_work = line.match_indices(root.as_str()).any(|(at, _)| {
        at == 0
            || matches!(
                line.as_bytes()[at - 1],
                b' ' | b'"' | b'\'' | b'=' | b'(' | b'`'
            )
    });
    line.contains(&sibling()) || absolute_work
}

#[test]
fn no_file_reaches_outside_the_repository() {
    let mut offenders = Vec::new();
    for path in tracked_files() {
        // Real-world data, kept verbatim. (This file spells its patterns
        // in pieces, so it is checked like every other.)
        if path.starts_with("tests/corpus/") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(repo_root().join(&path)) else {
            continue; // binary files
        };
        for (number, line) in text.lines().enumerate() {
            if reaches_outside(line) {
                offenders.push(format!("{path}:{}: {line}", number + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

#[test]
fn the_outside_path_check_can_fail() {
    let (sibling, root) = (sibling(), machine_root());
    assert!(reaches_outside(&format!(
        "GEN_TREE={sibling}/bench/gen-tree.py"
    )));
    assert!(reaches_outside(&format!(
        "[ -f x ] || x={root}shared/bench/gen-tree.py"
    )));
    assert!(reaches_outside(&format!("{root}.mirror/dcos+dcos/repo")));
    assert!(!reaches_outside(&format!("workdir=$h{root}etc")));
    assert!(!reaches_outside(&format!("<cache>{root}logs/<id>.log")));
}

/// `crate -> {tarmac crates it may depend on}` from crates/README.md's table.
fn documented_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(repo_root().join("crates/README.md")).unwrap();
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `name` | owns | tool | deps |
        if cells.len() != 6 || !cells[1].starts_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`').to_string();
        let deps = cells[4]
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty() && *d != "(none)")
            .map(str::to_string)
            .collect();
        map.insert(name, deps);
    }
    map
}

/// The tarmac crates in `[dependencies]` of `crates/<name>/Cargo.toml`.
fn actual_dependencies(name: &str) -> BTreeSet<String> {
    let path = repo_root().join("crates").join(name).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut in_dependencies = false;
    let mut deps = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with('[') {
            in_dependencies = line.trim() == "[dependencies]";
            continue;
        }
        if let Some(rest) = line.strip_prefix("tarmac-").filter(|_| in_dependencies) {
            let dep: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            deps.insert(dep);
        }
    }
    deps
}

#[test]
fn crate_dependencies_follow_crates_readme() {
    let documented = documented_dependencies();
    let on_disk: BTreeSet<String> = std::fs::read_dir(repo_root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        documented.keys().cloned().collect::<BTreeSet<_>>(),
        on_disk,
        "crates/README.md must list every crate, and only those"
    );
    for (name, allowed) in &documented {
        assert_eq!(
            &actual_dependencies(name),
            allowed,
            "crates/{name}/Cargo.toml and crates/README.md disagree"
        );
    }
    // The directions that matter most, whatever the table says.
    for name in documented.keys() {
        let deps = actual_dependencies(name);
        assert!(!deps.contains("cli"), "{name}: only binaries use cli");
        assert!(!deps.contains("testkit"), "{name}: testkit is dev-only");
    }
    assert!(!actual_dependencies("activate").contains("builder"));
    assert!(!actual_dependencies("activate").contains("fetch"));
}
