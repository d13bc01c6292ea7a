//! Emergency changes, audited (issue 14 § 3): the whole procedure of
//! docs/emergency.md with the real tools on real files. A patched package
//! is built with pkg-build from the repository's example tree, copied to a
//! host (a temp root) whose cluster set is recorded, added with
//! `host-extract --package-file`, swapped in, verified; `status` and
//! `scripts/fleet-status` name the override; `rollback` returns the host to
//! the cluster's set and the override is gone.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use tarmac_model::layout;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const PKG_BUILD: &str = env!("CARGO_BIN_EXE_pkg-build");
const HOST_EXTRACT: &str = env!("CARGO_BIN_EXE_host-extract");
const PKG_ACTIVATE: &str = env!("CARGO_BIN_EXE_pkg-activate");

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs, asserts exit 0, returns stdout.
fn ok(command: &mut Command) -> String {
    let output = command.output().expect("runs");
    let (stdout, stderr) = text(&output);
    assert!(
        output.status.success(),
        "{command:?} failed ({:?}):\n{stdout}\n{stderr}",
        output.status.code()
    );
    stdout
}

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

/// One host: every path pkg-activate and host-extract use is under `base`.
struct Host {
    base: PathBuf,
}

impl Host {
    fn new(base: &Path) -> Host {
        for sub in ["root", "config/roles", "systemd", "state", "users/etc"] {
            std::fs::create_dir_all(base.join(sub)).unwrap();
        }
        std::fs::write(base.join("config/roles/slave"), "").unwrap();
        std::fs::write(
            base.join("users/etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(base.join("users/etc/group"), "root:x:0:\n").unwrap();
        Host {
            base: base.to_path_buf(),
        }
    }

    fn root(&self) -> PathBuf {
        self.base.join("root")
    }

    fn host_extract(&self, args: &[&str]) -> Command {
        let mut command = Command::new(HOST_EXTRACT);
        command
            .arg("--root")
            .arg(self.root())
            .args(["--reserve-bytes", "0", "--reserve-inodes", "0"])
            .args(args);
        command
    }

    fn pkg_activate(&self, args: &[&str]) -> Command {
        let mut command = tarmac_testkit::host::pkg_activate(PKG_ACTIVATE.as_ref(), &self.base);
        command.arg("--no-systemd").args(args);
        command
    }

    fn status(&self) -> Value {
        serde_json::from_str(&ok(&mut self.pkg_activate(&["status", "--json"]))).unwrap()
    }

    /// `scripts/fleet-status --json` over this host's status document
    /// (named "host-1"): its exit code and summary.
    fn fleet_status(&self) -> (i32, Value) {
        let file = self.base.join("host-1.json");
        std::fs::write(&file, serde_json::to_vec(&self.status()).unwrap()).unwrap();
        let output = Command::new(Path::new(REPO).join("scripts/fleet-status"))
            .arg("--json")
            .arg(&file)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&output);
        let summary = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
        (output.status.code().unwrap(), summary)
    }

    fn motd(&self) -> String {
        std::fs::read_to_string(self.root().join("etc/motd")).unwrap()
    }
}

#[test]
fn patched_package_added_swapped_verified_reported_and_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let build = Build {
        dir: dir.path().join("build"),
    };
    std::fs::create_dir_all(&build.dir).unwrap();
    let status = Command::new("cp")
        .arg("-R")
        .arg(Path::new(REPO).join("packages"))
        .arg(build.dir.join("packages"))
        .status()
        .unwrap();
    assert!(status.success());

    // The cluster: two packages, as its bundle would hold them.
    let cluster = build.build(&["libgreet", "motd"]);
    assert_eq!(cluster.len(), 2, "{cluster:?}");
    let motd = cluster.iter().find(|id| id.starts_with("motd--")).unwrap();

    // The host, installed from the repository with its set recorded, as
    // dcos_install.sh's write_flags does.
    let host = Host::new(&dir.path().join("host"));
    let repository = build.dir.join("repo");
    let mut args = vec!["--repository", repository.to_str().unwrap(), "--package"];
    args.extend(cluster.iter().map(String::as_str));
    ok(&mut host.host_extract(&args));
    let mut activate = vec!["activate"];
    activate.extend(cluster.iter().map(String::as_str));
    assert_eq!(ok(&mut host.pkg_activate(&activate)), "1\n");
    let flags = host.base.join("config/setup-flags");
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
    let original_motd = host.motd();

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
    let copied = host.base.join("tmp");
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
    let added: Value = serde_json::from_str(&ok(&mut host.host_extract(&[
        "--package-file",
        archive.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(added["fetched"], json!([patched]));
    assert!(layout::host::manifest(&host.root(), patched).is_file());

    // 4. Swap it in, 5. verify: healthy, and the override shown.
    assert_eq!(ok(&mut host.pkg_activate(&["swap", patched])), "2\n");
    assert!(host.motd().contains("patched: emergency fix"));
    let verified = ok(&mut host.pkg_activate(&["verify"]));
    assert!(verified.contains("healthy true\n"), "{verified}");
    assert!(
        verified.contains(&format!("cluster-set true\noverride {patched}\n")),
        "{verified}"
    );
    let status = host.status();
    assert_eq!(status["overrides"], json!([patched]));
    assert_eq!(status["healthy"], true);
    let (code, summary) = host.fleet_status();
    assert_eq!(code, 0, "an override is reported, not a failure: {summary}");
    assert_eq!(
        summary["overrides"],
        json!([{"host": "host-1", "ids": [patched]}])
    );

    // 6. Roll back: the cluster's set again, no override.
    assert_eq!(ok(&mut host.pkg_activate(&["rollback"])), "1\n");
    assert_eq!(host.motd(), original_motd);
    let after = host.status();
    assert_eq!(after["packages"], before["packages"]);
    assert_eq!(after["overrides"], json!([]));
    let (code, summary) = host.fleet_status();
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["overrides"], json!([]));
    assert_eq!(summary["cluster_set_unknown"], json!([]));
    let verified = ok(&mut host.pkg_activate(&["verify"]));
    assert!(!verified.contains("override "), "{verified}");
}
