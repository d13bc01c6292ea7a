//! host-extract against real servers: nginx for the happy path, mirrors and
//! resume; the fault server for cuts, stalls, truncation, corruption, error
//! statuses and ignored Range. Every failure case also checks that nothing
//! partial is visible under packages/ and that staging is gone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tarmac_model::layout::{host, repository};
use tarmac_testkit::cmd::{Run, Runs};
use tarmac_testkit::fault_server::{Fault, FaultServer, Request};
use tarmac_testkit::nginx::{dead_url, Nginx};
use tarmac_testkit::repo::{Bundle, Pkg, Repo};

const BIN: &str = env!("CARGO_BIN_EXE_host-extract");

/// Millisecond timings so retries and stalls cost little test time, and
/// no space reserve (tests use tiny filesystems). The last four entries are
/// the reserve flags (some tests slice them off).
pub(crate) const FAST: &[&str] = &[
    "--retries",
    "3",
    "--backoff-ms",
    "5",
    "--backoff-max-ms",
    "20",
    "--stall-timeout",
    "0.4",
    "--connect-timeout",
    "2",
    "--total-timeout",
    "60",
    "--reserve-bytes",
    "0",
    "--reserve-inodes",
    "0",
];

fn run(root: &Path, args: &[&str]) -> Run {
    run_with(root, FAST, args)
}

fn run_with(root: &Path, flags: &[&str], args: &[&str]) -> Run {
    Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(flags)
        .args(args)
        .run()
}

fn pkgs() -> Vec<Pkg> {
    vec![
        Pkg::new("alpha--1")
            .file("bin/alpha", b"#!/bin/sh\necho alpha\n", 0o755)
            .file("etc/alpha.conf", b"x=1\n", 0o644)
            .symlink("lib/alias", "../etc/alpha.conf")
            .bulk("share", 40, 8 * 1024),
        Pkg::new("beta--2")
            .file("pkginfo.json", b"{}", 0o644)
            .bulk("lib", 60, 4 * 1024),
    ]
}

struct Fixture {
    _dir: tempfile::TempDir,
    repo: Repo,
    root: PathBuf,
    pkgs: Vec<Pkg>,
    bundle: Bundle,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(&dir.path().join("repo"));
    let pkgs = pkgs();
    let bundle = repo.bundle(&pkgs.iter().collect::<Vec<_>>());
    Fixture {
        root: dir.path().join("host"),
        _dir: dir,
        repo,
        pkgs,
        bundle,
    }
}

impl Fixture {
    fn ids(&self) -> String {
        self.pkgs.iter().map(|p| format!("{}\n", p.id)).collect()
    }

    fn bundle_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.bundle.path).unwrap()
    }

    fn extract(&self, urls: &[&str]) -> Run {
        let mut args = vec!["--blake3", &self.bundle.blake3];
        for url in urls {
            args.push("--url");
            args.push(url);
        }
        run(&self.root, &args)
    }

    /// Every package present, and each equal to its source tree.
    fn assert_published(&self) {
        for pkg in &self.pkgs {
            let dir = host::package(&self.root, &pkg.id.to_string());
            let got = tarmac_archive::tree_hash(&dir).unwrap();
            let want = tarmac_archive::tree_hash(&self.repo.tree(pkg)).unwrap();
            assert_eq!(got, want, "{}", pkg.id);
        }
        assert!(!host::staging(&self.root).exists());
    }

    /// Nothing published, nothing staged.
    fn assert_untouched(&self) {
        for pkg in &self.pkgs {
            let dir = host::package(&self.root, &pkg.id.to_string());
            assert!(!dir.exists(), "{} published", dir.display());
        }
        assert!(!host::staging(&self.root).exists(), "staging left");
    }

    /// Installs the bundle through a fault server playing `faults`,
    /// asserting it ends installed and whole; what host-extract said and
    /// the requests the server saw.
    fn installs_through(&self, faults: &[Fault]) -> (Run, Vec<Request>) {
        let (server, url) = self.fault_server(faults);
        let out = self.extract(&[&url]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        self.assert_published();
        (out, server.requests())
    }

    fn fault_server(&self, faults: &[Fault]) -> (FaultServer, String) {
        let path = format!("/{}", self.bundle.relative);
        let server = FaultServer::builder()
            .file(&path, self.bundle_bytes())
            .script(&path, faults)
            .start();
        let url = format!("{}{path}", server.url());
        (server, url)
    }
}

/// The error line; progress lines may come before it on stderr.
/// Asserts `out` exited `code` with an error line containing `needle`.
fn fails_with(out: &Run, code: i32, needle: &str) {
    assert_eq!(out.code, code, "{out}");
    assert!(first_line(&out.stderr).contains(needle), "{out}");
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.starts_with("host-extract: error: "))
        .unwrap_or_else(|| panic!("no error line in {text:?}"))
}

