//! The top-level Makefile: run GNU make on a fresh copy of the repository's
//! `Makefile`, `packages/` and `genconf/` in a temp dir, with `BIN=` pointing
//! at the tools cargo built for this test run. Checks which targets each
//! change rebuilds (stamps are renamed into place, so a rebuilt stamp has a
//! new inode), that `-j2` gives the bytes of `-j1`, that a no-op make does
//! nothing (`make -q` exits 0), and that make killed mid-build (SIGINT,
//! SIGKILL) leaves no stamp that lies and finishes on the next run.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::workspace::{bin_dir, repo_root};
use tarmac_testkit::tree::copy_tree;

/// A fresh copy of what the Makefile reads, as a checkout would have it.
fn checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo_root().join("Makefile"), dir.path().join("Makefile")).unwrap();
    copy_tree(&repo_root().join("packages"), &dir.path().join("packages"));
    copy_tree(&repo_root().join("genconf"), &dir.path().join("genconf"));
    // A serve/ left by a manual cfg-gen run in the source tree is not input.
    let _ = std::fs::remove_dir_all(dir.path().join("genconf/serve"));
    dir
}

fn make_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("make");
    command
        .current_dir(dir)
        .arg(format!("BIN={}", bin_dir().display()))
        .args(args);
    command
}

