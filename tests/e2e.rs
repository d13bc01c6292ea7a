//! End to end (issue 6): `scripts/demo.sh` builds, bundles, renders, serves
//! and installs the example 3-host cluster, as a user who is not root.
//!
//! The demo runs on a copy of what it reads (scripts/, packages/, genconf/)
//! and of the six tools, all owned by the unprivileged user, so it proves
//! that nothing in the pipeline needs root: not the builds, not the host
//! installs (private user databases, no chown to package users).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use tarmac_testkit::cmd::{Run, Runs};
use tarmac_testkit::tree::copy_tree;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn demo_installs_three_hosts_without_root() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let repo = base.join("repo");
    std::fs::create_dir_all(repo.join("scripts")).unwrap();
    std::fs::copy(
        Path::new(REPO).join("scripts/demo.sh"),
        repo.join("scripts/demo.sh"),
    )
    .unwrap();
    copy_tree(&Path::new(REPO).join("packages"), &repo.join("packages"));
    copy_tree(&Path::new(REPO).join("genconf"), &repo.join("genconf"));
    let _ = std::fs::remove_dir_all(repo.join("genconf/serve"));
    let bin = base.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, exe) in [
        ("pkg-build", env!("CARGO_BIN_EXE_pkg-build")),
        ("pkg-bundle", env!("CARGO_BIN_EXE_pkg-bundle")),
        ("cfg-gen", env!("CARGO_BIN_EXE_cfg-gen")),
        ("ip-detect-run", env!("CARGO_BIN_EXE_ip-detect-run")),
        ("host-extract", env!("CARGO_BIN_EXE_host-extract")),
        ("pkg-activate", env!("CARGO_BIN_EXE_pkg-activate")),
    ] {
        std::fs::copy(exe, bin.join(name)).unwrap();
        // Every host downloads three tools: debug builds are 30-60 MB each.
        let _ = Command::new("strip").arg(bin.join(name)).status();
    }
    let tmp = base.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();

    // /proc/self belongs to the effective uid.
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let mut command = if root {
        let status = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(base)
            .status()
            .unwrap();
        assert!(status.success());
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash"]);
        c
    } else {
        Command::new("bash")
    };
    let out = command
        .arg(repo.join("scripts/demo.sh"))
        .arg("--bin-dir")
        .arg(&bin)
        .env("TMPDIR", &tmp)
        .env("HOME", base)
        .current_dir(base)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    // Three hosts, each healthy at generation 1 with the four example
    // packages and the two config packages, in its own role.
    assert_eq!(stdout.matches("healthy true").count(), 3, "{stdout}");
    assert_eq!(stdout.matches("generation 1\n").count(), 3, "{stdout}");
    for name in [
        "greeter",
        "hello-git",
        "libgreet",
        "motd",
        "dcos-config",
        "dcos-metadata",
    ] {
        assert_eq!(
            stdout.matches(&format!("package {name}--")).count(),
            3,
            "{name}: {stdout}"
        );
    }
    assert_eq!(stdout.matches("role master\n").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("role slave\n").count(), 2, "{stdout}");
    assert!(stderr.contains("==> done: 3 hosts installed"), "{stderr}");
    // It cleaned up after itself.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "demo left {left:?}");
}

