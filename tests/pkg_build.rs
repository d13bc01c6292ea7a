//! pkg-build: the real binary on the DC/OS corpus (planning only) and on the
//! repository's example tree (real builds in temp repos).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn pkg_build() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pkg-build"))
}

fn run(command: &mut Command) -> Output {
    command.output().expect("pkg-build runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `shared/corpus/dcos-packages` beside the repository clone (or an
/// ancestor). Missing corpus fails the test rather than passing vacuously.
fn corpus_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/corpus/dcos-packages"))
        .find(|c| c.is_dir())
        .unwrap_or_else(|| panic!("corpus not found beside {}", manifest.display()))
}

fn copy_dir(from: &Path, to: &Path) {
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

fn plan_json(packages: &Path) -> Vec<Value> {
    let output = run(pkg_build()
        .args(["--plan", "--json", "--tree", "--packages"])
        .arg(packages));
    assert!(output.status.success(), "{}", stderr(&output));
    let doc: Value = serde_json::from_str(&stdout(&output)).unwrap();
    doc["packages"].as_array().unwrap().clone()
}

#[test]
fn plan_on_the_dcos_corpus_orders_requires_first_with_stable_ids() {
    let corpus = corpus_dir();
    let planned = plan_json(&corpus);
    // Every package of the tree (none is excluded or core-listed there).
    assert_eq!(planned.len(), 81);
    let mut seen = BTreeSet::new();
    for package in &planned {
        let id = package["id"].as_str().unwrap();
        for dep in package["requires"].as_array().unwrap() {
            assert!(
                seen.contains(dep.as_str().unwrap()),
                "{id} planned before its dependency {dep}"
            );
        }
        seen.insert(id.to_string());
        let (name, version) = id.split_once("--").unwrap();
        assert_eq!(name, package["name"].as_str().unwrap());
        assert!(
            version.len() == 40 && version.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
    }
    let mesos = planned.iter().find(|p| p["name"] == "mesos").unwrap();
    let closure: Vec<&str> = mesos["requires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().split("--").next().unwrap())
        .collect();
    for dep in ["boost-libs", "curl", "libevent", "libseccomp", "openssl"] {
        assert!(
            closure.contains(&dep),
            "mesos closure lacks {dep}: {closure:?}"
        );
    }

    // Plain output is the same ids in the same order.
    let plain = run(pkg_build()
        .args(["--plan", "--tree", "--packages"])
        .arg(&corpus));
    assert!(plain.status.success(), "{}", stderr(&plain));
    let ids: Vec<&str> = planned.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(stdout(&plain), ids.join("\n") + "\n");

    // The same tree elsewhere (the git_local source of dcos-image is
    // `../../`, so the corpus is copied whole) plans the same ids.
    let temp = tempfile::tempdir().unwrap();
    let copy = temp.path().join("corpus");
    copy_dir(corpus.parent().unwrap(), &copy);
    let moved = plan_json(&copy.join("dcos-packages"));
    assert_eq!(moved, planned);

    // A git source is pinned by its ref: changing it changes mesos and
    // everything that depends on it, plus dcos-image, whose git_local
    // source (`../../`, not a git work tree here) holds the changed file.
    let buildinfo = copy.join("dcos-packages/mesos/buildinfo.json");
    let mut mode = std::fs::metadata(&buildinfo).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    mode.set_readonly(false);
    std::fs::set_permissions(&buildinfo, mode).unwrap();
    let text = std::fs::read_to_string(&buildinfo).unwrap();
    let changed = text.replace(
        "d4678d33b223fec5d48007f8246f1ed1cda5e90d",
        "e4678d33b223fec5d48007f8246f1ed1cda5e90d",
    );
    assert_ne!(changed, text);
    std::fs::write(&buildinfo, changed).unwrap();
    let after = plan_json(&copy.join("dcos-packages"));
    for (old, new) in planned.iter().zip(&after) {
        let affected = ["mesos", "dcos-image"].iter().any(|name| {
            old["name"] == *name
                || old["requires"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d.as_str().unwrap().starts_with(&format!("{name}--")))
        });
        assert_eq!(
            old["id"] != new["id"],
            affected,
            "{} vs {}",
            old["id"],
            new["id"]
        );
    }
}

#[test]
fn plan_refuses_an_unknown_package_with_exit_3() {
    let output = run(pkg_build()
        .args(["--plan", "no-such-package", "--packages"])
        .arg(corpus_dir()));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).starts_with("pkg-build: error: "),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("no-such-package"),
        "{}",
        stderr(&output)
    );
}
