//! Emergency changes, audited (issue 14 § 3): the whole procedure of
//! docs/emergency.md with the real tools on real files. A patched package
//! is built with pkg-build from the repository's example tree, copied to a
//! host (a temp root) whose cluster set is recorded, added with
//! `host-extract --package-file`, swapped in, verified; `status` and
//! `scripts/fleet-status` name the override; `rollback` returns the host to
//! the cluster's set and the override is gone.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tarmac_model::layout;
use tarmac_testkit::cmd::{self, ok};
use tarmac_testkit::host::Host;
use tarmac_testkit::tree::copy_tree;

use crate::workspace::Activate;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const PKG_BUILD: &str = env!("CARGO_BIN_EXE_pkg-build");
const HOST_EXTRACT: &str = env!("CARGO_BIN_EXE_host-extract");

/// The build machine: a copy of the example package tree, its repository.
struct Build {
    dir: PathBuf,
}

impl Build {
    /// Builds `names` and returns their ids, in build order.
    fn build(&self, names: &[&str]) -> Vec<String> {
        let stdout = ok(Command::new(PKG_BUILD)
            .current_dir(&self.dir)
            .args([
                "--packages",
                "packages",
                "--repo",
                "repo",
                "--cache",
                "cache",
            ])
            .args(names));
        stdout.lines().map(str::to_string).collect()
    }

    fn archive(&self, id: &str) -> PathBuf {
        let name = id.split("--").next().unwrap();
        self.dir
            .join("repo/packages")
            .join(name)
            .join(format!("{id}.tar.zst"))
    }
}

/// `host-extract` into `host` with no space reserve (a temp dir's
/// filesystem may be nearly full).
fn host_extract(host: &Host, args: &[&str]) -> Command {
    let mut command = host.host_extract(HOST_EXTRACT.as_ref());
    command
        .args(["--reserve-bytes", "0", "--reserve-inodes", "0"])
        .args(args);
    command
}

/// `scripts/fleet-status --json` over `host`'s status document (named
/// "host-1"): its exit code and summary.
fn fleet_status(host: &Host) -> (i32, Value) {
    let file = host.base().join("host-1.json");
    std::fs::write(&file, serde_json::to_vec(&host.status()).unwrap()).unwrap();
    let run = cmd::run(
        Command::new(Path::new(REPO).join("scripts/fleet-status"))
            .arg("--json")
            .arg(&file),
    );
    (run.code, run.stdout_json())
}

fn read_motd(host: &Host) -> String {
    std::fs::read_to_string(host.root().join("etc/motd")).unwrap()
}

#[test]
fn patched_package_added_swapped_verified_reported_and_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let build = Build {
        dir: dir.path().join("build"),
    };
    std::fs::create_dir_all(&build.dir).unwrap();
    copy_tree(
        &Path::new(REPO).join("packages"),
        &build.dir.join("packages"),
    );

    // The cluster: two packages, as its bundle would hold them.
    let cluster = build.build(&["libgreet", "motd"]);
    assert_eq!(cluster.len(), 2, "{cluster:?}");
    let motd = cluster.iter().find(|id| id.starts_with("motd--")).unwrap();

    // The host, installed from the repository with its set recorded, as
    // dcos_install.sh's write_flags does.
    let host = Host::at(&dir.path().join("host"), &["slave"]);
    let repository = build.dir.join("repo");
    let mut args = vec!["--repository", repository.to_str().unwrap(), "--package"];
    args.extend(cluster.iter().map(String::as_str));
    ok(&mut host_extract(&host, &args));
    let mut activate = vec!["activate"];
    activate.extend(cluster.iter().map(String::as_str));
    assert_eq!(host.ok(&activate), "1\n");
    let flags = host.base().join("config/setup-flags");
    std::fs::create_dir_all(&flags).unwrap();
    std::fs::write(
        flags.join("cluster-package-ids"),
        cluster
            .iter()
            .map(|id| format!("{id}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let before = host.status();
    assert_eq!(before["cluster_set"], true);
    assert_eq!(before["overrides"], json!([]));
    let original_motd = read_motd(&host);

    // 1. Build the patched package on the build machine.
    let script = build.dir.join("packages/motd/build");
    let mut text = std::fs::read_to_string(&script).unwrap();
    text.push_str("echo 'patched: emergency fix' >> \"$PKG_PATH/etc/motd\"\n");
    std::fs::write(&script, text).unwrap();
    let patched = build.build(&["motd"]);
    assert_eq!(patched.len(), 1);
    let patched = &patched[0];
    assert_ne!(patched, motd, "a patched package gets a new id");

    // 2. Copy the archive and its manifest to the host.
    let copied = host.base().join("tmp");
    std::fs::create_dir_all(&copied).unwrap();
    let archive = copied.join(format!("{patched}.tar.zst"));
    std::fs::copy(build.archive(patched), &archive).unwrap();
    std::fs::copy(
        build
            .archive(patched)
            .with_extension("")
            .with_extension("json"),
        copied.join(format!("{patched}.json")),
    )
    .unwrap();

    // 3. Add it: verified and published like any other package.
    let added: Value = serde_json::from_str(&ok(&mut host_extract(
        &host,
        &["--package-file", archive.to_str().unwrap(), "--json"],
    )))
    .unwrap();
    assert_eq!(added["fetched"], json!([patched]));
    assert!(layout::host::manifest(&host.root(), patched).is_file());

    // 4. Swap it in, 5. verify: healthy, and the override shown.
    assert_eq!(host.ok(&["swap", patched]), "2\n");
    assert!(read_motd(&host).contains("patched: emergency fix"));
    let verified = host.ok(&["verify"]);
    assert!(verified.contains("healthy true\n"), "{verified}");
    assert!(
        verified.contains(&format!("cluster-set true\noverride {patched}\n")),
        "{verified}"
    );
    let status = host.status();
    assert_eq!(status["overrides"], json!([patched]));
    assert_eq!(status["healthy"], true);
    let (code, summary) = fleet_status(&host);
    assert_eq!(code, 0, "an override is reported, not a failure: {summary}");
    assert_eq!(
        summary["overrides"],
        json!([{"host": "host-1", "ids": [patched]}])
    );

    // 6. Roll back: the cluster's set again, no override.
    assert_eq!(host.ok(&["rollback"]), "1\n");
    assert_eq!(read_motd(&host), original_motd);
    let after = host.status();
    assert_eq!(after["packages"], before["packages"]);
    assert_eq!(after["overrides"], json!([]));
    let (code, summary) = fleet_status(&host);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["overrides"], json!([]));
    assert_eq!(summary["cluster_set_unknown"], json!([]));
    let verified = host.ok(&["verify"]);
    assert!(!verified.contains("override "), "{verified}");
}
