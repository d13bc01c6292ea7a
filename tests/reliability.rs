//! The reliability suite (issue 7): kill loops over pkg-activate's
//! activate, rollback and gc and over host-extract; full, inode-starved and
//! read-only filesystems (loop-mounted ext4 images); two runs at once on
//! one host. Every case runs the real binaries on temp roots and checks the
//! resulting tree, not just exit codes.
//!
//! Counts come from one knob, `TARMAC_KILLS` (default 100 kills per
//! operation; `scripts/reliability.sh --long` sets 500). Each loop prints
//! its runs, kills and outcomes on stderr (`--nocapture` to see them).
//! The network fleet (20 hosts, 5% faults) lives in `tests/fleet.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tarmac_testkit::cmd::{Run, Runs};
use tarmac_testkit::disk::{count, LoopFs};
use tarmac_testkit::fault_server::{Fault, FaultServer};
use tarmac_testkit::host::Host;
use tarmac_testkit::kill::{kill_after, Rng};
use tarmac_testkit::nginx::Nginx;
use tarmac_testkit::packages::PkgFixture;
use tarmac_testkit::repo::{Pkg, Repo};

// Fast retries and no reserve: the images are tiny on purpose.
use crate::host_extract::FAST;
use crate::workspace::Activate;

const EXTRACT: &str = env!("CARGO_BIN_EXE_host-extract");

