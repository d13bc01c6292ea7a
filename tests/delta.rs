//! Delta upgrades (issue 16): cfg-gen `--upgrade-from` writes
//! `<id>.from-<old id>.delta` and `<id>.deltas.json`; host-extract in
//! package mode fetches the delta instead of the archive when the older
//! version is on the host, and falls back to the archive whenever the delta
//! path fails (modified base, corrupt delta, window above the limit). All
//! with the real binaries, served by nginx, checked from its access log.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tarmac_model::layout::repository;
use tarmac_model::{DeltaIndex, PackageId};
use tarmac_testkit::kill::{kill_after, Rng};
use tarmac_testkit::nginx::Nginx;

use crate::host_extract::FAST;

const CFG_GEN: &str = env!("CARGO_BIN_EXE_cfg-gen");
const EXTRACT: &str = env!("CARGO_BIN_EXE_host-extract");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Files of the big package, and bytes per file: incompressible content
/// (blake3 output), so its archive is about FILES * FILE_BYTES and only a
/// delta can make an upgrade small.
const FILES: usize = 160;
const FILE_BYTES: usize = 48 * 1024;

/// `count` bytes of blake3 XOF output seeded by `seed`.
fn noise(seed: &str, count: usize) -> Vec<u8> {
    let mut out = vec![0u8; count];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// The big package's tree, version `version`: file `i` changes in a
/// version only when `changed(i)`.
fn big_tree(dir: &Path, version: u32) {
    for i in 0..FILES {
        let seed = if version > 1 && i % 80 == 7 {
            format!("file {i} version {version}")
        } else {
            format!("file {i}")
        };
        let path = dir.join(format!("lib/big/part-{i:03}.bin"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, noise(&seed, FILE_BYTES)).unwrap();
    }
    fs::write(dir.join("pkginfo.json"), "{}").unwrap();
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::write(dir.join("bin/big"), format!("#!/bin/sh\necho {version}\n")).unwrap();
    fs::set_permissions(dir.join("bin/big"), fs::Permissions::from_mode(0o755)).unwrap();
}

/// A pkg-bundle-like dist: `packages/` (archives and manifests) and one
/// bundle of `big--<version>` and `small--1`.
fn write_dist(work: &Path, dist: &Path, version: u32) {
    let big = PackageId::parse(&format!("big--{version}")).unwrap();
    let small = PackageId::parse("small--1").unwrap();
    let trees = work.join(format!("trees-{version}"));
    big_tree(&trees.join(big.to_string()), version);
    let small_tree = trees.join(small.to_string());
    fs::create_dir_all(small_tree.join("etc")).unwrap();
    fs::write(small_tree.join("pkginfo.json"), "{}").unwrap();
    fs::write(small_tree.join("etc/small.conf"), "small=1\n").unwrap();
    let packages: Vec<(PackageId, PathBuf)> = [big, small]
        .into_iter()
        .map(|id| {
            let tree = trees.join(id.to_string());
            (id, tree)
        })
        .collect();
    tarmac_testkit::repo::write_dist(dist, &packages);
}

/// Two rendered configurations served by one nginx: v1, then v2 (big
/// rebuilt with 2 of its files changed) rendered `--upgrade-from` v1.
struct Upgrade {
    dir: tempfile::TempDir,
    nginx: Nginx,
    /// Every package id a host installs, per version (bundle + config).
    v1: Vec<String>,
    v2: Vec<String>,
}

impl Upgrade {
    fn new() -> Upgrade {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let genconf = root.join("genconf");
        fs::create_dir_all(genconf.join("serve")).unwrap();
        let status = Command::new("cp")
            .args(["-R", &format!("{REPO}/genconf/.")])
            .arg(&genconf)
            .status()
            .unwrap();
        assert!(status.success());
        let nginx = Nginx::serve(&genconf.join("serve"));
        let config = fs::read_to_string(genconf.join("config.yaml")).unwrap();
        let config: String = config
            .lines()
            .map(|l| {
                if l.starts_with("bootstrap_url:") {
                    format!("bootstrap_url: {}\n", nginx.url())
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        fs::write(genconf.join("config.yaml"), config).unwrap();
        let tools = root.join("tools");
        fs::create_dir_all(&tools).unwrap();
        for tool in ["host-extract", "ip-detect-run", "pkg-activate"] {
            fs::write(tools.join(tool), format!("#!/bin/sh\necho {tool}\n")).unwrap();
        }
        let mut upgrade = Upgrade {
            dir,
            nginx,
            v1: Vec::new(),
            v2: Vec::new(),
        };
        upgrade.v1 = upgrade.render(1, &[]);
        // A copy of v1 to install hosts from (a serve tree holds only its
        // own set; real hosts were installed before v2 was rendered).
        let status = Command::new("cp")
            .arg("-R")
            .arg(upgrade.serve())
            .arg(upgrade.path().join("serve-v1"))
            .status()
            .unwrap();
        assert!(status.success());
        let old = upgrade.serve();
        upgrade.v2 = upgrade.render(2, &["--upgrade-from", old.to_str().unwrap()]);
        upgrade
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn serve(&self) -> PathBuf {
        self.path().join("genconf/serve")
    }

    /// Builds dist v`version` and renders it; the ids a host installs.
    fn render(&self, version: u32, extra: &[&str]) -> Vec<String> {
        let dist = self.path().join(format!("dist-{version}"));
        write_dist(self.path(), &dist, version);
        let output = Command::new(CFG_GEN)
            .arg("--genconf")
            .arg(self.path().join("genconf"))
            .arg("--dist")
            .arg(&dist)
            .arg("--bin-dir")
            .arg(self.path().join("tools"))
            .args(extra)
            .output()
            .unwrap();
        assert!(output.status.success(), "cfg-gen: {}", stderr(&output));
        let mut ids: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        ids.push(format!("big--{version}"));
        ids.push("small--1".into());
        ids.sort();
        ids
    }

    /// host-extract in package mode from the nginx, `--json`.
    fn extract(&self, host: &Path, ids: &[String], extra: &[&str]) -> Output {
        self.extract_from(&self.nginx.url(), host, ids, extra)
    }

    fn extract_from(
        &self,
        repository: &str,
        host: &Path,
        ids: &[String],
        extra: &[&str],
    ) -> Output {
        Command::new(EXTRACT)
            .arg("--root")
            .arg(host)
            .args(["--repository", repository, "--json"])
            .args(FAST)
            .args(extra)
            .arg("--package")
            .args(ids)
            .output()
            .unwrap()
    }

    /// A host with v1 installed (from the copy of v1's serve tree).
    fn host(&self, name: &str) -> PathBuf {
        let host = self.path().join(name);
        let v1 = self.path().join("serve-v1");
        let output = self.extract_from(v1.to_str().unwrap(), &host, &self.v1, &[]);
        assert!(output.status.success(), "{}", stderr(&output));
        host
    }

    /// Request paths (GET) nginx logged after the first `skip` lines.
    fn requests(&self, skip: usize) -> Vec<String> {
        requests(&self.nginx.access_log())[skip..].to_vec()
    }

    fn index(&self, id: &str) -> DeltaIndex {
        let id = PackageId::parse(id).unwrap();
        let path = repository::deltas(&self.serve(), &id);
        DeltaIndex::parse(&path.display().to_string(), &fs::read(&path).unwrap()).unwrap()
    }
}

fn requests(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split("\"GET ").nth(1))
        .map(|r| r.split(' ').next().unwrap().to_string())
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

/// The new ids of v2 (those a v1 host fetches).
fn new_ids(upgrade: &Upgrade) -> Vec<String> {
    upgrade
        .v2
        .iter()
        .filter(|id| !upgrade.v1.contains(id))
        .cloned()
        .collect()
}

#[test]
fn cfg_gen_writes_deltas_and_hosts_fetch_only_deltas() {
    let upgrade = Upgrade::new();
    let serve = upgrade.serve();
    let changed = new_ids(&upgrade);
    assert!(changed.contains(&"big--2".to_string()), "{changed:?}");
    assert_eq!(
        changed.len(),
        3,
        "big and the two config packages: {changed:?}"
    );

    // The served delta of big: small against its archive, and listed.
    let index = upgrade.index("big--2");
    assert_eq!(index.deltas.len(), 1, "{index:?}");
    let record = &index.deltas[0];
    assert_eq!(record.base.to_string(), "big--1");
    let big2 = PackageId::parse("big--2").unwrap();
    let delta = fs::read(repository::delta(&serve, &big2, &record.base)).unwrap();
    let archive = fs::metadata(repository::archive(&serve, &big2))
        .unwrap()
        .len();
    assert_eq!(delta.len() as u64, record.bytes);
    assert_eq!(blake3::hash(&delta).to_hex().to_string(), record.blake3);
    assert!(
        record.bytes * 20 < archive,
        "delta {} bytes for a {archive} byte archive",
        record.bytes
    );
    // Unchanged packages get no index; the bundle's packages keep their
    // archives.
    assert!(!repository::deltas(&serve, &PackageId::parse("small--1").unwrap()).exists());

    // A v1 host upgrades: every changed package that has a delta comes as
    // one, no archive of it is fetched.
    let host = upgrade.host("host-a");
    let before = requests(&upgrade.nginx.access_log()).len();
    let output = upgrade.extract(&host, &upgrade.v2, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let outcome = json(&output);
    assert_eq!(outcome["fetched"], serde_json::json!(changed));
    let deltas: Vec<String> = outcome["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(deltas.contains(&"big--2".to_string()), "{outcome}");
    let log = upgrade.requests(before);
    let mut expected = Vec::new();
    for id in &changed {
        let id = PackageId::parse(id).unwrap();
        let index = upgrade.index(&id.to_string());
        expected.push(format!("/{}", repository::manifest_relative(&id)));
        expected.push(format!("/{}", repository::deltas_relative(&id)));
        match index.deltas.first() {
            Some(record) => {
                assert!(deltas.contains(&id.to_string()), "{id}: {outcome}");
                expected.push(format!(
                    "/{}",
                    repository::delta_relative(&id, &record.base)
                ));
            }
            None => expected.push(format!("/{}", repository::archive_relative(&id))),
        }
    }
    let mut sorted = log.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "only manifests, indexes and deltas");
    assert!(
        !log.iter().any(|p| p.ends_with("big--2.tar.zst")),
        "{log:#?}"
    );
    assert!(
        outcome["downloaded_bytes"].as_u64().unwrap() * 10 < archive,
        "{outcome}"
    );
    // What was installed is the v2 package, file for file.
    let part = host.join("packages/big--2/lib/big/part-007.bin");
    assert_eq!(
        fs::read(part).unwrap(),
        noise("file 7 version 2", FILE_BYTES)
    );
    // Nothing of the delta path is left behind.
    assert!(
        !host.join("packages/.staging").exists()
            || fs::read_dir(host.join("packages/.staging"))
                .unwrap()
                .next()
                .is_none()
    );

    // --no-delta: the archives, as before deltas.
    let host = upgrade.host("host-no-delta");
    let before = requests(&upgrade.nginx.access_log()).len();
    let output = upgrade.extract(&host, &upgrade.v2, &["--no-delta"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(json(&output)["deltas"], serde_json::json!([]));
    let log = upgrade.requests(before);
    assert!(
        log.iter().any(|p| p.ends_with("big--2.tar.zst")),
        "{log:#?}"
    );
    assert!(!log.iter().any(|p| p.contains(".delta")), "{log:#?}");

    // A request budget with room for the archives only (3 manifests + 3
    // archives; deltas would need 3 + 2 x 3): no delta is tried, the run
    // succeeds as it would have without deltas.
    let host = upgrade.host("host-small-budget");
    let output = upgrade.extract(&host, &upgrade.v2, &["--max-requests", "7"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(json(&output)["deltas"], serde_json::json!([]));
    assert_eq!(json(&output)["fetched"], serde_json::json!(changed));

    // A window above --max-delta-window: the archive, and said so (on
    // stderr; without --json, host-extract prints the ids).
    let host = upgrade.host("host-small-window");
    let output = Command::new(EXTRACT)
        .arg("--root")
        .arg(&host)
        .args(["--repository", &upgrade.nginx.url()])
        .args(["--max-delta-window", "1", "--package"])
        .args(&upgrade.v2)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("big--2: the delta from big--1 needs a")
            && stderr(&output).contains(
                "above --max-delta-window (1048576 bytes); fetching the whole archive instead"
            ),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).lines().count(),
        upgrade.v2.len()
    );
    assert!(host.join("packages/big--2/bin/big").is_file());
}

#[test]
fn a_modified_base_or_a_corrupt_delta_falls_back_to_the_archive() {
    let upgrade = Upgrade::new();

    // A base modified on the host: the archive is fetched (exit 0, said so)
    // and verifying the base still reports the modification (exit 4).
    let host = upgrade.host("host-modified");
    let part = host.join("packages/big--1/lib/big/part-100.bin");
    fs::set_permissions(&part, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&part, b"changed by hand").unwrap();
    let before = requests(&upgrade.nginx.access_log()).len();
    let output = upgrade.extract(&host, &upgrade.v2, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let outcome = json(&output);
    let failures = outcome["delta_failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{outcome}");
    let text = failures[0].as_str().unwrap();
    assert!(
        text.starts_with("big--2: ") && text.contains("packages/big--1 was modified on this host"),
        "{text}"
    );
    assert!(!outcome["deltas"]
        .as_array()
        .unwrap()
        .contains(&Value::from("big--2")));
    let log = upgrade.requests(before);
    assert!(
        log.iter().any(|p| p.ends_with("/big--2.tar.zst")),
        "{log:#?}"
    );
    assert!(
        !log.iter().any(|p| p.ends_with(".from-big--1.delta")),
        "{log:#?}"
    );
    let output = upgrade.extract(&host, &["big--1".to_string()], &[]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("big--1"), "{}", stderr(&output));

    // A corrupt delta on the server (same size, other bytes): refused by
    // its blake3 before decoding, the archive instead.
    let big2 = PackageId::parse("big--2").unwrap();
    let base = PackageId::parse("big--1").unwrap();
    let delta = repository::delta(&upgrade.serve(), &big2, &base);
    let mut bytes = fs::read(&delta).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&delta, &bytes).unwrap();
    let host = upgrade.host("host-corrupt");
    let output = upgrade.extract(&host, &upgrade.v2, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let outcome = json(&output);
    let failures = outcome["delta_failures"].to_string();
    assert!(
        failures.contains("big--2: ") && failures.contains("the index declares"),
        "{outcome}"
    );
    assert!(host.join("packages/big--2/bin/big").is_file());
}

/// Kill loop over the delta path: host-extract upgrading a v1 host is
/// SIGKILLed at random points (index, regeneration, download, decode,
/// extraction, publication). After every kill the host holds either no
/// big--2 or a complete, verified one, and the next run finishes the job;
/// each time big--2 got published it is removed again, so the loop keeps
/// going through the delta path. `TARMAC_KILLS` runs (default 40).
#[test]
fn host_extract_kill_loop_over_the_delta_path() {
    let upgrade = Upgrade::new();
    let host = upgrade.host("host-kill");
    let kills: u64 = std::env::var("TARMAC_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .min(40);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut window = Duration::from_millis(300);
    let (mut landed, mut finished) = (0, 0);
    let big2 = host.join("packages/big--2");
    for _ in 0..kills {
        let child = Command::new(EXTRACT)
            .arg("--root")
            .arg(&host)
            .args(["--repository", &upgrade.nginx.url()])
            .args(FAST)
            .arg("--package")
            .args(&upgrade.v2)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if kill_after(child, &mut rng, &mut window) {
            landed += 1;
        } else {
            finished += 1;
        }
        // Either absent or complete and verified (host-extract checks a
        // present package's tree hash against its recorded manifest).
        if big2.exists() {
            let output = upgrade.extract(&host, &["big--2".to_string()], &[]);
            assert!(output.status.success(), "{}", stderr(&output));
            assert_eq!(json(&output)["fetched"], serde_json::json!([]));
            fs::remove_dir_all(&big2).unwrap();
            fs::remove_file(host.join("packages/.manifests/big--2.json")).unwrap();
        }
        // The base is never touched.
        assert!(host.join("packages/big--1/bin/big").is_file());
    }
    eprintln!("delta kill loop: {kills} runs, {landed} killed, {finished} finished");
    assert!(landed > 0, "no kill landed");
    // After the loop: one clean run, through the delta.
    let output = upgrade.extract(&host, &upgrade.v2, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(json(&output)["deltas"]
        .as_array()
        .unwrap()
        .contains(&Value::from("big--2")));
}