#[test]
fn bundle_from_nginx_then_second_run_downloads_nothing() {
    let f = fixture();
    let nginx = Nginx::serve(&f.repo.root);
    let url = format!("{}/{}", nginx.url(), f.bundle.relative);
    let first = f.extract(&[&url]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.stdout, f.ids());
    f.assert_published();
    let requests = nginx.access_log().lines().count();

    let second = f.extract(&[&url]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(
        nginx.access_log().lines().count(),
        requests,
        "second run downloaded"
    );

    let json = run(
        &f.root,
        &["--blake3", &f.bundle.blake3, "--url", &url, "--json"],
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["format"], 1);
    crate::workspace::assert_documented("host-extract", &value);
    assert_eq!(value["fetched"], serde_json::json!([]));
    assert_eq!(value["present"], serde_json::json!(["alpha--1", "beta--2"]));
    assert_eq!(value["downloaded_bytes"], 0);
}

#[test]
fn tampered_present_package_is_reported() {
    let f = fixture();
    let url = f.bundle.path.display().to_string();
    assert_eq!(f.extract(&[&url]).code, 0);
    let conf = f.root.join("packages/alpha--1/etc/alpha.conf");
    std::fs::write(&conf, b"x=2\n").unwrap();
    let again = f.extract(&[&url]);
    assert_eq!(again.code, 4, "{}", again.stderr);
    let line = first_line(&again.stderr);
    assert!(
        line.starts_with("host-extract: error: ")
            && line.contains("packages/alpha--1: present package was modified"),
        "{line}"
    );
    assert_eq!(
        std::fs::read(&conf).unwrap(),
        b"x=2\n",
        "tampered package replaced"
    );
}

#[test]
fn first_mirror_dead_second_serves() {
    let f = fixture();
    let nginx = Nginx::serve(&f.repo.root);
    let dead = format!("{}/{}", dead_url(), f.bundle.relative);
    let good = format!("{}/{}", nginx.url(), f.bundle.relative);
    let out = f.extract(&[&dead, &good]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, f.ids());
    f.assert_published();
}

#[test]
fn cut_on_one_mirror_resumes_with_range_on_nginx() {
    let f = fixture();
    let nginx = Nginx::serve(&f.repo.root);
    let (server, flaky) = f.fault_server(&[Fault::CutAfter(100_000)]);
    let good = format!("{}/{}", nginx.url(), f.bundle.relative);
    let out = f.extract(&[&flaky, &good]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
    assert_eq!(server.requests().len(), 1);
    // nginx answered the resume with 206 Partial Content.
    let log = nginx.access_log();
    assert!(log.contains("\" 206 "), "{log}");
}

#[test]
fn cut_mid_body_resumes() {
    let f = fixture();
    let (_, requests) = f.installs_through(&[Fault::CutAfter(50_000), Fault::CutAfter(70_000)]);
    let starts: Vec<_> = requests.iter().map(|r| r.range_start).collect();
    assert_eq!(starts, [None, Some(50_000), Some(120_000)]);
}

#[test]
fn stall_is_detected_and_retried() {
    let f = fixture();
    let (_, requests) = f.installs_through(&[Fault::StallAfter(30_000)]);
    assert_eq!(requests[1].range_start, Some(30_000));
}

#[test]
fn range_ignored_restarts_and_verifies() {
    let f = fixture();
    let (_, requests) = f.installs_through(&[Fault::CutAfter(60_000), Fault::IgnoreRange]);
    assert_eq!(requests.len(), 2);
}

#[test]
fn wrong_content_range_is_retried_not_spliced() {
    let f = fixture();
    let (out, requests) = f.installs_through(&[Fault::CutAfter(60_000), Fault::BadRange]);
    assert!(out.stderr.contains("bad Content-Range"), "{}", out.stderr);
    let starts: Vec<_> = requests.iter().map(|r| r.range_start).collect();
    assert_eq!(starts, [None, Some(60_000), Some(60_000)]);
}

#[test]
fn server_error_then_success() {
    let f = fixture();
    let (_, requests) = f.installs_through(&[Fault::Status(500), Fault::Status(503)]);
    assert_eq!(requests.len(), 3);
}

#[test]
fn all_retries_exhausted_is_transient() {
    let f = fixture();
    let (server, url) = f.fault_server(&[Fault::Status(503); 20]);
    let out = f.extract(&[&url]);
    assert_eq!(out.code, 75, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains(&url) && line.contains("giving up after 4 attempts"),
        "{line}"
    );
    f.assert_untouched();
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn not_found_is_fatal_without_retry() {
    let f = fixture();
    let (server, url) = f.fault_server(&[Fault::Status(404)]);
    let out = f.extract(&[&url]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(first_line(&out.stderr).contains(&format!("{url}: HTTP status 404")));
    f.assert_untouched();
    assert_eq!(server.requests().len(), 1);
}

/// Issue 12, rule 1: a mirror that served a damaged bundle is not asked
/// again in this run; the next mirror is tried at once, from byte 0.
#[test]
fn corrupt_mirror_is_dropped_and_the_next_serves_the_bundle() {
    let f = fixture();
    let middle = f.bundle_bytes().len() as u64 / 2;
    let (bad, bad_url) = f.fault_server(&[Fault::Corrupt(middle); 4]);
    let (good, good_url) = f.fault_server(&[]);
    let out = f.extract(&[&bad_url, &good_url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, f.ids());
    f.assert_published();
    assert!(
        out.stderr
            .contains(&format!("{bad_url} dropped for this run")),
        "{}",
        out.stderr
    );
    assert_eq!(bad.requests().len(), 1, "the corrupt mirror asked again");
    let starts: Vec<_> = good.requests().iter().map(|r| r.range_start).collect();
    assert_eq!(starts, [None], "a fresh download, not a resume");
}

#[test]
fn truncated_bundle_is_downloaded_again() {
    let f = fixture();
    let len = f.bundle_bytes().len() as u64;
    let (_, requests) = f.installs_through(&[Fault::Truncate(len - 1000)]);
    assert_eq!(requests.len(), 2);
}

/// Bad bytes that came from two mirrors (cut on one, resumed on the
/// other) name no single culprit: no mirror is dropped, the bundle is
/// downloaded again, whole.
#[test]
fn bad_content_from_two_mirrors_drops_neither() {
    let f = fixture();
    let len = f.bundle_bytes().len() as u64;
    let (a, a_url) = f.fault_server(&[Fault::CutAfter(50_000)]);
    let (b, b_url) = f.fault_server(&[Fault::Corrupt(len - 10)]);
    let out = f.extract(&[&a_url, &b_url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
    assert!(
        out.stderr.contains(&format!(
            "; delivered by {a_url}, {b_url}: downloading again"
        )),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("dropped for this run"),
        "{}",
        out.stderr
    );
    let starts = |server: &FaultServer| -> Vec<Option<u64>> {
        server.requests().iter().map(|r| r.range_start).collect()
    };
    assert_eq!(starts(&a), [None]);
    // The resume, then a fresh download from the mirror that served last.
    assert_eq!(starts(&b), [Some(50_000), None]);
}

/// Exit 4 only when every mirror served bad content; the message lists
/// each mirror and what it served. Each is asked once.
#[test]
fn every_mirror_corrupt_is_integrity_failure_listing_each() {
    let f = fixture();
    let len = f.bundle_bytes().len() as u64;
    let (first, first_url) = f.fault_server(&[Fault::Corrupt(len / 2)]);
    let (second, second_url) = f.fault_server(&[Fault::Corrupt(len - 10)]);
    let out = f.extract(&[&first_url, &second_url]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    let line = first_line(&out.stderr);
    for url in [&first_url, &second_url] {
        assert!(
            line.contains(&format!("{url}: served bad content: {url}: ")),
            "{line}"
        );
    }
    assert!(line.contains("no usable mirror left"), "{line}");
    f.assert_untouched();
    assert_eq!(first.requests().len(), 1);
    assert_eq!(second.requests().len(), 1);
}

#[test]
fn space_preflight_refuses_before_writing() {
    let f = fixture();
    let out = run_with(
        &f.root,
        &FAST[..FAST.len() - 4],
        &[
            "--blake3",
            &f.bundle.blake3,
            "--url",
            &f.bundle.path.display().to_string(),
            "--reserve-bytes",
            &(u64::MAX / 4).to_string(),
        ],
    );
    fails_with(&out, 6, "not enough space");
    f.assert_untouched();
}

#[test]
fn lock_held_is_exit_5() {
    let f = fixture();
    let lock =
        tarmac_fs::HostLock::acquire(&f.root.join(".lock"), tarmac_fs::LockWait::NoWait).unwrap();
    let out = f.extract(&[&f.bundle.path.display().to_string()]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    drop(lock);
    f.assert_untouched();
}

#[test]
fn staging_leftovers_are_removed() {
    let f = fixture();
    let junk = f.root.join("packages/.staging/packages/alpha--1/half");
    std::fs::create_dir_all(junk.parent().unwrap()).unwrap();
    std::fs::write(&junk, b"partial").unwrap();
    let out = f.extract(&[&format!("file://{}", f.bundle.path.display())]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
}

#[test]
fn wrong_pin_is_integrity_failure() {
    let f = fixture();
    let wrong = "0".repeat(64);
    let path = f.bundle.path.display().to_string();
    let out = run(&f.root, &["--blake3", &wrong, "--url", &path]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains(&path)
            && line.contains(&format!("expected {wrong}, got {}", f.bundle.blake3)),
        "{line}"
    );
    f.assert_untouched();
}

#[test]
fn packages_from_repository_fetch_only_missing() {
    let f = fixture();
    let gamma = Pkg::new("gamma--3").file("bin/gamma", b"g", 0o755);
    for pkg in f.pkgs.iter().chain([&gamma]) {
        f.repo.add(pkg);
    }
    let nginx = Nginx::serve(&f.repo.root);
    let repo = nginx.url();
    let out = run(
        &f.root,
        &["--repository", &repo, "--package", "alpha--1", "beta--2"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "alpha--1\nbeta--2\n");
    f.assert_published();

    let before = nginx.access_log();
    let out = run(
        &f.root,
        &[
            "--repository",
            &repo,
            "--package",
            "alpha--1",
            "gamma--3",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        value["packages"],
        serde_json::json!(["alpha--1", "gamma--3"])
    );
    assert_eq!(value["fetched"], serde_json::json!(["gamma--3"]));
    let new_requests: Vec<_> = nginx.access_log()[before.len()..]
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        new_requests.iter().all(|l| l.contains("/packages/gamma/")),
        "{new_requests:?}"
    );
    assert_eq!(new_requests.len(), 2, "{new_requests:?}");

    let missing = run(&f.root, &["--repository", &repo, "--package", "delta--4"]);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(first_line(&missing.stderr).contains("/packages/delta/delta--4.json: HTTP status 404"));
    assert!(!f.root.join("packages/delta--4").exists());
}

#[test]
fn package_with_wrong_tree_hash_is_refused() {
    let f = fixture();
    let alpha = &f.pkgs[0];
    f.repo.add(alpha);
    // A sidecar that lies about the content.
    let sidecar = f.repo.root.join("packages/alpha/alpha--1.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
    manifest["tree_hash"] = serde_json::Value::from("ab".repeat(32));
    std::fs::write(&sidecar, manifest.to_string()).unwrap();
    let out = run(
        &f.root,
        &[
            "--repository",
            &f.repo.root.display().to_string(),
            "--package",
            "alpha--1",
        ],
    );
    assert_eq!(out.code, 4, "{}", out.stderr);
    // A local file is read once: a second read gives the same bytes.
    let line = first_line(&out.stderr);
    assert!(
        line.contains("tree hash mismatch") && !line.contains("failed"),
        "{line}"
    );
    f.assert_untouched();
}

#[test]
fn kill_during_extraction_then_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(&dir.path().join("repo"));
    let big = vec![
        // Few big files: ext4 makes inode creation slow after the mass
        // deletes of a test run, and bytes are what takes time to stream.
        Pkg::new("big--1").bulk("data", 120, 48 * 1024),
        Pkg::new("more--1").bulk("data", 120, 48 * 1024),
    ];
    let bundle = repo.bundle(&big.iter().collect::<Vec<_>>());
    let nginx = Nginx::serve(&repo.root);
    let url = format!("{}/{}", nginx.url(), bundle.relative);
    let root = dir.path().join("host");
    let iterations: u64 = std::env::var("TARMAC_KILL_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let mut landed = 0;
    for i in 0..iterations {
        let mut child = Command::new(BIN)
            .arg("--root")
            .arg(&root)
            .args(FAST)
            .args(["--quiet", "--blake3", &bundle.blake3, "--url", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(2 + (i * 37) % 90));
        if child.try_wait().unwrap().is_none() {
            landed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        // Whatever is published is complete.
        for pkg in &big {
            let dir = host::package(&root, &pkg.id.to_string());
            if dir.exists() {
                let got = tarmac_archive::tree_hash(&dir).unwrap();
                assert_eq!(
                    got,
                    tarmac_archive::tree_hash(&repo.tree(pkg)).unwrap(),
                    "iteration {i}"
                );
            }
        }
        let rerun = run(&root, &["--blake3", &bundle.blake3, "--url", &url]);
        assert_eq!(rerun.code, 0, "iteration {i}: {}", rerun.stderr);
        assert_eq!(rerun.stdout, "big--1\nmore--1\n");
        assert!(!host::staging(&root).exists());
        for pkg in &big {
            let dir = host::package(&root, &pkg.id.to_string());
            assert_eq!(
                tarmac_archive::tree_hash(&dir).unwrap(),
                tarmac_archive::tree_hash(&repo.tree(pkg)).unwrap()
            );
        }
        // Start the next iteration from scratch (moved aside, not deleted).
        let aside = dir.path().join(format!("old-{i}"));
        std::fs::rename(&root, &aside).unwrap();
    }
    assert!(landed > 0, "no kill landed while host-extract was running");
}

#[test]
fn docs_show_current_help() {
    crate::workspace::check_help_doc(BIN, "host-extract.md");
}

#[test]
fn usage_errors_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad_pin = run(
        dir.path(),
        &["--url", "http://127.0.0.1:1/x", "--blake3", "xyz"],
    );
    assert_eq!(bad_pin.code, 2, "{}", bad_pin.stderr);
    let no_pin = run(dir.path(), &["--url", "http://127.0.0.1:1/x"]);
    assert_eq!(no_pin.code, 2, "{}", no_pin.stderr);
    let bad_id = run(
        dir.path(),
        &["--repository", "http://127.0.0.1:1", "--package", "nodash"],
    );
    assert_eq!(bad_id.code, 2, "{}", bad_id.stderr);
    assert!(!dir.path().join("packages").exists());
}

#[test]
fn plain_progress_lines_when_not_a_terminal() {
    let f = fixture();
    let path = f.bundle.path.display().to_string();
    let output = Command::new(BIN)
        .args([
            "--root",
            &f.root.display().to_string(),
            "--blake3",
            &f.bundle.blake3,
            "--url",
            &path,
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("host-extract: download"), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "terminal codes in {stderr:?}"
    );
}

#[test]
fn package_space_preflight_refuses_before_downloading_archives() {
    let f = fixture();
    for pkg in &f.pkgs {
        f.repo.add(pkg);
    }
    let nginx = Nginx::serve(&f.repo.root);
    let out = run_with(
        &f.root,
        &FAST[..FAST.len() - 4],
        &[
            "--repository",
            &nginx.url(),
            "--package",
            "alpha--1",
            "beta--2",
            "--reserve-inodes",
            &(u64::MAX / 4).to_string(),
        ],
    );
    fails_with(&out, 6, "not enough space");
    f.assert_untouched();
    let log = nginx.access_log();
    assert!(!log.contains(".tar.zst"), "archives downloaded: {log}");
}

#[test]
fn wait_blocks_until_the_lock_is_released() {
    let f = fixture();
    let lock =
        tarmac_fs::HostLock::acquire(&f.root.join(".lock"), tarmac_fs::LockWait::NoWait).unwrap();
    let path = f.bundle.path.display().to_string();
    let mut child = Command::new(BIN)
        .args(["--root", &f.root.display().to_string(), "--quiet", "--wait"])
        .args(["--blake3", &f.bundle.blake3, "--url", &path])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "did not wait for the lock"
    );
    f.assert_untouched();
    drop(lock);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), f.ids());
    f.assert_published();
}

#[test]
fn bundle_json_that_lies_is_refused_and_unsorted_is_accepted() {
    let f = fixture();
    let refs: Vec<&Pkg> = f.pkgs.iter().collect();
    let honest = f.repo.bundle(&refs);
    // Declared packages in reverse order: valid for the extractor; the
    // second run must still recognise the published bundle.
    let mut value = honest.manifest.to_json();
    value["packages"].as_array_mut().unwrap().reverse();
    let reversed = f
        .repo
        .bundle_with(&honest.manifest, value.to_string().as_bytes(), &refs);
    let path = reversed.path.display().to_string();
    for _ in 0..2 {
        let out = run(&f.root, &["--blake3", &reversed.blake3, "--url", &path]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout, f.ids());
    }

    // A tree hash that does not match the content: refused, nothing published.
    let other = tempfile::tempdir().unwrap();
    let root = other.path().join("host");
    let mut value = honest.manifest.to_json();
    value["packages"][1]["tree_hash"] = serde_json::Value::from("cd".repeat(32));
    let lying = f
        .repo
        .bundle_with(&honest.manifest, value.to_string().as_bytes(), &refs);
    let out = run(
        &root,
        &[
            "--blake3",
            &lying.blake3,
            "--url",
            &lying.path.display().to_string(),
        ],
    );
    fails_with(&out, 4, "beta--2");
    assert!(!root.join("packages/alpha--1").exists());
    assert!(!root.join("packages/beta--2").exists());
    assert!(!host::staging(&root).exists());
}

#[test]
fn fleet_on_a_flaky_network_installs_everywhere() {
    let f = fixture();
    let path = format!("/{}", f.bundle.relative);
    let len = f.bundle_bytes().len() as u64;
    let server = FaultServer::builder()
        .file(&path, f.bundle_bytes())
        .random(
            0.25,
            &[
                Fault::CutAfter(len),
                Fault::StallAfter(len),
                Fault::Status(503),
                Fault::Status(500),
                Fault::IgnoreRange,
            ],
            7,
        )
        .start();
    let url = format!("{}{path}", server.url());
    let hosts: Vec<_> = (0..12)
        .map(|i| {
            let root = f.root.with_file_name(format!("host-{i}"));
            let (url, pin) = (url.clone(), f.bundle.blake3.clone());
            std::thread::spawn(move || {
                let out = run(&root, &["--quiet", "--blake3", &pin, "--url", &url]);
                (root, out)
            })
        })
        .collect();
    for host in hosts {
        let (root, out) = host.join().unwrap();
        assert_eq!(out.code, 0, "{}: {}", root.display(), out.stderr);
        assert_eq!(out.stdout, f.ids());
        for pkg in &f.pkgs {
            let dir = host::package(&root, &pkg.id.to_string());
            assert_eq!(
                tarmac_archive::tree_hash(&dir).unwrap(),
                tarmac_archive::tree_hash(&f.repo.tree(pkg)).unwrap()
            );
        }
        assert!(!host::staging(&root).exists());
    }
    let faults = server
        .requests()
        .iter()
        .filter(|r| r.fault != Fault::Serve)
        .count();
    assert!(faults > 0, "no fault was injected");
}

/// A repository of alpha--1 and beta--2 behind the fault server, with
/// `scripts` of faults per path (relative to the repository).
fn repository_server(f: &Fixture, scripts: &[(&str, &[Fault])]) -> (FaultServer, String) {
    let mut builder = FaultServer::builder();
    for pkg in &f.pkgs {
        f.repo.add(pkg);
        for relative in [
            repository::manifest_relative(&pkg.id),
            repository::archive_relative(&pkg.id),
        ] {
            let bytes = std::fs::read(f.repo.root.join(&relative)).unwrap();
            builder = builder.file(&format!("/{relative}"), bytes);
        }
    }
    for (relative, faults) in scripts {
        builder = builder.script(&format!("/{relative}"), faults);
    }
    let server = builder.start();
    let url = server.url();
    (server, url)
}

/// How many requests the server saw per path.
fn requests_per_path(server: &FaultServer) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for request in server.requests() {
        *counts.entry(request.path).or_default() += 1;
    }
    counts
}

const ALPHA_JSON: &str = "packages/alpha/alpha--1.json";
const ALPHA_ARCHIVE: &str = "packages/alpha/alpha--1.tar.zst";
const BETA_JSON: &str = "packages/beta/beta--2.json";
const BETA_ARCHIVE: &str = "packages/beta/beta--2.tar.zst";

fn extract_packages(f: &Fixture, url: &str) -> Run {
    run(
        &f.root,
        &["--repository", url, "--package", "alpha--1", "beta--2"],
    )
}

/// Each manifest and archive of the two packages requested once.
fn every_file_once() -> std::collections::BTreeMap<String, usize> {
    counts(&[
        (ALPHA_JSON, 1),
        (ALPHA_ARCHIVE, 1),
        (BETA_JSON, 1),
        (BETA_ARCHIVE, 1),
    ])
}

fn counts(entries: &[(&str, usize)]) -> std::collections::BTreeMap<String, usize> {
    entries
        .iter()
        .map(|(path, n)| (format!("/{path}"), *n))
        .collect()
}

fn extract_packages_from(f: &Fixture, urls: &[&str]) -> Run {
    let mut args = Vec::new();
    for url in urls {
        args.extend(["--repository", url]);
    }
    args.extend(["--package", "alpha--1", "beta--2"]);
    run(&f.root, &args)
}

/// Rule 1 in package mode: mirrors are repository roots; a root that
/// served a corrupt archive is asked for nothing more in this run.
#[test]
fn corrupt_archive_drops_its_repository_and_the_next_serves() {
    let f = fixture();
    f.repo.add(&f.pkgs[0]);
    let middle = std::fs::metadata(f.repo.root.join(ALPHA_ARCHIVE))
        .unwrap()
        .len()
        / 2;
    let (bad, bad_url) = repository_server(&f, &[(ALPHA_ARCHIVE, &[Fault::Corrupt(middle)])]);
    let (good, good_url) = repository_server(&f, &[]);
    let out = extract_packages_from(&f, &[&bad_url, &good_url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, f.ids());
    f.assert_published();
    assert!(
        out.stderr
            .contains(&format!("{bad_url}/{ALPHA_ARCHIVE}: archive: ")),
        "{}",
        out.stderr
    );
    assert_eq!(
        requests_per_path(&bad),
        counts(&[(ALPHA_JSON, 1), (ALPHA_ARCHIVE, 1), (BETA_JSON, 1)])
    );
    assert_eq!(
        requests_per_path(&good),
        counts(&[(ALPHA_ARCHIVE, 1), (BETA_ARCHIVE, 1)])
    );
}

#[test]
fn package_archive_truncated_once_is_downloaded_again() {
    let f = fixture();
    let (server, url) = repository_server(&f, &[(BETA_ARCHIVE, &[Fault::Truncate(5_000)])]);
    let out = extract_packages(&f, &url);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
    assert_eq!(requests_per_path(&server)[&format!("/{BETA_ARCHIVE}")], 2);
}

#[test]
fn corrupt_manifest_drops_its_repository_for_the_archives_too() {
    let f = fixture();
    // Byte 0 is the opening brace: the damaged manifest does not parse.
    let (bad, bad_url) = repository_server(&f, &[(ALPHA_JSON, &[Fault::Corrupt(0)])]);
    let (good, good_url) = repository_server(&f, &[]);
    let out = extract_packages_from(&f, &[&bad_url, &good_url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
    assert_eq!(requests_per_path(&bad), counts(&[(ALPHA_JSON, 1)]));
    assert_eq!(requests_per_path(&good), every_file_once());
    let recorded = std::fs::read(f.root.join("packages/.manifests/alpha--1.json")).unwrap();
    let recorded: serde_json::Value = serde_json::from_slice(&recorded).unwrap();
    let served: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.repo.root.join(ALPHA_JSON)).unwrap()).unwrap();
    assert_eq!(recorded["tree_hash"], served["tree_hash"]);
}

#[test]
fn manifest_with_a_damaged_tree_hash_is_downloaded_again_with_its_archive() {
    let f = fixture();
    f.repo.add(&f.pkgs[0]);
    // A flipped bit inside the tree hash still parses: the archive then
    // fails the tree hash check; manifest and archive came from the same
    // root, which is dropped, and both are downloaded from the next.
    let text = std::fs::read_to_string(f.repo.root.join(ALPHA_JSON)).unwrap();
    let served: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hash = served["tree_hash"].as_str().unwrap();
    let at = (text.find(hash).unwrap() + 10) as u64;
    let (bad, bad_url) = repository_server(&f, &[(ALPHA_JSON, &[Fault::Corrupt(at)])]);
    let (good, good_url) = repository_server(&f, &[]);
    let out = extract_packages_from(&f, &[&bad_url, &good_url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
    assert_eq!(
        requests_per_path(&bad),
        counts(&[(ALPHA_JSON, 1), (ALPHA_ARCHIVE, 1), (BETA_JSON, 1)])
    );
    assert_eq!(
        requests_per_path(&good),
        counts(&[(ALPHA_JSON, 1), (ALPHA_ARCHIVE, 1), (BETA_ARCHIVE, 1)])
    );
    let recorded = std::fs::read(f.root.join("packages/.manifests/alpha--1.json")).unwrap();
    let recorded: serde_json::Value = serde_json::from_slice(&recorded).unwrap();
    assert_eq!(recorded["tree_hash"], served["tree_hash"]);
}

#[test]
fn package_archive_corrupt_on_the_only_repository_is_integrity_failure() {
    let f = fixture();
    let (server, url) = repository_server(
        &f,
        &[(ALPHA_ARCHIVE, &[Fault::Corrupt(3_000), Fault::Serve])],
    );
    let out = extract_packages(&f, &url);
    assert_eq!(out.code, 4, "{}", out.stderr);
    let line = first_line(&out.stderr);
    let archive_url = format!("{url}/{ALPHA_ARCHIVE}");
    assert!(
        line.contains(&format!("{url}: served bad content: {archive_url}: ")),
        "{line}"
    );
    f.assert_untouched();
    assert_eq!(requests_per_path(&server)[&format!("/{ALPHA_ARCHIVE}")], 1);
}

#[test]
fn manifest_damaged_on_the_only_repository_is_integrity_failure() {
    let f = fixture();
    let (server, url) = repository_server(&f, &[(BETA_JSON, &[Fault::Corrupt(0); 4])]);
    let out = extract_packages(&f, &url);
    assert_eq!(out.code, 4, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains(&format!("{url}: served bad content: {url}/{BETA_JSON}: ")),
        "{line}"
    );
    f.assert_untouched();
    // Nothing was downloaded beyond the manifests: the archives come after
    // every manifest checked out.
    assert_eq!(
        requests_per_path(&server),
        counts(&[(ALPHA_JSON, 1), (BETA_JSON, 1)])
    );
}

#[test]
fn tree_hash_mismatching_on_the_only_repository_is_integrity_failure() {
    let f = fixture();
    f.repo.add(&f.pkgs[0]);
    // A sidecar that consistently lies about the content, over HTTP.
    let sidecar = f.repo.root.join(ALPHA_JSON);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
    manifest["tree_hash"] = serde_json::Value::from("ab".repeat(32));
    let lying = manifest.to_string().into_bytes();
    let mut builder = FaultServer::builder().file(&format!("/{ALPHA_JSON}"), lying);
    let archive = std::fs::read(f.repo.root.join(ALPHA_ARCHIVE)).unwrap();
    builder = builder.file(&format!("/{ALPHA_ARCHIVE}"), archive);
    let server = builder.start();
    let url = server.url();
    let out = run(&f.root, &["--repository", &url, "--package", "alpha--1"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains(&format!("expected {}", "ab".repeat(32)))
            && line.contains(&format!("{url}/{ALPHA_ARCHIVE}")),
        "{line}"
    );
    f.assert_untouched();
    assert_eq!(
        requests_per_path(&server),
        counts(&[(ALPHA_JSON, 1), (ALPHA_ARCHIVE, 1)])
    );
}

/// FAST with some flags set to other values (or added).
fn fast_with(changes: &[(&'static str, &'static str)]) -> Vec<&'static str> {
    let mut flags = FAST.to_vec();
    for (name, value) in changes {
        match flags.iter().position(|f| f == name) {
            Some(at) => flags[at + 1] = value,
            None => flags.extend([*name, *value]),
        }
    }
    flags
}

impl Fixture {
    fn extract_with(&self, changes: &[(&'static str, &'static str)], urls: &[&str]) -> Run {
        let mut args = vec!["--blake3", &self.bundle.blake3];
        for url in urls {
            args.push("--url");
            args.push(url);
        }
        run_with(&self.root, &fast_with(changes), &args)
    }
}

/// Seconds between two logged requests.
fn gap(
    earlier: &tarmac_testkit::fault_server::Request,
    later: &tarmac_testkit::fault_server::Request,
) -> f64 {
    later.at.duration_since(earlier.at).as_secs_f64()
}

/// A body that ends early is transient, never 4: a well-formed short body
/// on every request ends with exit 75 once the request budget is spent.
#[test]
fn short_bodies_are_transient_never_integrity() {
    let f = fixture();
    let len = f.bundle_bytes().len() as u64;
    let (server, url) = f.fault_server(&[Fault::Truncate(len - 1000); 20]);
    let out = f.extract_with(&[("--max-requests", "5")], &[&url]);
    assert_eq!(out.code, 75, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains("request budget spent: 5 requests") && line.contains("ended early"),
        "{line}"
    );
    f.assert_untouched();
    assert_eq!(server.requests().len(), 5);

    // A resume answered with a prefix of the size announced before (same
    // validators): the next attempt completes it.
    let (server, url) = f.fault_server(&[Fault::CutAfter(50_000), Fault::Truncate(60_000)]);
    let out = f.extract(&[&url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
    let starts: Vec<_> = server.requests().iter().map(|r| r.range_start).collect();
    assert_eq!(starts, [None, Some(50_000), Some(50_000)]);
}

/// Rule 2: a trickling mirror is abandoned after the speed window and the
/// download resumed with Range on the next mirror.
#[test]
fn trickling_mirror_is_abandoned_after_the_speed_window() {
    let f = fixture();
    let (slow, slow_url) = f.fault_server(&[Fault::Trickle(5_000)]);
    let (good, good_url) = f.fault_server(&[]);
    let started = std::time::Instant::now();
    let out = f.extract_with(
        &[("--speed-limit", "100000"), ("--speed-time", "1")],
        &[&slow_url, &good_url],
    );
    let took = started.elapsed().as_secs_f64();
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
    assert!(out.stderr.contains("too slow: "), "{}", out.stderr);
    let (slow, good) = (slow.requests(), good.requests());
    assert_eq!(slow.len(), 1, "the slow mirror asked again");
    assert_eq!(good.len(), 1);
    // Abandoned after about the 1 s window (generous margin), and resumed.
    let waited = gap(&slow[0], &good[0]);
    assert!((0.9..8.0).contains(&waited), "abandoned after {waited}s");
    assert!(good[0].range_start.is_some_and(|s| s > 0), "{good:?}");
    assert!(took < 30.0, "took {took}s");
}

/// Rule 3: Retry-After in seconds; the mirror is not asked sooner, the
/// other mirror is used meanwhile.
#[test]
fn retry_after_seconds_is_honoured_per_mirror() {
    let f = fixture();
    let (a, a_url) = f.fault_server(&[Fault::RetryAfter(503, 5)]);
    let (b, b_url) = f.fault_server(&[Fault::CutAfter(50_000), Fault::RetryAfter(429, 30)]);
    let out = f.extract(&[&a_url, &b_url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
    let (a, b) = (a.requests(), b.requests());
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(b.len(), 2, "{b:?}");
    // B was used while A waited (at once; 4 s is a generous margin) ...
    assert!(
        gap(&a[0], &b[0]) < 4.0,
        "B asked {}s after A",
        gap(&a[0], &b[0])
    );
    // ... A was not asked before its 5 s, and resumed where B was cut.
    assert!(
        gap(&a[0], &a[1]) >= 5.0,
        "A asked again after {}s",
        gap(&a[0], &a[1])
    );
    assert_eq!(a[1].range_start, Some(50_000));
}

#[test]
fn retry_after_http_date_is_honoured() {
    let f = fixture();
    let (_, requests) = f.installs_through(&[Fault::RetryAfterDate(429, 3)]);
    assert_eq!(requests.len(), 2);
    // The date has whole seconds: at least 2 s of the 3 remain.
    assert!(gap(&requests[0], &requests[1]) >= 1.95, "{requests:?}");
}

/// A Retry-After beyond what --total-timeout leaves: exit 75 at once,
/// not after sleeping.
#[test]
fn retry_after_beyond_the_time_left_is_exit_75_at_once() {
    let f = fixture();
    let (server, url) = f.fault_server(&[Fault::RetryAfter(503, 3600)]);
    let started = std::time::Instant::now();
    let out = f.extract(&[&url]);
    let took = started.elapsed().as_secs_f64();
    assert_eq!(out.code, 75, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains(&url) && line.contains("retry after 3600s (Retry-After)"),
        "{line}"
    );
    // --total-timeout is 60 s: this must end long before.
    assert!(took < 20.0, "took {took}s");
    assert_eq!(server.requests().len(), 1);
    f.assert_untouched();
}

/// Rule 3: the request budget bounds a run whatever else happens.
#[test]
fn max_requests_spent_is_exit_75() {
    let f = fixture();
    let (server, url) = f.fault_server(&[Fault::Status(500); 50]);
    let out = f.extract_with(&[("--retries", "100"), ("--max-requests", "6")], &[&url]);
    assert_eq!(out.code, 75, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains(&url) && line.contains("request budget spent: 6 requests"),
        "{line}"
    );
    assert_eq!(server.requests().len(), 6);
    f.assert_untouched();
}

/// Resets after small progress reset --retries but not the request
/// budget (default 40).
#[test]
fn resets_after_small_progress_are_bounded_by_the_budget() {
    let f = fixture();
    let (server, url) = f.fault_server(&[Fault::CutAfter(1_000); 200]);
    let out = f.extract(&[&url]);
    fails_with(&out, 75, "request budget spent: 40 requests");
    assert_eq!(server.requests().len(), 40);
    f.assert_untouched();
}

/// Rule 4: content changing between attempts is never spliced: restarted
/// from byte 0 once (and installed) ...
#[test]
fn content_changing_once_restarts_from_zero() {
    let f = fixture();
    let (out, requests) = f.installs_through(&[Fault::CutAfter(50_000), Fault::Change]);
    assert!(out.stderr.contains("validators changed"), "{}", out.stderr);
    let starts: Vec<_> = requests.iter().map(|r| r.range_start).collect();
    assert_eq!(starts, [None, Some(50_000), None]);
}

/// ... and a mirror that changes again is dropped for the run.
#[test]
fn content_changing_twice_drops_the_mirror() {
    let f = fixture();
    let (server, url) = f.fault_server(&[
        Fault::CutAfter(50_000),
        Fault::Change,
        Fault::CutAfter(50_000),
        Fault::Change,
    ]);
    let out = f.extract(&[&url]);
    assert_eq!(out.code, 75, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains(&format!("{url}: content changed twice")),
        "{line}"
    );
    assert_eq!(server.requests().len(), 4);
    f.assert_untouched();
}

/// --total-timeout bounds the whole run: two package archives that take
/// about 1 s and 2.5 s fail a 3 s bound, though each alone would fit.
#[test]
fn total_timeout_bounds_a_package_run_with_several_packages() {
    let f = fixture();
    let size = |relative: &str| {
        f.repo.add(&f.pkgs[0]);
        f.repo.add(&f.pkgs[1]);
        std::fs::metadata(f.repo.root.join(relative)).unwrap().len()
    };
    let alpha = Fault::Trickle(size(ALPHA_ARCHIVE));
    let beta = Fault::Trickle(size(BETA_ARCHIVE) * 2 / 5);
    let (server, url) =
        repository_server(&f, &[(ALPHA_ARCHIVE, &[alpha]), (BETA_ARCHIVE, &[beta])]);
    let started = std::time::Instant::now();
    let out = run_with(
        &f.root,
        &fast_with(&[
            ("--total-timeout", "3"),
            ("--speed-limit", "0"),
            ("--stall-timeout", "10"),
        ]),
        &["--repository", &url, "--package", "alpha--1", "beta--2"],
    );
    let took = started.elapsed().as_secs_f64();
    fails_with(&out, 75, "total time limit of 3s");
    assert!(took < 12.0, "took {took}s");
    f.assert_untouched();
    let paths = requests_per_path(&server);
    assert_eq!(paths[&format!("/{BETA_ARCHIVE}")], 1, "{paths:?}");
}

/// Retry-After holds for the mirror, not the file: a repository root that
/// asked to wait while serving a manifest is not asked for the other
/// manifests or the archives meanwhile.
#[test]
fn retry_after_holds_for_every_file_of_the_run() {
    let f = fixture();
    let (busy, busy_url) = repository_server(&f, &[(ALPHA_JSON, &[Fault::RetryAfter(429, 60)])]);
    let (good, good_url) = repository_server(&f, &[]);
    let out = extract_packages_from(&f, &[&busy_url, &good_url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
    assert_eq!(requests_per_path(&busy), counts(&[(ALPHA_JSON, 1)]));
    assert_eq!(requests_per_path(&good), every_file_once());
}

/// Issue 12: `--pin ID=TREEHASH`. A mirror that rewrites a package
/// consistently (another self-consistent manifest and archive under the
/// same id) passes every check host-extract could make without the pin;
/// with the pin it is refused (4) when it is the only mirror, and the next
/// mirror serves the pinned package when there is one.
#[test]
fn pinned_package_rewritten_by_a_mirror_is_refused_or_taken_from_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let good = Repo::new(&dir.path().join("good"));
    let evil = Repo::new(&dir.path().join("evil"));
    let genuine = Pkg::new("dcos-config--setup_1")
        .file("pkginfo.json", b"{}", 0o644)
        .file("etc/cluster.conf", b"name=real\n", 0o644);
    let forged = Pkg::new("dcos-config--setup_1")
        .file("pkginfo.json", b"{}", 0o644)
        .file("etc/cluster.conf", b"name=forged\n", 0o644)
        .file("bin/extra", b"#!/bin/sh\n", 0o755);
    let manifest = good.add(&genuine);
    let forged_manifest = evil.add(&forged);
    assert_ne!(manifest.tree_hash, forged_manifest.tree_hash);
    let good_server = Nginx::serve(&good.root);
    let evil_server = Nginx::serve(&evil.root);
    let pin = format!("dcos-config--setup_1={}", manifest.tree_hash);
    let installed = |root: &Path, repo: &Repo, pkg: &Pkg| {
        let got = tarmac_archive::tree_hash(&root.join("packages/dcos-config--setup_1")).unwrap();
        let want = tarmac_archive::tree_hash(&repo.tree(pkg)).unwrap();
        assert_eq!(got, want);
    };

    // Without a pin the forged package installs: only the pin catches it.
    let unpinned = dir.path().join("unpinned");
    let evil_url = evil_server.url();
    let out = run(
        &unpinned,
        &[
            "--repository",
            &evil_url,
            "--package",
            "dcos-config--setup_1",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    installed(&unpinned, &evil, &forged);
    // ... and a later pinned run refuses what its local manifest records.
    let out = run(
        &unpinned,
        &[
            "--repository",
            &good_server.url(),
            "--package",
            "dcos-config--setup_1",
            "--pin",
            &pin,
        ],
    );
    fails_with(
        &out,
        4,
        ".manifests/dcos-config--setup_1.json: package dcos-config--setup_1 is not the pinned one",
    );

    // The forged mirror alone: exit 4, nothing published.
    let alone = dir.path().join("alone");
    let out = run(
        &alone,
        &[
            "--repository",
            &evil_url,
            "--package",
            "dcos-config--setup_1",
            "--pin",
            &pin,
        ],
    );
    assert_eq!(out.code, 4, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains(&format!(
            "{evil_url}/packages/dcos-config/dcos-config--setup_1.json: package dcos-config--setup_1 is not the pinned one: tree hash expected {}",
            manifest.tree_hash
        )),
        "{line}"
    );
    assert!(!alone.join("packages/dcos-config--setup_1").exists());
    assert!(!host::staging(&alone).exists());

    // The forged mirror first, a good one next: installed from the good one.
    let both = dir.path().join("both");
    let before = good_server.access_log().lines().count();
    let out = run(
        &both,
        &[
            "--repository",
            &evil_url,
            "--repository",
            &good_server.url(),
            "--package",
            "dcos-config--setup_1",
            "--pin",
            &pin,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    installed(&both, &good, &genuine);
    let log = good_server.access_log();
    let fetched: Vec<&str> = log.lines().skip(before).collect();
    assert!(
        fetched
            .iter()
            .any(|l| l.contains("dcos-config--setup_1.tar.zst")),
        "{fetched:?}"
    );
    // A wrong pin format is a usage error.
    let out = run(
        &both,
        &[
            "--repository",
            &evil_url,
            "--package",
            "dcos-config--setup_1",
            "--pin",
            "dcos-config--setup_1",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
}

/// Issue 12: a mirror serving another bundle under the pinned bundle's
/// path (same ids, other content: the blake3 differs) is passed over: the
/// fresh download after the mismatch starts at the next mirror.
#[test]
fn bundle_from_a_mirror_serving_another_bundle_comes_from_the_next() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let evil = Repo::new(&dir.path().join("evil"));
    let forged: Vec<Pkg> = f
        .pkgs
        .iter()
        .map(|p| Pkg::new(&p.id.to_string()).file("bin/forged", b"#!/bin/sh\n", 0o755))
        .collect();
    let forged_bundle = evil.bundle(&forged.iter().collect::<Vec<_>>());
    assert_eq!(forged_bundle.relative, f.bundle.relative);
    assert_ne!(forged_bundle.blake3, f.bundle.blake3);
    let evil_server = Nginx::serve(&evil.root);
    let good_server = Nginx::serve(&f.repo.root);
    let evil_url = format!("{}/{}", evil_server.url(), f.bundle.relative);
    let good_url = format!("{}/{}", good_server.url(), f.bundle.relative);
    let out = f.extract(&[&evil_url, &good_url]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    f.assert_published();
    assert_eq!(evil_server.access_log().lines().count(), 1);
    assert_eq!(good_server.access_log().lines().count(), 1);
}

/// Local mirrors (paths) are read once each, in turn: a pinned package
/// rewritten in the first is taken from the second.
#[test]
fn pinned_package_from_local_mirrors_is_taken_from_the_one_that_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = Repo::new(&dir.path().join("good"));
    let evil = Repo::new(&dir.path().join("evil"));
    let manifest = good.add(&Pkg::new("cfg--1").file("etc/a", b"real\n", 0o644));
    evil.add(&Pkg::new("cfg--1").file("etc/a", b"forged\n", 0o644));
    let root = dir.path().join("host");
    let pin = format!("cfg--1={}", manifest.tree_hash);
    let (evil_path, good_path) = (
        evil.root.display().to_string(),
        good.root.display().to_string(),
    );
    let out = run(
        &root,
        &[
            "--repository",
            &evil_path,
            "--repository",
            &good_path,
            "--package",
            "cfg--1",
            "--pin",
            &pin,
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read(root.join("packages/cfg--1/etc/a")).unwrap(),
        b"real\n"
    );
}

// --package-file: a locally built package (issue 14 § 3).

/// A repository holding alpha--1 and beta--2 (archive + sidecar each), and
/// an empty host root.
impl Fixture {
    /// `host-extract --package-file ARCHIVE [--manifest MANIFEST]`.
    fn add_file(&self, archive: &Path, manifest: Option<&Path>) -> Run {
        let mut args = vec!["--package-file", archive.to_str().unwrap()];
        if let Some(manifest) = manifest {
            args.extend(["--manifest", manifest.to_str().unwrap()]);
        }
        run(&self.root, &args)
    }
}

fn package_files() -> Fixture {
    let f = fixture();
    for pkg in &f.pkgs {
        f.repo.add(pkg);
    }
    f
}

impl Fixture {
    fn archive(&self, id: &str) -> PathBuf {
        let name = id.split("--").next().unwrap();
        self.repo
            .root
            .join("packages")
            .join(name)
            .join(format!("{id}.tar.zst"))
    }

    fn sidecar(&self, id: &str) -> PathBuf {
        self.archive(id).with_extension("").with_extension("json")
    }

    /// Nothing of `id` published or recorded, nothing staged.
    fn assert_not_published(&self, id: &str) {
        let packages = self.root.join("packages");
        assert!(!packages.join(id).exists(), "{id} published");
        assert!(
            !packages.join(format!(".manifests/{id}.json")).exists(),
            "{id} recorded"
        );
        assert!(!packages.join(".staging").exists(), "staging left");
    }
}

#[test]
fn package_file_adds_a_local_package_then_only_verifies_it() {
    let f = package_files();
    let archive = f.archive("alpha--1");
    assert!(f.sidecar("alpha--1").is_file());
    let first = run(
        &f.root,
        &["--package-file", archive.to_str().unwrap(), "--json"],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let value: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    assert_eq!(value["format"], 1);
    assert_eq!(value["packages"], serde_json::json!(["alpha--1"]));
    assert_eq!(value["fetched"], serde_json::json!(["alpha--1"]));
    assert_eq!(
        value["downloaded_bytes"],
        std::fs::metadata(&archive).unwrap().len()
    );
    let dir = f.root.join("packages/alpha--1");
    assert_eq!(
        tarmac_archive::tree_hash(&dir).unwrap(),
        tarmac_archive::tree_hash(&f.repo.tree(&f.pkgs[0])).unwrap()
    );
    // The manifest is recorded as in the other modes (verify reads it).
    let recorded = std::fs::read(f.root.join("packages/.manifests/alpha--1.json")).unwrap();
    let recorded = tarmac_model::PackageManifest::parse("recorded", &recorded).unwrap();
    let sidecar = std::fs::read(f.sidecar("alpha--1")).unwrap();
    assert_eq!(
        recorded,
        tarmac_model::PackageManifest::parse("sidecar", &sidecar).unwrap()
    );
    assert!(!host::staging(&f.root).exists());

    // Present: verified, not extracted again; the plain output is the id.
    let second = f.add_file(&archive, None);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.stdout, "alpha--1\n");

    // A present package that was modified is exit 4, and left as it is.
    std::fs::write(dir.join("etc/alpha.conf"), b"x=2\n").unwrap();
    let third = f.add_file(&archive, None);
    assert_eq!(third.code, 4, "{}", third.stderr);
    let line = first_line(&third.stderr);
    assert!(
        line.contains(&dir.display().to_string()) && line.contains("was modified"),
        "{line}"
    );
    assert_eq!(std::fs::read(dir.join("etc/alpha.conf")).unwrap(), b"x=2\n");
}

#[test]
fn package_file_with_an_explicit_manifest_and_a_renamed_archive() {
    let f = package_files();
    let copied = f.root.with_extension("copied");
    std::fs::create_dir_all(&copied).unwrap();
    let archive = copied.join("patched.tar.zst");
    std::fs::copy(f.archive("beta--2"), &archive).unwrap();
    // No sidecar beside a renamed archive: exit 3 naming the file looked for.
    let missing = f.add_file(&archive, None);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    let line = first_line(&missing.stderr);
    assert!(
        line.contains(&copied.join("patched.json").display().to_string())
            && line.contains("no such file")
            && line.contains("--manifest"),
        "{line}"
    );
    f.assert_not_published("beta--2");
    let sidecar = f.sidecar("beta--2");
    let ok = f.add_file(&archive, Some(&sidecar));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stdout, "beta--2\n");
    assert!(f.root.join("packages/beta--2/pkginfo.json").is_file());
}

#[test]
fn package_file_missing_manifest_or_archive_is_invalid_naming_the_file() {
    let f = package_files();
    let archive = f.archive("alpha--1");
    std::fs::remove_file(f.sidecar("alpha--1")).unwrap();
    let out = f.add_file(&archive, None);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains(&f.sidecar("alpha--1").display().to_string())
            && line.contains("no such file"),
        "{line}"
    );
    f.assert_not_published("alpha--1");

    let nowhere = f.root.with_extension("nowhere.json");
    let out = f.add_file(&archive, Some(&nowhere));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        first_line(&out.stderr).contains(&nowhere.display().to_string()),
        "{}",
        out.stderr
    );

    // A manifest that is not one: exit 3, naming it.
    let bad = f.root.with_extension("bad.json");
    std::fs::write(&bad, b"{\"id\": \"alpha--1\"}").unwrap();
    let out = f.add_file(&archive, Some(&bad));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        first_line(&out.stderr).contains(&bad.display().to_string()),
        "{}",
        out.stderr
    );

    // The archive itself missing (its sidecar present): exit 3 naming it.
    let sidecar = f.sidecar("beta--2");
    let gone = f.archive("beta--2");
    std::fs::remove_file(&gone).unwrap();
    let out = f.add_file(&gone, Some(&sidecar));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        first_line(&out.stderr).contains(&gone.display().to_string()),
        "{}",
        out.stderr
    );
    f.assert_not_published("alpha--1");
    f.assert_not_published("beta--2");
}

/// `--package-file ARCHIVE` is refused as a broken archive (exit 3), the
/// first error line names the file, and nothing is published.
fn refused_naming(f: &Fixture, archive: &Path) {
    let out = f.add_file(archive, None);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        first_line(&out.stderr).contains(&archive.display().to_string()),
        "{}",
        out.stderr
    );
    f.assert_not_published("alpha--1");
}

#[test]
fn package_file_corrupt_or_truncated_archive_publishes_nothing() {
    let f = package_files();
    let archive = f.archive("alpha--1");
    let bytes = std::fs::read(&archive).unwrap();
    // Cut in half: the archive ends mid-way, which for a local file is a
    // broken archive (exit 3), not a short download.
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    refused_naming(&f, &archive);

    // Garbage in the middle of the zstd stream: refused, nothing published.
    let mut corrupt = bytes.clone();
    let middle = corrupt.len() / 2;
    for b in &mut corrupt[middle..middle + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&archive, &corrupt).unwrap();
    refused_naming(&f, &archive);

    // The archive whole again: it publishes (the failures left nothing in the way).
    std::fs::write(&archive, &bytes).unwrap();
    let out = f.add_file(&archive, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn package_file_not_matching_its_manifest_is_integrity_and_publishes_nothing() {
    let f = package_files();
    let archive = f.archive("alpha--1");
    let sidecar = f.sidecar("alpha--1");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
    let beta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.sidecar("beta--2")).unwrap()).unwrap();
    // The sidecar of another build: same id and totals, another tree hash.
    manifest["tree_hash"] = beta["tree_hash"].clone();
    std::fs::write(&sidecar, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let out = f.add_file(&archive, None);
    assert_eq!(out.code, 4, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains(&archive.display().to_string()) && line.contains("tree hash"),
        "{line}"
    );
    f.assert_not_published("alpha--1");

    // Another package's manifest for this archive: refused too.
    let out = run(
        &f.root,
        &[
            "--package-file",
            archive.to_str().unwrap(),
            "--manifest",
            f.sidecar("beta--2").to_str().unwrap(),
        ],
    );
    // alpha's content outgrows the totals beta--2.json declares: the
    // extractor's limit (exit 3, as in package mode) stops it first.
    fails_with(&out, 3, "beta--2.json exceeds the limit");
    f.assert_not_published("beta--2");
}

#[test]
fn package_file_never_replaces_a_present_package_of_the_same_id() {
    let f = package_files();
    let archive = f.archive("alpha--1");
    let out = f.add_file(&archive, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Another alpha--1, rebuilt with other content under the same id.
    let other = tarmac_testkit::repo::Repo::new(&f.root.with_extension("other"));
    let rebuilt = Pkg::new("alpha--1").file("bin/alpha", b"#!/bin/sh\necho patched\n", 0o755);
    other.add(&rebuilt);
    let path = other.root.join("packages/alpha/alpha--1.tar.zst");
    let before = tarmac_archive::tree_hash(&f.root.join("packages/alpha--1")).unwrap();
    let out = f.add_file(&path, None);
    assert_eq!(out.code, 4, "{}", out.stderr);
    let line = first_line(&out.stderr);
    assert!(
        line.contains("alpha--1.json")
            && line.contains("already present")
            && line.contains("never replaced"),
        "{line}"
    );
    assert_eq!(
        tarmac_archive::tree_hash(&f.root.join("packages/alpha--1")).unwrap(),
        before
    );
}

#[test]
fn package_file_refuses_a_held_host_lock_and_mixed_modes() {
    let f = package_files();
    std::fs::create_dir_all(&f.root).unwrap();
    let lock =
        tarmac_fs::HostLock::acquire(&f.root.join(".lock"), tarmac_fs::LockWait::NoWait).unwrap();
    let archive = f.archive("alpha--1");
    let out = f.add_file(&archive, None);
    assert_eq!(out.code, 5, "{}", out.stderr);
    f.assert_not_published("alpha--1");
    drop(lock);
    // One mode per run; --manifest only with --package-file: usage, exit 2.
    let sidecar = f.sidecar("alpha--1");
    for args in [
        vec!["--package-file", archive.to_str().unwrap(), "--url", "x"],
        vec![
            "--package-file",
            archive.to_str().unwrap(),
            "--repository",
            "x",
            "--package",
            "alpha--1",
        ],
        vec![
            "--manifest",
            sidecar.to_str().unwrap(),
            "--repository",
            "x",
            "--package",
            "alpha--1",
        ],
    ] {
        let out = run(&f.root, &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    }
    f.assert_not_published("alpha--1");
}
