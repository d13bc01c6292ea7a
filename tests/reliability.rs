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
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tarmac_testkit::disk::count;
use tarmac_testkit::nginx::Nginx;
use tarmac_testkit::packages::PkgFixture;
use tarmac_testkit::repo::{Pkg, Repo};

const ACTIVATE: &str = env!("CARGO_BIN_EXE_pkg-activate");
const EXTRACT: &str = env!("CARGO_BIN_EXE_host-extract");

/// Fast retries and no reserve: the images are tiny on purpose.
const FAST: &[&str] = &[
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

/// xorshift: deterministic pseudo-random delays without a rand dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Sleeps a random part of `window`, then SIGKILLs `child`. True when the
/// kill landed (the process was still running). The window adapts to the
/// run's length: a run that finished before the kill shrinks it to that
/// delay, a landed kill widens it by a tenth, so kills spread over the
/// whole run (start, build, commit, exit) on slow and fast machines alike.
fn kill_after(mut child: Child, rng: &mut Rng, window: &mut Duration) -> bool {
    let micros = (window.as_micros() as u64).max(1);
    let delay = Duration::from_micros(rng.next() % micros);
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap();
    if let Some(status) = finished {
        // A run that beat the kill must have succeeded.
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        assert!(
            status.success(),
            "an unkilled run failed: {status}: {stderr}"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    let landed = finished.is_none();
    *window = if landed {
        (*window * 11 / 10).min(Duration::from_secs(5))
    } else {
        // The run took less than `delay`.
        delay.max(Duration::from_micros(200))
    };
    landed
}

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

/// A pkg-activate host under `base`: root, roles, systemd dir, state dirs
/// and a private user database; every path a flag.
struct Host {
    _dir: Option<tempfile::TempDir>,
    base: PathBuf,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let mut host = Host::at(dir.path());
        host._dir = Some(dir);
        host
    }

    fn at(base: &Path) -> Host {
        for sub in [
            "root/packages",
            "config/roles",
            "systemd",
            "state",
            "users/etc",
        ] {
            std::fs::create_dir_all(base.join(sub)).unwrap();
        }
        let db = base.join("users/etc");
        std::fs::write(db.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(db.join("group"), "root:x:0:\n").unwrap();
        std::fs::write(db.join("shadow"), "").unwrap();
        std::fs::write(db.join("gshadow"), "").unwrap();
        Host {
            _dir: None,
            base: base.to_path_buf(),
        }
    }

    fn root(&self) -> PathBuf {
        self.base.join("root")
    }

    fn add(&self, fixture: PkgFixture) -> String {
        let id = fixture.id();
        fixture.build(&self.root());
        id
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(ACTIVATE);
        command
            .arg("--root")
            .arg(self.root())
            .arg("--config-dir")
            .arg(self.base.join("config"))
            .arg("--systemd-dir")
            .arg(self.base.join("systemd"))
            .arg("--state-dir-root")
            .arg(self.base.join("state"))
            .arg("--user-db-root")
            .arg(self.base.join("users"))
            .arg("--no-systemd")
            .args(args)
            .stdin(Stdio::null())
            .env_remove("TARMAC_FAILPOINT");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).unwrap()
    }

    /// (current generation, its package ids) from a healthy status.
    fn current(&self) -> (u64, Vec<String>) {
        let status = self.status();
        assert_eq!(status["healthy"], json!(true), "{status}");
        (
            status["current"].as_u64().expect("a current generation"),
            serde_json::from_value(status["packages"].clone()).unwrap(),
        )
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
    let host = Host::new();
    let (a, b) = sets(&host);
    let activate = |ids: &[String]| {
        let mut args = vec!["activate".to_string()];
        args.extend(ids.iter().cloned());
        args.extend(["--keep".into(), "4".into()]);
        args
    };
    let (args_a, args_b) = (activate(&a), activate(&b));

    // One unkilled run of each to size the kill windows (1.5x a run).
    let timed = |args: &[String]| {
        let started = Instant::now();
        host.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        started.elapsed()
    };
    let w_activate = timed(&args_a) + timed(&args_b);
    let w_rollback = timed(&["rollback".to_string()]) * 3 / 2;
    junk(&host, 0);
    let w_gc = timed(&["gc".to_string(), "--keep".into(), "1".into()]) * 3 / 2;
    let mut windows = [w_activate * 3 / 4, w_rollback, w_gc];

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
            // gc and earlier rollbacks may have left nothing older than
            // current: make one more generation to roll back from.
            let (current, ids) = host.current();
            let older = host
                .generations()
                .iter()
                .filter_map(|g| g.parse::<u64>().ok())
                .any(|g| g < current);
            if !older {
                let other = if ids == a { &args_b } else { &args_a };
                host.ok(&other.iter().map(String::as_str).collect::<Vec<_>>());
            }
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
        let out = host.run(&["recover"]);
        assert!(
            out.status.success(),
            "{context}: recover: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (now, now_ids) = host.current();
        host.assert_clean(&context);
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
                // The junk package: whole or gone, never half-deleted.
                let dir = host.root().join("packages").join(format!("junk--{i}"));
                let left = names(&dir.join("lib/junk")).len();
                assert!(
                    left == 0 || left == JUNK_FILES,
                    "{context}: {left} files left"
                );
                let gone = !dir.exists();
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

// ---------------------------------------------------------------- host-extract

struct Extract {
    code: i32,
    stdout: String,
    stderr: String,
}

fn extract(root: &Path, args: &[&str]) -> Extract {
    let out = Command::new(EXTRACT)
        .arg("--root")
        .arg(root)
        .args(FAST)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Extract {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
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