fn names(dir: &Path) -> BTreeSet<String> {
    match std::fs::read_dir(dir) {
        Ok(read) => read
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

// ---------------------------------------------------------------- pkg-activate

/// What the kill loops ask of a pkg-activate host (a
/// [`tarmac_testkit::host::Host`]): its current generation, the
/// generations on disk, and that `recover` left nothing behind.
trait Generations {
    fn current(&self) -> (u64, Vec<String>);
    fn current_or_none(&self) -> (u64, Vec<String>);
    fn generations(&self) -> BTreeSet<String>;
    fn generation_packages(&self, n: &str) -> Vec<String>;
    fn assert_clean(&self, context: &str);
}

impl Generations for Host {
    /// (current generation, its package ids) from a healthy status.
    fn current(&self) -> (u64, Vec<String>) {
        let status = self.status();
        assert_eq!(status["healthy"], json!(true), "{status}");
        (
            status["current"].as_u64().expect("a current generation"),
            serde_json::from_value(status["packages"].clone()).unwrap(),
        )
    }

    /// Like [`Host::current`], but (0, []) before the first activation.
    fn current_or_none(&self) -> (u64, Vec<String>) {
        if self.root().join("current").exists() {
            self.current()
        } else {
            (0, Vec::new())
        }
    }

    fn generations(&self) -> BTreeSet<String> {
        names(&self.root().join("generations"))
    }

    /// Package ids recorded in generation `n`'s generation.json.
    fn generation_packages(&self, n: &str) -> Vec<String> {
        let path = self
            .root()
            .join("generations")
            .join(n)
            .join("generation.json");
        let record: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut ids: Vec<String> = serde_json::from_value(record["packages"].clone()).unwrap();
        ids.sort();
        ids
    }

    /// After `recover`: no staging, trash or half-removed package; every
    /// generation left is complete and all its packages are present.
    fn assert_clean(&self, context: &str) {
        for name in self.generations() {
            assert!(name.parse::<u64>().is_ok(), "{context}: debris {name}");
            for id in self.generation_packages(&name) {
                assert!(
                    self.root().join("packages").join(&id).is_dir(),
                    "{context}: generation {name} lost {id}"
                );
            }
        }
        for name in names(&self.root().join("packages")) {
            assert!(
                !name.starts_with(".removing-") && !name.starts_with(".staging"),
                "{context}: debris packages/{name}"
            );
        }
    }
}

/// Two versions of one service and a tool: two package sets to switch
/// between. Any of them missing (gc collected it) is added again.
fn sets(host: &Host) -> (Vec<String>, Vec<String>) {
    let fixtures = [
        PkgFixture::new("svc", "1")
            .file("bin/svc", b"1", 0o755)
            .file("lib/svc/mod.py", b"1", 0o644)
            .file("dcos.target.wants/svc.service", b"[Service]\n#1\n", 0o644)
            .env("SVC", "1"),
        PkgFixture::new("svc", "2")
            .file("bin/svc", b"2", 0o755)
            .file("lib/svc/mod.py", b"2", 0o644)
            .file("dcos.target.wants/svc2.service", b"[Service]\n#2\n", 0o644)
            .env("SVC", "2"),
        PkgFixture::new("tool", "1")
            .file("bin/tool", b"t", 0o755)
            .file("lib/svc/extra.py", b"e", 0o644),
    ];
    let mut ids = Vec::new();
    for fixture in fixtures {
        let id = fixture.id();
        if !host.root().join("packages").join(&id).exists() {
            host.add(fixture);
        }
        ids.push(id);
    }
    let mut b = vec![ids[1].clone(), ids[2].clone()];
    b.sort();
    (vec![ids[0].clone()], b)
}

/// A 40-file package nobody uses, for gc to delete.
const JUNK_FILES: usize = 40;

fn junk(host: &Host, i: u64) -> String {
    let mut fixture = PkgFixture::new("junk", &i.to_string());
    for f in 0..JUNK_FILES {
        fixture = fixture.file(&format!("lib/junk/f{f}"), b"junk", 0o644);
    }
    host.add(fixture)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Activate,
    Rollback,
    Gc,
}

#[test]
fn pkg_activate_kill_loop_over_activate_rollback_and_gc() {
    let target = count("TARMAC_KILLS", 100);
    let host = Host::new(&[]);
    let (a, b) = sets(&host);
    let activate = |ids: &[String]| {
        let mut args = vec!["activate".to_string()];
        args.extend(ids.iter().cloned());
        args.extend(["--keep".into(), "4".into()]);
        args
    };
    let (args_a, args_b) = (activate(&a), activate(&b));
    let mut windows = kill_windows(&host, &args_a, &args_b);

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let ops = [Op::Activate, Op::Rollback, Op::Gc];
    let mut runs = [0u64; 3];
    let mut kills = [0u64; 3];
    // Per op, killed runs that left the old state / the new one.
    let mut outcomes = [[0u64; 2]; 3];
    let limit = target * 3 * 6;
    let mut i = 0u64;
    while kills.iter().any(|k| *k < target) {
        assert!(
            i < limit,
            "{i} runs, kills only {kills:?}: windows too short"
        );
        let k = (i % 3) as usize;
        i += 1;
        if kills[k] >= target {
            continue;
        }
        let op = ops[k];
        if op == Op::Rollback {
            make_a_generation_to_roll_back_from(&host, &a, &args_a, &args_b);
        }
        let (old, old_ids) = host.current();
        let before = host.generations();
        let args: Vec<String> = match op {
            Op::Activate if old_ids == a => args_b.clone(),
            Op::Activate => args_a.clone(),
            Op::Rollback => vec!["rollback".into()],
            Op::Gc => {
                junk(&host, i);
                vec!["gc".into(), "--keep".into(), "1".into()]
            }
        };
        // What a rollback would switch to.
        let previous = before
            .iter()
            .filter_map(|g| g.parse::<u64>().ok())
            .filter(|g| *g < old)
            .max();
        let previous_ids = previous.map(|p| host.generation_packages(&p.to_string()));
        let child = host
            .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        runs[k] += 1;
        let landed = kill_after(child, &mut rng, &mut windows[k]);
        kills[k] += u64::from(landed);

        let context = format!("run {i} ({op:?}, killed: {landed})");
        let (now, now_ids) = recover_cleanly(&host, &context);
        let changed = now != old;
        match op {
            Op::Activate => {
                if changed {
                    assert!(now > old, "{context}: {old} -> {now}");
                    let mut want: Vec<&str> =
                        args[1..args.len() - 2].iter().map(String::as_str).collect();
                    want.sort();
                    assert_eq!(now_ids, want, "{context}");
                } else {
                    assert_eq!(now_ids, old_ids, "{context}");
                }
            }
            Op::Rollback => {
                if changed {
                    assert_eq!(Some(now), previous, "{context}: {old} -> {now}");
                    assert_eq!(Some(now_ids), previous_ids, "{context}");
                } else {
                    assert_eq!(now_ids, old_ids, "{context}");
                }
            }
            Op::Gc => {
                assert_eq!(
                    (now, &now_ids),
                    (old, &old_ids),
                    "{context}: gc moved current"
                );
                let gone = junk_whole_or_gone(&host, i, &context);
                if landed {
                    outcomes[k][usize::from(gone)] += 1;
                }
                // Finish the collection so the next gc run has fresh
                // work, and put back the sets it collected.
                host.ok(&["gc", "--keep", "1"]);
                sets(&host);
                continue;
            }
        }
        if landed {
            outcomes[k][usize::from(changed)] += 1;
        }
    }
    for (k, op) in ops.iter().enumerate() {
        eprintln!(
            "pkg-activate {op:?}: {} runs, {} killed ({} left the old state, {} the new), window {:?}",
            runs[k], kills[k], outcomes[k][0], outcomes[k][1], windows[k]
        );
    }
    for k in 0..3 {
        assert!(kills[k] >= target, "{:?}: {} kills", ops[k], kills[k]);
    }
}

/// One unkilled run of each op to size its kill window (1.5x a run; an
/// activation's from one of each direction): [activate, rollback, gc].
fn kill_windows(host: &Host, args_a: &[String], args_b: &[String]) -> [Duration; 3] {
    let timed = |args: &[String]| {
        let started = Instant::now();
        host.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        started.elapsed()
    };
    let w_activate = timed(args_a) + timed(args_b);
    let w_rollback = timed(&["rollback".to_string()]) * 3 / 2;
    junk(host, 0);
    let w_gc = timed(&["gc".to_string(), "--keep".into(), "1".into()]) * 3 / 2;
    [w_activate * 3 / 4, w_rollback, w_gc]
}

/// gc and earlier rollbacks may have left nothing older than current:
/// makes one more generation (the other set) to roll back from.
fn make_a_generation_to_roll_back_from(
    host: &Host,
    a: &[String],
    args_a: &[String],
    args_b: &[String],
) {
    let (current, ids) = host.current();
    let older = host
        .generations()
        .iter()
        .filter_map(|g| g.parse::<u64>().ok())
        .any(|g| g < current);
    if !older {
        let other = if ids == a { args_b } else { args_a };
        host.ok(&other.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

/// After a (maybe killed) run: `recover` succeeds and leaves a clean host;
/// returns its current generation.
fn recover_cleanly(host: &Host, context: &str) -> (u64, Vec<String>) {
    let out = host.run(&["recover"]);
    assert!(out.status.success(), "{context}: recover: {}", out.stderr);
    let current = host.current();
    host.assert_clean(context);
    current
}

/// The junk package of run `i`: whole or gone, never half-deleted; true
/// when gone.
fn junk_whole_or_gone(host: &Host, i: u64, context: &str) -> bool {
    let dir = host.root().join("packages").join(format!("junk--{i}"));
    let left = names(&dir.join("lib/junk")).len();
    assert!(
        left == 0 || left == JUNK_FILES,
        "{context}: {left} files left"
    );
    !dir.exists()
}

// ---------------------------------------------------------------- host-extract

fn extract(root: &Path, args: &[&str]) -> Run {
    Command::new(EXTRACT)
        .arg("--root")
        .arg(root)
        .args(FAST)
        .args(args)
        .stdin(Stdio::null())
        .run()
}

/// Each package of `pkgs` under `root` is absent or equal to its source
/// tree; returns how many are present. Nothing else but the bookkeeping
/// directories is in packages/.
fn published(root: &Path, repo: &Repo, pkgs: &[Pkg], context: &str) -> usize {
    let mut present = 0;
    let ids: BTreeSet<String> = pkgs.iter().map(|p| p.id.to_string()).collect();
    for name in names(&root.join("packages")) {
        assert!(
            ids.contains(&name) || [".staging", ".manifests", ".bundles"].contains(&name.as_str()),
            "{context}: unexpected packages/{name}"
        );
    }
    for pkg in pkgs {
        let dir = root.join("packages").join(pkg.id.to_string());
        if dir.exists() {
            assert_eq!(
                tarmac_archive::tree_hash(&dir).unwrap(),
                tarmac_archive::tree_hash(&repo.tree(pkg)).unwrap(),
                "{context}: {} published incomplete",
                pkg.id
            );
            present += 1;
        }
    }
    present
}

#[test]
fn host_extract_kill_loop() {
    let target = count("TARMAC_KILLS", 100);
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(&dir.path().join("repo"));
    let pkgs = vec![
        Pkg::new("big--1").bulk("data", 24, 48 * 1024),
        Pkg::new("more--1")
            .bulk("data", 24, 48 * 1024)
            .file("bin/x", b"x", 0o755),
    ];
    let bundle = repo.bundle(&pkgs.iter().collect::<Vec<_>>());
    let nginx = Nginx::serve(&repo.root);
    let url = format!("{}/{}", nginx.url(), bundle.relative);
    let args = ["--quiet", "--blake3", &bundle.blake3, "--url", &url];
    let ids = "big--1\nmore--1\n";

    let started = Instant::now();
    let first = extract(&dir.path().join("timing"), &args);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let mut window = started.elapsed() * 3 / 2;

    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let (mut runs, mut kills) = (0u64, 0u64);
    // Killed runs that left 0, 1 or 2 packages published.
    let mut outcomes = [0u64; 3];
    while kills < target {
        assert!(
            runs < target * 6,
            "{runs} runs, {kills} kills: window too short"
        );
        let root = dir.path().join(format!("host-{runs}"));
        let child = Command::new(EXTRACT)
            .arg("--root")
            .arg(&root)
            .args(FAST)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        runs += 1;
        let landed = kill_after(child, &mut rng, &mut window);
        let context = format!("run {runs} (killed: {landed})");
        let present = published(&root, &repo, &pkgs, &context);
        if landed {
            kills += 1;
            outcomes[present] += 1;
        }
        // Recovery is the next run: it removes staging and completes.
        let rerun = extract(&root, &args);
        assert_eq!(rerun.code, 0, "{context}: {}", rerun.stderr);
        assert_eq!(rerun.stdout, ids, "{context}");
        assert_eq!(published(&root, &repo, &pkgs, &context), 2);
        assert!(!root.join("packages/.staging").exists(), "{context}");
        std::fs::remove_dir_all(&root).unwrap();
    }
    eprintln!(
        "host-extract: {runs} runs, {kills} killed (published 0/1/2 packages: {}/{}/{}), window {window:?}",
        outcomes[0], outcomes[1], outcomes[2]
    );
}

// ---------------------------------------------------------------- disk

/// The error line (progress lines may come first).
fn error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.contains(": error: "))
        .unwrap_or_else(|| panic!("no error line in {stderr:?}"))
}

fn loop_fs(megabytes: u64, inodes: Option<u32>) -> Option<LoopFs> {
    if LoopFs::available() {
        Some(LoopFs::new(megabytes, inodes))
    } else {
        tarmac_testkit::skip("loop-mounted ext4 needs root and mkfs.ext4");
        None
    }
}

#[test]
fn host_extract_preflight_refuses_what_does_not_fit_before_writing() {
    let Some(fs) = loop_fs(16, None) else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(&dir.path().join("repo"));
    // 20 MiB of incompressible content for a 16 MiB filesystem.
    let big = Pkg::new("big--1").bulk("data", 20, 1 << 20);
    let bundle = repo.bundle(&[&big]);
    repo.add(&big);
    let root = fs.mount().join("host");
    let before = fs.free();
    let out = extract(
        &root,
        &[
            "--blake3",
            &bundle.blake3,
            "--url",
            &bundle.path.display().to_string(),
        ],
    );
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(
        error_line(&out.stderr).contains("not enough space"),
        "{}",
        out.stderr
    );
    assert_eq!(
        published(&root, &repo, std::slice::from_ref(&big), "bundle"),
        0
    );
    assert!(!root.join("packages/.staging").exists());
    // Nothing written beyond a few directory blocks.
    assert!(
        before.0 - fs.free().0 < 64 * 1024,
        "{before:?} {:?}",
        fs.free()
    );

    // Package mode: refused from the manifest, the archive never requested.
    let nginx = Nginx::serve(&repo.root);
    let out = extract(
        &root,
        &["--repository", &nginx.url(), "--package", "big--1"],
    );
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert_eq!(published(&root, &repo, &[big], "package"), 0);
    assert!(!nginx.access_log().contains(".tar.zst"));

    // Inodes: 300 small files on a filesystem with about 64 inodes.
    let Some(small) = loop_fs(8, Some(64)) else {
        return;
    };
    let many = Pkg::new("many--1").bulk("f", 300, 16);
    let few = Pkg::new("few--1").file("bin/few", b"few", 0o755);
    let many_bundle = repo.bundle(&[&many]);
    let few_bundle = repo.bundle(&[&few]);
    let root = small.mount().join("host");
    let out = extract(
        &root,
        &[
            "--blake3",
            &many_bundle.blake3,
            "--url",
            &many_bundle.path.display().to_string(),
        ],
    );
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert!(error_line(&out.stderr).contains("inodes"), "{}", out.stderr);
    assert_eq!(
        published(&root, &repo, &[many.clone(), few.clone()], "inodes"),
        0
    );
    // What fits still installs on the same filesystem.
    let out = extract(
        &root,
        &[
            "--blake3",
            &few_bundle.blake3,
            "--url",
            &few_bundle.path.display().to_string(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(published(&root, &repo, &[many, few], "control"), 1);
}

#[test]
fn host_extract_space_vanishing_mid_way_keeps_the_old_state() {
    let Some(fs) = loop_fs(40, None) else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(&dir.path().join("repo"));
    let old = Pkg::new("old--1").file("bin/old", b"old", 0o755);
    let new = Pkg::new("new--1").bulk("data", 16, 1 << 20);
    let old_bundle = repo.bundle(&[&old]);
    let new_bundle = repo.bundle(&[&old, &new]);
    let root = fs.mount().join("host");
    let out = extract(
        &root,
        &[
            "--blake3",
            &old_bundle.blake3,
            "--url",
            &old_bundle.path.display().to_string(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    // The server stalls a quarter into the new bundle; meanwhile another
    // process takes every free block; the retry resumes into a full disk.
    let bytes = std::fs::read(&new_bundle.path).unwrap();
    let path = format!("/{}", new_bundle.relative);
    let server = FaultServer::builder()
        .file(&path, bytes.clone())
        .script(&path, &[Fault::StallAfter(bytes.len() as u64 / 4)])
        .start();
    let url = format!("{}{path}", server.url());
    let mut flags: Vec<&str> = FAST.to_vec();
    flags[7] = "3"; // --stall-timeout 3: time to fill the disk
    let child = Command::new(EXTRACT)
        .arg("--root")
        .arg(&root)
        .args(&flags)
        .args(["--quiet", "--blake3", &new_bundle.blake3, "--url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let staged = root.join("packages/.staging/packages/new--1");
    let started = Instant::now();
    while !staged.exists() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(staged.exists(), "extraction never started");
    let filler = fs.fill_bytes("midway");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(error_line(&stderr).contains("No space left"), "{stderr}");
    let pkgs = [old.clone(), new.clone()];
    assert_eq!(published(&root, &repo, &pkgs, "midway"), 1);
    assert!(root.join("packages/old--1").exists());
    assert!(!root.join("packages/.staging").exists(), "staging left");

    std::fs::remove_file(&filler).unwrap();
    let out = extract(
        &root,
        &["--quiet", "--blake3", &new_bundle.blake3, "--url", &url],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(published(&root, &repo, &pkgs, "after"), 2);
}

#[test]
fn pkg_activate_on_a_full_disk_keeps_the_current_generation() {
    let Some(fs) = loop_fs(16, Some(2048)) else {
        return;
    };
    let host = Host::at(&fs.mount().join("host"), &[]);
    let (a, b) = sets(&host);
    let activate = |ids: &[String]| {
        let mut args = vec!["activate"];
        args.extend(ids.iter().map(String::as_str));
        host.run(&args)
    };
    assert!(activate(&a).status.success());
    for (what, fill) in [("bytes", true), ("inodes", false)] {
        let (old, old_ids) = host.current();
        let filler = if fill {
            fs.fill_bytes(what)
        } else {
            fs.fill_inodes(what)
        };
        let next = if old_ids == a { &b } else { &a };
        let out = activate(next);
        let stderr = out.stderr.as_str();
        assert_eq!(out.status.code(), Some(6), "{what}: {stderr}");
        assert!(
            error_line(stderr).contains("No space left"),
            "{what}: {stderr}"
        );
        // The old generation stays current and whole.
        assert_eq!(
            std::fs::read_link(host.root().join("current")).unwrap(),
            PathBuf::from(format!("generations/{old}"))
        );
        if fill {
            std::fs::remove_file(&filler).unwrap();
        } else {
            std::fs::remove_dir_all(&filler).unwrap();
        }
        assert_eq!(host.current(), (old, old_ids.clone()), "{what}");
        // The next run removes any staging generation and succeeds.
        let out = activate(next);
        assert!(out.status.success(), "{what}: {}", out.stderr.as_str());
        host.assert_clean(what);
        assert!(
            host.generations().iter().all(|g| !g.starts_with('.')),
            "{what}"
        );
        assert_eq!(host.current().0, old + 1);
    }
}

#[test]
fn read_only_root_changes_nothing() {
    let Some(fs) = loop_fs(16, None) else { return };
    let host = Host::at(&fs.mount().join("host"), &[]);
    let (a, b) = sets(&host);
    let mut args = vec!["activate"];
    args.extend(a.iter().map(String::as_str));
    host.ok(&args);
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(&dir.path().join("repo"));
    let pkg = Pkg::new("ro--1").file("bin/ro", b"ro", 0o755);
    let bundle = repo.bundle(&[&pkg]);
    fs.remount(true);
    let mut args = vec!["activate"];
    args.extend(b.iter().map(String::as_str));
    let out = host.run(&args);
    let stderr = out.stderr.as_str();
    // Refused at the lock, before anything: a runtime failure (exit 1)
    // naming the file, not a space problem.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        error_line(stderr).contains("Read-only file system"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_link(host.root().join("current")).unwrap(),
        PathBuf::from("generations/1")
    );
    // Reading commands still work: they cannot take the lock, so they skip
    // recovery and say so.
    let out = host.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr.as_str());
    let status: Value = out.stdout_json();
    assert_eq!(status["current"], 1);
    assert_eq!(status["locked"], true);
    assert_eq!(status["healthy"], true);
    let out = extract(
        &host.root(),
        &[
            "--blake3",
            &bundle.blake3,
            "--url",
            &bundle.path.display().to_string(),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        error_line(&out.stderr).contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert!(!host.root().join("packages/ro--1").exists());
    fs.remount(false);
    assert_eq!(host.current(), (1, a));
}

// ---------------------------------------------------------------- concurrency

#[test]
fn two_pkg_activate_runs_at_once_never_both_write() {
    let host = Host::new(&[]);
    let (a, b) = sets(&host);
    let args = |ids: &[String], wait: bool| {
        let mut v: Vec<String> = Vec::new();
        if wait {
            v.push("--wait".into());
        }
        v.push("activate".into());
        v.extend(ids.iter().cloned());
        v.extend(["--keep".into(), "100".into()]);
        v
    };
    let mut generations = 0u64;
    let (mut both, mut one_refused) = (0, 0);
    for round in 0..10 {
        let wait = round % 2 == 1;
        let spawn = |ids: &[String]| {
            host.command(
                &args(ids, wait)
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        };
        let (first, second) = (spawn(&a), spawn(&b));
        let outs = [
            first.wait_with_output().unwrap(),
            second.wait_with_output().unwrap(),
        ];
        let mut made = BTreeSet::new();
        for out in &outs {
            let stderr = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => {
                    let n: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
                    assert!(made.insert(n), "round {round}: generation {n} made twice");
                }
                Some(5) if !wait => {
                    assert!(
                        error_line(&stderr).contains("held by another tarmac process"),
                        "{stderr}"
                    );
                }
                code => panic!("round {round}: exit {code:?}: {stderr}"),
            }
        }
        assert!(!made.is_empty(), "round {round}: neither ran");
        if wait {
            assert_eq!(made.len(), 2, "round {round}: --wait must run both");
        }
        if made.len() == 2 {
            both += 1;
        } else {
            one_refused += 1;
        }
        generations += made.len() as u64;
        // Exactly one complete generation per successful run, numbered in
        // sequence: the two never wrote the same generation.
        let mut listed: Vec<u64> = host
            .generations()
            .iter()
            .map(|g| g.parse().unwrap())
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            (1..=generations).collect::<Vec<_>>(),
            "round {round}"
        );
        for n in &made {
            let ids = host.generation_packages(&n.to_string());
            assert!(
                ids == a || ids == b,
                "round {round}: generation {n}: {ids:?}"
            );
        }
        host.assert_clean(&format!("round {round}"));
    }
    eprintln!("two pkg-activate at once: 10 rounds, {both} ran one after the other, {one_refused} refused one with exit 5");
}

#[test]
fn two_host_extract_runs_at_once_never_both_write() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(&dir.path().join("repo"));
    let pkgs = vec![
        Pkg::new("big--1").bulk("data", 16, 64 * 1024),
        Pkg::new("more--1").bulk("data", 16, 64 * 1024),
    ];
    let bundle = repo.bundle(&pkgs.iter().collect::<Vec<_>>());
    let path = bundle.path.display().to_string();
    let (mut both, mut one_refused) = (0, 0);
    for round in 0..6 {
        let wait = round % 2 == 1;
        let root = dir.path().join(format!("host-{round}"));
        let spawn = || {
            let mut command = Command::new(EXTRACT);
            command.arg("--root").arg(&root).args(FAST);
            if wait {
                command.arg("--wait");
            }
            command
                .args([
                    "--json",
                    "--quiet",
                    "--blake3",
                    &bundle.blake3,
                    "--url",
                    &path,
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (first, second) = (spawn(), spawn());
        let outs = [
            first.wait_with_output().unwrap(),
            second.wait_with_output().unwrap(),
        ];
        let mut fetched = Vec::new();
        let mut ok = 0;
        for out in &outs {
            let stderr = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => {
                    ok += 1;
                    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                    fetched.extend(
                        v["fetched"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|id| id.as_str().unwrap().to_string()),
                    );
                }
                Some(5) if !wait => {
                    assert!(error_line(&stderr).contains("held by another"), "{stderr}");
                }
                code => panic!("round {round}: exit {code:?}: {stderr}"),
            }
        }
        assert!(ok >= 1, "round {round}");
        if wait {
            assert_eq!(ok, 2, "round {round}");
        }
        // Each package was downloaded and published by exactly one run.
        fetched.sort();
        assert_eq!(fetched, ["big--1", "more--1"], "round {round}");
        assert_eq!(published(&root, &repo, &pkgs, "concurrent"), 2);
        assert!(!root.join("packages/.staging").exists());
        if ok == 2 {
            both += 1;
        } else {
            one_refused += 1;
        }
    }
    eprintln!("two host-extract at once: 6 rounds, {both} ran one after the other, {one_refused} refused one with exit 5");
}

#[test]
fn pkg_activate_while_another_process_fills_the_disk() {
    let Some(fs) = loop_fs(12, None) else { return };
    let host = Host::at(&fs.mount().join("host"), &[]);
    let (a, _) = sets(&host);
    // A wide package: many directories, each costing a block in the farm.
    let mut wide = PkgFixture::new("wide", "1");
    for d in 0..60 {
        for f in 0..5 {
            wide = wide.file(&format!("lib/wide/d{d}/f{f}"), b"w", 0o644);
        }
    }
    let wide = host.add(wide);
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5D);
    // Activated; refused with the old generation kept; refused after the
    // commit (the unit sync or prune ran out), the new generation whole.
    let mut outcomes = [0u64; 3];
    for round in 0..16 {
        let (old, old_ids) = host.current_or_none();
        let next: Vec<&str> = if old_ids.contains(&wide) {
            a.iter().map(String::as_str).collect()
        } else {
            vec![a[0].as_str(), wide.as_str()]
        };
        let mut args = vec!["activate", "--no-fold"];
        args.extend(&next);
        let child = host
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next_u64() % 4_000));
        let filler = fs.fill_bytes(&format!("race-{round}"));
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        std::fs::remove_file(&filler).unwrap();
        let (now, now_ids) = host.current_or_none();
        match out.status.code() {
            Some(0) => {
                outcomes[0] += 1;
                let mut want: Vec<String> = next.iter().map(|s| s.to_string()).collect();
                want.sort();
                assert_eq!(now_ids, want, "round {round}");
            }
            Some(6) => {
                assert!(error_line(&stderr).contains("No space left"), "{stderr}");
                if now == old {
                    outcomes[1] += 1;
                    assert_eq!(now_ids, old_ids, "round {round}: {stderr}");
                } else {
                    outcomes[2] += 1;
                    let mut want: Vec<String> = next.iter().map(|s| s.to_string()).collect();
                    want.sort();
                    assert_eq!(now_ids, want, "round {round}: {stderr}");
                }
            }
            code => panic!("round {round}: exit {code:?}: {stderr}"),
        }
        // The next run (recover) leaves no staging generation behind.
        host.ok(&["recover"]);
        host.assert_clean(&format!("round {round}"));
    }
    eprintln!(
        "pkg-activate racing a disk filler: 16 rounds, {} activated, {} exit 6 keeping the old generation, {} exit 6 after the commit (new generation whole)",
        outcomes[0], outcomes[1], outcomes[2]
    );
}