/// docs/README.md is the index: it links every page in docs/, and every
/// relative `.md` link of a docs page names a file that exists.
#[test]
fn docs_index_links_every_page_and_no_link_is_dead() {
    let docs = Path::new(REPO).join("docs");
    let index = std::fs::read_to_string(docs.join("README.md")).unwrap();
    let mut pages: Vec<String> = std::fs::read_dir(&docs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md") && name != "README.md")
        .collect();
    pages.sort();
    for page in &pages {
        assert!(
            index.contains(&format!("]({page})")),
            "docs/README.md does not link {page}"
        );
    }
    for page in pages.iter().map(String::as_str).chain(["README.md"]) {
        let text = std::fs::read_to_string(docs.join(page)).unwrap();
        for link in text.split("](").skip(1) {
            let target = link.split([')', '#']).next().unwrap();
            if target.contains("://") || !target.ends_with(".md") {
                continue;
            }
            assert!(
                docs.join(target).exists(),
                "docs/{page}: dead link to {target}"
            );
        }
    }
}

/// scripts/fleet-status without root (the fleet test covers it on real
/// hosts): files named after hosts, a bundle matched through --bootstrap,
/// a missing file, an unhealthy host, the exit codes.
#[test]
fn fleet_status_summarizes_files_and_reports_failures() {
    let s = Statuses::new();
    the_summary_groups_hosts_and_names_each_failure(&s);
    a_failed_unit_fails_the_fleet_naming_the_host(&s);
    unreported_services_are_not_a_failure(&s);
    overrides_are_listed_per_host_not_failures(&s);
    no_document_and_a_bad_option_fail(&s);
}

/// A directory of host status documents (m1, a1, a2) and a bootstrap
/// directory whose bundle holds app--1.
struct Statuses {
    dir: tempfile::TempDir,
    config: String,
}

impl Statuses {
    fn new() -> Statuses {
        let s = Statuses {
            dir: tempfile::tempdir().unwrap(),
            config: "c".repeat(40),
        };
        s.write("m1.json", s.status(1, "1", true, "master"));
        s.write("a1.json", s.status(2, "2", true, "slave"));
        s.write("a2.json", s.status(2, "2", false, "slave"));
        let bootstrap = s.dir.path().join("bootstrap");
        std::fs::create_dir_all(&bootstrap).unwrap();
        std::fs::write(
            bootstrap.join(format!("{}.active.json", "b".repeat(40))),
            r#"["app--1"]"#,
        )
        .unwrap();
        s
    }

    /// A `pkg-activate status --json` document: masters' services run,
    /// agents' have a failed unit.
    fn status(&self, generation: u64, app: &str, healthy: bool, role: &str) -> serde_json::Value {
        let config = &self.config;
        let failed = serde_json::json!({
            "verdict": "failed",
            "units": [
                {"unit": "a.service", "active_state": "active", "sub_state": "running",
                 "result": "success", "since": ""},
                {"unit": "b.service", "active_state": "failed", "sub_state": "failed",
                 "result": "exit-code", "since": ""},
            ],
            "error": null,
        });
        let running = serde_json::json!({"verdict": "running", "units": [], "error": null});
        serde_json::json!({
            "format": 1,
            "root": "/opt/mesosphere",
            "current": generation,
            "packages": [format!("app--{app}"), format!("dcos-config--setup_{config}")],
            "roles": [role],
            "folded": true,
            "units": [],
            "generations": [],
            "locked": false,
            "healthy": healthy,
            "problems": if healthy { vec![] } else { vec!["/opt/mesosphere/bin: points at x"] },
            "damaged": [],
            "services": if role == "master" { running } else { failed },
        })
    }

    fn write(&self, name: &str, value: serde_json::Value) {
        std::fs::write(self.dir.path().join(name), value.to_string()).unwrap();
    }

    /// scripts/fleet-status `args` in the directory.
    fn run(&self, args: &[&str]) -> Run {
        Command::new(Path::new(REPO).join("scripts/fleet-status"))
            .current_dir(self.dir.path())
            .args(args)
            .run()
    }
}

/// The text summary: every grouping, the unhealthy host, the failed units,
/// the missing file; exit 1.
fn the_summary_groups_hosts_and_names_each_failure(s: &Statuses) {
    let config = &s.config;
    let out = s.run(&[
        "--bootstrap",
        "bootstrap",
        "m1.json",
        "a1.json",
        "a2.json",
        "gone.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let b = "b".repeat(40);
    assert_eq!(
        out.stdout,
        format!(
            "hosts 4\n\
             bootstrap {b}: 1 (m1)\n\
             bootstrap unknown: 2 (a1, a2)\n\
             config {config}: 3 (a1, a2, m1)\n\
             generation 1: 1 (m1)\n\
             generation 2: 2 (a1, a2)\n\
             roles master: 1 (m1)\n\
             roles slave: 2 (a1, a2)\n\
             services failed: 2 (a1, a2)\n\
             services running: 1 (m1)\n\
             unhealthy 1\n\
             \x20 a2: /opt/mesosphere/bin: points at x\n\
             failed units 2\n\
             \x20 a1: b.service\n\
             \x20 a2: b.service\n\
             overrides 0\n\
             cluster set unknown 3 (a1, a2, m1)\n\
             failures 1\n\
             \x20 gone: gone.json: No such file or directory\n"
        )
    );
}

/// A host with a failed unit fails the fleet, and is named with it.
fn a_failed_unit_fails_the_fleet_naming_the_host(s: &Statuses) {
    let out = s.run(&["--json", "m1.json", "a1.json"]);
    assert_eq!(out.status.code(), Some(1));
    let summary: serde_json::Value = out.stdout_json();
    assert_eq!(
        summary["failed_units"],
        serde_json::json!([{"host": "a1", "units": ["b.service"]}])
    );
    assert_eq!(
        summary["by_services"],
        serde_json::json!({"failed": ["a1"], "running": ["m1"]})
    );
}

/// A document without services: "unreported", not a failure.
fn unreported_services_are_not_a_failure(s: &Statuses) {
    s.write("a1.json", {
        let mut doc = s.status(2, "2", true, "slave");
        doc.as_object_mut().unwrap().remove("services");
        doc
    });
    let out = s.run(&["--json", "m1.json", "a1.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let summary: serde_json::Value = out.stdout_json();
    assert_eq!(summary["hosts"], 2);
    assert_eq!(
        summary["by_generation"],
        serde_json::json!({"1": ["m1"], "2": ["a1"]})
    );
    assert_eq!(
        summary["by_bootstrap"],
        serde_json::json!({"unknown": ["a1", "m1"]})
    );
    assert_eq!(
        summary["by_services"],
        serde_json::json!({"running": ["m1"], "unreported": ["a1"]})
    );
}

/// Overrides: listed per host, not a failure (exit 0); a document with its
/// cluster set and none is neither listed nor unknown.
fn overrides_are_listed_per_host_not_failures(s: &Statuses) {
    s.write("a1.json", {
        let mut doc = s.status(2, "2", true, "master");
        doc["cluster_set"] = serde_json::json!(true);
        doc["overrides"] = serde_json::json!(["app--2"]);
        doc
    });
    s.write("m1.json", {
        let mut doc = s.status(1, "1", true, "master");
        doc["cluster_set"] = serde_json::json!(true);
        doc["overrides"] = serde_json::json!([]);
        doc
    });
    let out = s.run(&["--json", "m1.json", "a1.json"]);
    assert_eq!(out.status.code(), Some(0));
    let summary: serde_json::Value = out.stdout_json();
    assert_eq!(
        summary["overrides"],
        serde_json::json!([{"host": "a1", "ids": ["app--2"]}])
    );
    assert_eq!(summary["cluster_set_unknown"], serde_json::json!([]));
    let out = s.run(&["m1.json", "a1.json", "a2.json"]);
    assert_eq!(out.status.code(), Some(1), "a2 is unhealthy");
    let text = out.stdout;
    assert!(
        text.contains("overrides 1\n  a1: app--2\ncluster set unknown 1 (a2)\n"),
        "{text}"
    );
}

/// No document at all, and a bad option.
fn no_document_and_a_bad_option_fail(s: &Statuses) {
    let out = Command::new(Path::new(REPO).join("scripts/fleet-status"))
        .stdin(std::process::Stdio::null())
        .run();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stderr, "fleet-status: error: no host documents read\n");
    assert_eq!(s.run(&["--nope"]).status.code(), Some(2));
}