fn make(dir: &Path, args: &[&str]) -> Output {
    let output = make_command(dir, args).output().unwrap();
    assert!(
        output.status.success(),
        "make {args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `make -q`: 0 when every target is up to date.
fn make_q(dir: &Path) -> i32 {
    make_command(dir, &["-q"]).status().unwrap().code().unwrap()
}

/// Every stamp by file name, with its inode (a rebuilt stamp is a new file).
fn stamps(dir: &Path) -> BTreeMap<String, u64> {
    let mut stamps = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir.join("out/stamps")) else {
        return stamps;
    };
    for entry in entries {
        let entry = entry.unwrap();
        stamps.insert(
            entry.file_name().into_string().unwrap(),
            entry.metadata().unwrap().ino(),
        );
    }
    stamps
}

fn rebuilt(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeSet<String> {
    after
        .iter()
        .filter(|(name, ino)| before.get(*name) != Some(ino))
        .map(|(name, _)| name.clone())
        .collect()
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const ALL: &[&str] = &[
    "bundle",
    "greeter.id",
    "hello-git.id",
    "libgreet.id",
    "motd.id",
    "serve",
];

/// Checks the stamps that exist tell the truth: a package stamp names an id
/// whose archive and manifest are in the repo, the bundle stamp names a
/// bundle file with that blake3, the serve stamp a rendered serve tree.
fn assert_stamps_truthful(dir: &Path) {
    for (name, _) in stamps(dir) {
        let text = read(dir, &format!("out/stamps/{name}"));
        if let Some(package) = name.strip_suffix(".id") {
            let id = text.trim_end();
            assert!(id.starts_with(&format!("{package}--")), "{name}: {text:?}");
            let archive = dir.join(format!("out/repo/packages/{package}/{id}.tar.zst"));
            let manifest = dir.join(format!("out/repo/packages/{package}/{id}.json"));
            assert!(archive.is_file() && manifest.is_file(), "{name}: {id}");
        } else if name == "bundle" {
            let mut lines = text.lines();
            let (bootstrap, hash) = (lines.next().unwrap(), lines.next().unwrap());
            let bundle = dir.join(format!("out/dist/bootstrap/{bootstrap}.bootstrap.tar.zst"));
            let bytes = std::fs::read(&bundle).unwrap();
            assert_eq!(blake3::hash(&bytes).to_hex().as_str(), hash);
        } else if name == "serve" {
            let install = read(dir, "out/serve/dcos_install.sh");
            let bootstrap = read(dir, "out/stamps/bundle");
            assert!(install.contains(bootstrap.lines().next().unwrap()));
            for id in text.lines() {
                assert!(install.contains(id), "{id} not in dcos_install.sh");
            }
        } else {
            // Temp files (`*.tmp`, `*.out`, `*.ids`) of a killed step are not
            // stamps; the next make overwrites them.
            assert!(
                name.ends_with(".tmp") || name.ends_with(".out") || name.ends_with(".ids"),
                "unexpected file out/stamps/{name}"
            );
        }
    }
}

#[test]
fn make_builds_once_and_rebuilds_exactly_what_an_edit_reaches() {
    let dir = checkout();
    let dir = dir.path();

    let first = make(dir, &[]);
    let built = stamps(dir);
    assert_eq!(built.keys().cloned().collect::<BTreeSet<_>>(), set(ALL));
    assert_stamps_truthful(dir);
    assert!(dir.join("out/serve/dcos_install.sh").is_file());
    // The pipeline shows each tool's command line.
    let log = String::from_utf8_lossy(&first.stdout);
    for tool in ["pkg-build", "pkg-bundle", "cfg-gen"] {
        assert!(log.contains(&format!("/{tool} ")), "{tool} not in\n{log}");
    }

    // Nothing changed: make is up to date and does nothing.
    assert_eq!(make_q(dir), 0);
    let noop = make(dir, &[]);
    assert!(!String::from_utf8_lossy(&noop.stdout).contains("pkg-build"));
    assert_eq!(stamps(dir), built);

    // `make -n` prints the whole pipeline step by step, runs nothing.
    let dry = make_command(dir, &["-n", "-B"]).output().unwrap();
    let dry = String::from_utf8_lossy(&dry.stdout);
    let order: Vec<usize> = ["libgreet >", "greeter >", "pkg-bundle", "cfg-gen"]
        .iter()
        .map(|step| {
            dry.find(step)
                .unwrap_or_else(|| panic!("{step} not in\n{dry}"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{dry}");
    assert_eq!(stamps(dir), built);

    // Edit libgreet: libgreet and greeter (which requires it) get new ids,
    // hello-git and motd are not touched.
    let old_ids: Vec<String> = ["libgreet", "greeter", "hello-git", "motd"]
        .iter()
        .map(|p| read(dir, &format!("out/stamps/{p}.id")))
        .collect();
    let old_bundle = read(dir, "out/stamps/bundle");
    let script = dir.join("packages/libgreet/extra/greet.sh");
    let mut text = std::fs::read_to_string(&script).unwrap();
    text.push_str("# edited\n");
    std::fs::write(&script, text).unwrap();
    assert_eq!(make_q(dir), 1);
    make(dir, &[]);
    let after = stamps(dir);
    assert_eq!(
        rebuilt(&built, &after),
        set(&["libgreet.id", "greeter.id", "bundle", "serve"])
    );
    assert_ne!(read(dir, "out/stamps/libgreet.id"), old_ids[0]);
    assert_ne!(read(dir, "out/stamps/greeter.id"), old_ids[1]);
    assert_eq!(read(dir, "out/stamps/hello-git.id"), old_ids[2]);
    assert_eq!(read(dir, "out/stamps/motd.id"), old_ids[3]);
    assert_ne!(read(dir, "out/stamps/bundle"), old_bundle);
    assert_stamps_truthful(dir);
    assert_eq!(make_q(dir), 0);

    // A new file in a package's extra/ is an input too.
    std::fs::write(dir.join("packages/greeter/extra/new.conf"), "x\n").unwrap();
    make(dir, &[]);
    let added = stamps(dir);
    assert_eq!(
        rebuilt(&after, &added),
        set(&["greeter.id", "bundle", "serve"])
    );

    // Editing the genconf re-renders only the serve tree.
    let config = dir.join("genconf/config.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("tarmac-example", "tarmac-edited")).unwrap();
    make(dir, &[]);
    assert_eq!(rebuilt(&added, &stamps(dir)), set(&["serve"]));
    assert!(read(dir, "out/serve/config.json").contains("tarmac-edited"));
    assert_eq!(make_q(dir), 0);
}

#[test]
fn make_graph_matches_pkg_build_plan() {
    // The Makefile spells the tree's graph out (PACKAGES, NAME_REQUIRES,
    // NAME_VARIANT); it must be the graph pkg-build plans.
    let makefile = read(repo_root(), "Makefile");
    let value = |key: &str| -> Vec<String> {
        makefile
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key} = ")))
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let output = Command::new(env!("CARGO_BIN_EXE_pkg-build"))
        .arg("--packages")
        .arg(repo_root().join("packages"))
        .args(["--plan", "--json", "--tree"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = plan["packages"].as_array().unwrap();
    let name_of = |id: &str| id.split("--").next().unwrap().to_string();
    let planned: Vec<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(value("PACKAGES"), planned, "PACKAGES in build order");
    for package in packages {
        let name = package["name"].as_str().unwrap();
        let requires: Vec<String> = package["requires"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| name_of(id.as_str().unwrap()))
            .collect();
        assert_eq!(value(&format!("{name}_REQUIRES")), requires, "{name}");
        let variant: Vec<String> = package["variant"]
            .as_str()
            .map(|v| vec![v.to_string()])
            .unwrap_or_default();
        assert_eq!(value(&format!("{name}_VARIANT")), variant, "{name}");
    }
}

#[test]
fn make_j2_gives_the_bytes_of_j1_and_of_the_tree_commands() {
    let one = checkout();
    let two = checkout();
    make(one.path(), &["-j1"]);
    make(two.path(), &["-j2"]);
    let bundle = read(one.path(), "out/stamps/bundle");
    assert_eq!(bundle, read(two.path(), "out/stamps/bundle"));
    assert_eq!(
        read(one.path(), "out/serve/dcos_install.sh"),
        read(two.path(), "out/serve/dcos_install.sh")
    );
    // The same bundle as the demo's `pkg-bundle --tree` of the same tree.
    let output = Command::new(env!("CARGO_BIN_EXE_pkg-bundle"))
        .current_dir(one.path())
        .args(["-q", "--tree", "--repo", "out/repo", "--out", "tree-dist"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), bundle);
}

/// Starts make in its own process group, waits until `ready` holds, then
/// sends `signal` to the whole group (as a terminal's ^C, or a power cut).
/// A FIFO the test controls, where a build script blocks: the script's
/// `read` opens it for reading, which [`Gate::wait_for_reader`] sees (a
/// non-blocking open for writing succeeds only once a reader is there), so
/// make is interrupted at a known point, never on a timer. It lives in
/// `/dev/shm`, which the build sandbox binds (with `/dev`) like the host.
struct Gate {
    path: std::path::PathBuf,
    writer: Option<std::fs::File>,
}

impl Gate {
    fn new(name: &str) -> Gate {
        let path = std::path::PathBuf::from(format!(
            "/dev/shm/tarmac-make-gate-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let status = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(status.success(), "mkfifo {}", path.display());
        Gate { path, writer: None }
    }

    /// The line a build script runs to block until [`Gate::release`].
    fn shell_line(&self) -> String {
        format!("read -r _ < '{}' || true\n", self.path.display())
    }

    /// Whether a reader (the blocked build script) has the FIFO open.
    fn wait_for_reader(&mut self) -> bool {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&self.path)
        {
            Ok(file) => {
                self.writer = Some(file);
                true
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) => false,
            Err(e) => panic!("{}: {e}", self.path.display()),
        }
    }

    /// Lets a reader that survived the signal go on (closing the FIFO
    /// gives it end of file).
    fn release(&mut self) {
        use std::io::Write;
        if let Some(mut writer) = self.writer.take() {
            let _ = writer.write_all(b"go\n");
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.release();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs make in its own process group until `gate` has a reader (a build
/// script blocked on it), then sends `signal` to the whole group.
fn interrupt_make(dir: &Path, signal: &str, gate: &mut Gate) {
    let mut child = make_command(dir, &[])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !gate.wait_for_reader() {
        assert!(Instant::now() < deadline, "make never reached the gate");
        assert!(child.try_wait().unwrap().is_none(), "make ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let group = format!("-{}", child.id());
    let status = Command::new("kill")
        .args([signal, "--", &group])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    gate.release();
    assert!(!status.success(), "make was not interrupted: {status}");
}

#[test]
fn make_interrupted_mid_build_leaves_no_false_stamp_and_finishes() {
    let reference = checkout();
    make(reference.path(), &[]);
    let expected = read(reference.path(), "out/stamps/bundle");

    for signal in ["-INT", "-KILL"] {
        let dir = checkout();
        let dir = dir.path();
        // greeter's build blocks on the gate, so make is caught inside it
        // (libgreet is built, greeter's stamp is not written).
        let mut gate = Gate::new(signal.trim_start_matches('-'));
        let build = dir.join("packages/greeter/build");
        let script = std::fs::read_to_string(&build).unwrap();
        let blocking = script.replacen('\n', &format!("\n{}", gate.shell_line()), 1);
        std::fs::write(&build, blocking).unwrap();
        interrupt_make(dir, signal, &mut gate);
        drop(gate);

        let left = stamps(dir);
        assert!(left.contains_key("libgreet.id"), "{signal}: {left:?}");
        assert!(!left.contains_key("greeter.id"), "{signal}: {left:?}");
        assert!(!left.contains_key("bundle") && !left.contains_key("serve"));
        assert_stamps_truthful(dir);
        assert_ne!(make_q(dir), 0, "{signal}: make -q thinks it is done");

        // The next make finishes the job, without redoing libgreet.
        make(dir, &[]);
        let done = stamps(dir);
        assert_eq!(done["libgreet.id"], left["libgreet.id"], "{signal}");
        assert_stamps_truthful(dir);
        assert_eq!(make_q(dir), 0);
        // Same bundle as an uninterrupted run, but for greeter's edited
        // build script: compare everything else.
        let bundle = read(dir, "out/stamps/bundle");
        assert_eq!(bundle.lines().count(), expected.lines().count());
        for p in ["libgreet", "hello-git", "motd"] {
            assert_eq!(
                read(dir, &format!("out/stamps/{p}.id")),
                read(reference.path(), &format!("out/stamps/{p}.id"))
            );
        }
    }
}

#[test]
fn make_stops_at_a_failed_build_and_finishes_once_fixed() {
    let dir = checkout();
    let dir = dir.path();
    let build = dir.join("packages/greeter/build");
    let script = std::fs::read_to_string(&build).unwrap();
    std::fs::write(&build, script.replacen('\n', "\nexit 1\n", 1)).unwrap();
    let failed = make_command(dir, &[]).output().unwrap();
    assert!(!failed.status.success());
    // pkg-build's own exit code for a failed build is 1; make reports it.
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("greeter"), "{stderr}");
    let left = stamps(dir);
    assert!(left.contains_key("libgreet.id"));
    assert!(!left.contains_key("greeter.id") && !left.contains_key("bundle"));
    assert_stamps_truthful(dir);
    assert_ne!(make_q(dir), 0);

    std::fs::write(&build, script).unwrap();
    make(dir, &[]);
    let done = stamps(dir);
    assert_eq!(done["libgreet.id"], left["libgreet.id"], "libgreet redone");
    assert_stamps_truthful(dir);
    assert_eq!(make_q(dir), 0);
}
