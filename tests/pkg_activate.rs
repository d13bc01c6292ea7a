//! pkg-activate: the real binary against temp roots (every path a flag).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tarmac_model::layout;
use tarmac_testkit::host::Host;
use tarmac_testkit::packages::{mesos_0_22, mesos_config, PkgFixture};

use crate::workspace::Activate;

const BIN: &str = env!("CARGO_BIN_EXE_pkg-activate");

/// What only these tests ask of a host: pkg-activate letting `systemctl`
/// run or using the machine's user database, and a snapshot of the host.
trait HostExt {
    /// Like [`Activate::command`] but with the machine's user database
    /// (`--user-db-root /`): callers must put a fake `useradd` first on PATH.
    fn command_with_system_user_db(&self, args: &[&str]) -> Command;
    /// Like [`Activate::command`] but letting pkg-activate run `systemctl`.
    fn command_with_systemctl(&self, args: &[&str]) -> Command;
    /// Everything under the temp dir: path, kind, link target, mode,
    /// content hash. Equal snapshots = nothing changed.
    fn snapshot(&self) -> BTreeMap<String, String>;
}

impl HostExt for Host {
    fn command_with_system_user_db(&self, args: &[&str]) -> Command {
        let mut command = self.pkg_activate_with_user_db(BIN.as_ref(), Path::new("/"));
        command.args(args).arg("--no-systemd");
        command
    }

    fn command_with_systemctl(&self, args: &[&str]) -> Command {
        let mut command = self.pkg_activate(BIN.as_ref());
        command.args(args);
        command
    }

    fn snapshot(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        snapshot_into(self.base(), self.base(), &mut map);
        map
    }
}

fn snapshot_into(base: &Path, dir: &Path, map: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path.strip_prefix(base).unwrap().display().to_string();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            map.insert(
                rel,
                format!("-> {}", std::fs::read_link(&path).unwrap().display()),
            );
        } else if meta.is_dir() {
            map.insert(rel, "dir".into());
            snapshot_into(base, &path, map);
        } else {
            use std::os::unix::fs::PermissionsExt;
            let bytes = std::fs::read(&path).unwrap();
            map.insert(
                rel,
                format!(
                    "{:o} {}",
                    meta.permissions().mode() & 0o7777,
                    blake3::hash(&bytes).to_hex()
                ),
            );
        }
    }
}

/// The farm of a directory as lines: `rel/` for real dirs, `rel -> target`
/// for links (targets with the root replaced by [ROOT]), `rel (file)`.
fn farm(dir: &Path, root: &Path) -> Vec<String> {
    let mut map = BTreeMap::new();
    snapshot_into(dir, dir, &mut map);
    let root = root.display().to_string();
    map.into_iter()
        .map(|(rel, kind)| match kind.as_str() {
            "dir" => format!("{rel}/"),
            k if k.starts_with("-> ") => format!("{rel} {}", k.replace(&root, "[ROOT]")),
            _ => format!("{rel} (file)"),
        })
        .collect()
}

/// The resolved view: every path reachable under `dir` following links,
/// with the content of files. Folded and per-file farms must agree.
fn resolved(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, map: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                map.insert(rel, "dir".into());
                walk(base, &path, map);
            } else {
                map.insert(
                    rel,
                    String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into(),
                );
            }
        }
    }
    let mut map = BTreeMap::new();
    walk(dir, dir, &mut map);
    map
}

fn pkgpanda_pair(host: &Host) -> (String, String) {
    (
        host.add(mesos_0_22()),
        host.add(mesos_config("ffddcfb53168d42f92e4771c6f8a8a9a818fd6b8")),
    )
}

#[test]
fn activates_pkgpanda_fixture_into_exact_per_file_tree() {
    let host = Host::new(&["master"]);
    let (mesos, config) = pkgpanda_pair(&host);
    assert_eq!(host.ok(&["--no-fold", "activate", &mesos, &config]), "1\n");
    let root = host.root();
    let gen = root.join("generations/1");
    let expected = [
        "active/",
        "active.buildinfo.full.json (file)",
        "active/mesos -> [ROOT]/packages/mesos--0.22.0",
        "active/mesos-config -> [ROOT]/packages/mesos-config--ffddcfb53168d42f92e4771c6f8a8a9a818fd6b8",
        "bin/",
        "bin/mesos -> [ROOT]/packages/mesos--0.22.0/bin/mesos",
        "bin/mesos-dir/",
        "bin/mesos-dir/.gitignore -> [ROOT]/packages/mesos--0.22.0/bin/mesos-dir/.gitignore",
        "bin/mesos-master -> [ROOT]/packages/mesos--0.22.0/bin_master/mesos-master",
        "bin/mesos-slave -> [ROOT]/packages/mesos--0.22.0/bin_master/mesos-slave",
        "dcos.target.wants/",
        "dcos.target.wants/dcos-mesos-master.service -> [ROOT]/packages/mesos--0.22.0/dcos.target.wants_master/dcos-mesos-master.service",
        "environment (file)",
        "environment.export (file)",
        "etc/",
        "etc/dcos-service-configuration.json (file)",
        "etc/foobar -> [ROOT]/packages/mesos-config--ffddcfb53168d42f92e4771c6f8a8a9a818fd6b8/etc/foobar",
        "generation.json (file)",
        "include/",
        "lib/",
        "lib/libmesos.so -> [ROOT]/packages/mesos--0.22.0/lib/libmesos.so",
    ];
    assert_eq!(farm(&gen, &root), expected);

    let r = root.display();
    assert_eq!(
        std::fs::read_to_string(root.join("environment")).unwrap(),
        format!(
            "# Pkgpanda provided environment variables\nLD_LIBRARY_PATH={r}/lib\nPATH={r}/bin:/usr/bin:/bin:/sbin\n\n\
             # package: mesos--0.22.0\n\n\
             # package: mesos-config--ffddcfb53168d42f92e4771c6f8a8a9a818fd6b8\nFOO=BAR\nBAZ=TEST\n\n"
        )
    );
    assert_eq!(
        std::fs::read_to_string(root.join("environment.export")).unwrap(),
        format!(
            "# Pkgpanda provided environment variables\nexport LD_LIBRARY_PATH={r}/lib\nexport PATH=\"{r}/bin:$PATH\"\n\n\
             # package: mesos--0.22.0\n\n\
             # package: mesos-config--ffddcfb53168d42f92e4771c6f8a8a9a818fd6b8\nexport FOO=BAR\nexport BAZ=TEST\n\n"
        )
    );
    let service: Value = serde_json::from_slice(
        &std::fs::read(root.join("etc/dcos-service-configuration.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        service,
        json!({"sysctl": {
            "dcos-mesos-master": {"kernel.watchdog_thresh": "11", "net.netfilter.nf_conntrack_udp_timeout": "30"},
            "dcos-mesos-slave": {"kperf.debug_level": "1"}
        }})
    );
    let buildinfo: Value =
        serde_json::from_slice(&std::fs::read(root.join("active.buildinfo.full.json")).unwrap())
            .unwrap();
    assert_eq!(buildinfo, json!({"mesos": {}, "mesos-config": {}}));

    // Fixed links through `current`, and the commit point itself.
    for name in [
        "bin",
        "lib",
        "etc",
        "include",
        "active",
        "environment",
        "environment.export",
    ] {
        assert_eq!(
            std::fs::read_link(root.join(name)).unwrap(),
            Path::new("current").join(name)
        );
    }
    assert_eq!(
        std::fs::read_link(root.join("current")).unwrap(),
        Path::new("generations/1")
    );
    assert!(root.join("bin/mesos-master").exists());

    // The unit is copied (content and mode) and wanted by dcos.target.
    let systemd = host.systemd();
    assert_eq!(
        std::fs::read(systemd.join("dcos-mesos-master.service")).unwrap(),
        b"[Service]\nExecStart=/opt/mesosphere/bin/mesos-master\n"
    );
    assert!(
        !std::fs::symlink_metadata(systemd.join("dcos-mesos-master.service"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(systemd.join("dcos.target.wants/dcos-mesos-master.service")).unwrap(),
        Path::new("../dcos-mesos-master.service")
    );
    assert!(!systemd.join("dcos-mesos-slave.service").exists());

    assert_eq!(host.ok(&["active"]), format!("{mesos}\n{config}\n"));
    let status = host.status();
    assert_eq!(status["current"], json!(1));
    assert_eq!(status["healthy"], json!(true), "{status}");
    assert_eq!(status["roles"], json!(["master"]));
    assert_eq!(status["packages"], json!([mesos, config]));
}

#[test]
fn slave_role_links_slave_units_and_no_master_binaries() {
    let host = Host::new(&["slave"]);
    let (mesos, _) = pkgpanda_pair(&host);
    host.ok(&["activate", &mesos]);
    let root = host.root();
    assert!(root.join("bin/mesos").exists());
    assert!(!root.join("bin/mesos-master").exists());
    assert!(host.systemd().join("dcos-mesos-slave.service").is_file());
    assert!(!host.systemd().join("dcos-mesos-master.service").exists());
}

/// Two packages share `lib/python3/site-packages`; one ships a deep tree of
/// its own and a symlink; roles add files into a shared dir.
fn rich_set(host: &Host) -> Vec<String> {
    vec![
        host.add(
            PkgFixture::new("python", "1")
                .file("bin/python3", b"py", 0o755)
                .symlink("bin/python", "python3")
                .file("lib/python3/os.py", b"os", 0o644)
                .file("lib/python3/site-packages/README", b"readme", 0o644)
                .file("include/python3/Python.h", b"h", 0o644)
                .dir("include/python3/empty"),
        ),
        host.add(
            PkgFixture::new("requests", "2")
                .file(
                    "lib/python3/site-packages/requests/__init__.py",
                    b"req",
                    0o644,
                )
                .file(
                    "lib/python3/site-packages/requests/adapters/http.py",
                    b"http",
                    0o644,
                )
                .file("etc/requests/defaults.conf", b"d", 0o644)
                .file("etc_master/requests/master.conf", b"m", 0o644),
        ),
        host.add(PkgFixture::new("empty", "0")),
    ]
}

#[test]
fn folded_and_per_file_farms_resolve_to_the_same_view() {
    let folded = Host::new(&["master"]);
    let ids = rich_set(&folded);
    let mut args = vec!["activate"];
    args.extend(ids.iter().map(String::as_str));
    folded.ok(&args);
    let flat = Host::new(&["master"]);
    rich_set(&flat);
    let mut flat_args = vec!["--no-fold"];
    flat_args.extend(&args);
    flat.ok(&flat_args);

    let folded_gen = folded.root().join("generations/1");
    let flat_gen = flat.root().join("generations/1");
    for dir in ["bin", "etc", "include", "lib"] {
        assert_eq!(
            resolved(&folded_gen.join(dir)),
            resolved(&flat_gen.join(dir)),
            "{dir}"
        );
    }
    // Folding: one link for a directory only one package provides; a real
    // directory where two sources meet (requests/ and requests in etc_master).
    let farm_lines = farm(&folded_gen, &folded.root());
    for line in [
        "include/python3 -> [ROOT]/packages/python--1/include/python3",
        "lib/python3/",
        "lib/python3/site-packages/",
        "lib/python3/site-packages/requests -> [ROOT]/packages/requests--2/lib/python3/site-packages/requests",
        "etc/requests/",
        "etc/requests/master.conf -> [ROOT]/packages/requests--2/etc_master/requests/master.conf",
        "bin/python -> [ROOT]/packages/python--1/bin/python",
    ] {
        assert!(farm_lines.contains(&line.to_string()), "{line} not in {farm_lines:#?}");
    }
    let folded_status = folded.status();
    let flat_status = flat.status();
    assert_eq!(folded_status["folded"], json!(true));
    assert_eq!(flat_status["folded"], json!(false));
    assert_eq!(folded_status["healthy"], json!(true), "{folded_status}");
    assert_eq!(flat_status["healthy"], json!(true), "{flat_status}");
    let record = |host: &Host| -> Value {
        serde_json::from_slice(
            &std::fs::read(host.root().join("generations/1/generation.json")).unwrap(),
        )
        .unwrap()
    };
    assert!(record(&folded)["links"].as_u64() < record(&flat)["links"].as_u64());
}

#[test]
fn empty_activation_yields_an_empty_farm() {
    let host = Host::new(&[]);
    assert_eq!(host.ok(&["activate"]), "1\n");
    let root = host.root();
    assert_eq!(
        farm(&root.join("generations/1"), &root),
        [
            "active/",
            "active.buildinfo.full.json (file)",
            "bin/",
            "dcos.target.wants/",
            "environment (file)",
            "environment.export (file)",
            "etc/",
            "etc/dcos-service-configuration.json (file)",
            "generation.json (file)",
            "include/",
            "lib/",
        ]
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/dcos-service-configuration.json")).unwrap(),
        // pkgpanda's json_prettyprint: sorted, indent 2, "key":value, no newline.
        "{\n  \"sysctl\":{}\n}"
    );
    assert_eq!(host.ok(&["active"]), "");
}

/// Each refused set: exit code, first stderr line, and nothing changed
/// (the host was activated once before, so there is state to preserve).
#[test]
fn every_validation_error_is_one_line_and_changes_nothing() {
    let host = Host::new(&["master", "slave"]);
    let (mesos, _config) = pkgpanda_pair(&host);
    host.ok(&["activate", &mesos]);
    let add = |f: PkgFixture| host.add(f);
    let a = add(PkgFixture::new("a", "1")
        .file("bin/tool", b"a", 0o755)
        .env("X", "1"));
    let b = add(PkgFixture::new("b", "1").file("bin/tool", b"b", 0o755));
    let a2 = add(PkgFixture::new("a", "2"));
    let same_env = add(PkgFixture::new("c", "1").env("X", "1"));
    let path_env = add(PkgFixture::new("d", "1").env("PATH", "/x"));
    let needs = add(PkgFixture::new("e", "1").requires(&["nothere"]));
    let int1 = add(PkgFixture::new("f", "1")
        .file("dcos.target.wants/f.service", b"[Service]\n", 0o644)
        .sysctl("f", "vm.x", json!(1)));
    let str1 = add(PkgFixture::new("g", "1")
        .file("dcos.target.wants/g.service", b"[Service]\n", 0o644)
        .sysctl("g", "vm.x", json!("1")));
    let roles = add(PkgFixture::new("h", "1")
        .file("bin_master/both", b"m", 0o755)
        .file("bin_slave/both", b"s", 0o755));
    let empty_dir = add(PkgFixture::new("i", "1").dir("bin/tool"));
    let group = add(PkgFixture::new("j", "1").raw_pkginfo(br#"{"group": "docker"}"#));
    let bad_json = add(PkgFixture::new("k", "1").raw_pkginfo(b"{not json"));
    let ships =
        add(PkgFixture::new("l", "1").file("etc/dcos-service-configuration.json", b"{}", 0o644));
    let reserved = add(PkgFixture::new("m", "1").file("dcos.target.wants/dcos.target", b"", 0o644));
    let no_service = add(PkgFixture::new("n", "1").sysctl("n", "vm.y", json!("2")));
    let missing_user_group = add(PkgFixture::new("o", "1")
        .username("dcos_o")
        .group("nosuchgroup"));

    let cases: Vec<(Vec<&str>, i32, String)> = vec![
        (vec!["a-1"], 3, "pkg-activate: error: invalid package id \"a-1\"".into()),
        (vec![&a, &a], 3, format!("pkg-activate: error: {a}: given more than once")),
        (vec!["zz--9"], 3, "pkg-activate: error: ".to_string() + &host.root().join("packages/zz--9").display().to_string() + ": package not found"),
        (vec![&a, &a2], 5, "pkg-activate: error: a: repeated package name in the set (a--1 and a--2)".into()),
        (vec![&a, &b], 5, "pkg-activate: error: bin/tool: provided by both a--1 (bin/tool) and b--1 (bin/tool)".into()),
        (vec![&roles], 5, "pkg-activate: error: bin/both: provided by both h--1 (bin_master/both) and h--1 (bin_slave/both)".into()),
        (vec![&a, &empty_dir], 5, "pkg-activate: error: bin/tool: provided by both a--1 (bin/tool) and i--1 (bin/tool)".into()),
        (vec![&a, &same_env], 5, "pkg-activate: error: X: environment variable set by both a--1 and c--1".into()),
        (vec![&path_env], 3, "pkg-activate: error: ".into()),
        (vec![&needs], 3, "pkg-activate: error: e--1: requires nothere, which is not in the set of packages".into()),
        (vec![&int1, &str1], 5, "pkg-activate: error: vm.x: conflicting sysctl values 1 (f--1, service f) and \"1\" (g--1, service g)".into()),
        (vec![&group], 3, "pkg-activate: error: ".into()),
        (vec![&bad_json], 3, "pkg-activate: error: ".into()),
        (vec![&ships], 5, "pkg-activate: error: etc/dcos-service-configuration.json: provided by l--1, but pkg-activate writes this file itself".into()),
        (vec![&reserved], 3, "pkg-activate: error: m--1: unit name dcos.target is reserved".into()),
        (vec![&no_service], 3, "pkg-activate: error: n--1: pkginfo.json: sysctl is set but the package has no *.service file to name the service".into()),
        (vec![&missing_user_group], 3, "pkg-activate: error: dcos_o: group nosuchgroup (from o--1) does not exist in".into()),
    ];
    let before = host.snapshot();
    for (ids, code, prefix) in cases {
        let mut args = vec!["activate"];
        args.extend(ids.iter().copied());
        let line = host.fail(&args, code);
        assert!(
            line.starts_with(&prefix),
            "{ids:?}: {line:?} does not start with {prefix:?}"
        );
        assert!(!line.contains('\n'));
        assert_eq!(host.snapshot(), before, "{ids:?} changed the host");
    }
    // The model's own messages name the file and key.
    let line = host.fail(&["activate", &path_env], 3);
    assert!(
        line.contains("pkginfo.json") && line.contains("PATH"),
        "{line}"
    );
    let line = host.fail(&["activate", &group], 3);
    assert!(
        line.contains("pkginfo.json") && line.contains("group"),
        "{line}"
    );
    let line = host.fail(&["activate", &bad_json], 3);
    assert!(line.contains("k--1/pkginfo.json"), "{line}");
}

/// Two packages with users: svc (dcos_svc, a state directory) and other
/// (dcos_other in the docker group); their ids.
fn add_user_packages(host: &Host) -> (String, String) {
    let id = host.add(
        PkgFixture::new("svc", "1")
            .username("dcos_svc")
            .state_directory()
            .file("bin/svc", b"x", 0o755),
    );
    let grouped = host.add(
        PkgFixture::new("other", "1")
            .username("dcos_other")
            .group("docker"),
    );
    (id, grouped)
}

#[test]
fn package_users_and_state_directories_are_made_in_the_given_user_db() {
    let host = Host::new(&[]);
    let (id, grouped) = add_user_packages(&host);
    host.ok(&["activate", &id, &grouped]);
    let passwd = std::fs::read_to_string(host.base().join("users/etc/passwd")).unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("dcos_svc:"))
        .expect("user created");
    assert!(
        line.ends_with(":DCOS System User:/opt/mesosphere:/sbin/nologin"),
        "{line}"
    );
    let other = passwd
        .lines()
        .find(|l| l.starts_with("dcos_other:"))
        .expect("user created");
    assert_eq!(other.split(':').nth(3), Some("990"), "{other}");
    let uid: u32 = line.split(':').nth(2).unwrap().parse().unwrap();
    use std::os::unix::fs::MetadataExt;
    let state = host.base().join("state/svc");
    assert_eq!(std::fs::metadata(&state).unwrap().uid(), uid);
    // Activating again finds the users and changes nothing about them.
    host.ok(&["activate", &id, &grouped]);
    assert_eq!(
        std::fs::read_to_string(host.base().join("users/etc/passwd")).unwrap(),
        passwd
    );
}

/// Issue 6 "no root needed": with a private user database, pkg-activate
/// appends the users itself (no `useradd`), keeps the files' modes, and
/// leaves state directories to the caller. As root, the test drops to
/// nobody (65534) with setpriv, on a copy of the binary nobody can run.
#[test]
fn package_users_are_appended_to_a_private_user_db_without_root() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let host = Host::new(&[]);
    let (id, grouped) = add_user_packages(&host);
    let users = host.base().join("users/etc");
    std::fs::write(users.join("shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    std::fs::set_permissions(users.join("shadow"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let bin = host.base().join("pkg-activate");
    std::fs::copy(BIN, &bin).unwrap();
    // /proc/self belongs to the effective uid.
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let mut command = if root {
        let status = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(host.base())
            .status()
            .unwrap();
        assert!(status.success());
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    command
        .arg("--root")
        .arg(host.root())
        .arg("--config-dir")
        .arg(host.base().join("config"))
        .arg("--systemd-dir")
        .arg(host.systemd())
        .arg("--state-dir-root")
        .arg(host.base().join("state"))
        .arg("--user-db-root")
        .arg(host.base().join("users"))
        .args(["--no-systemd", "activate", &id, &grouped])
        .env_remove("TARMAC_FAILPOINT");
    // The copy was just written: a process forked meanwhile by another test
    // thread may still hold it open for writing (ETXTBSY) for a moment.
    let mut out = command.output().unwrap();
    for _ in 0..50 {
        if !String::from_utf8_lossy(&out.stderr).contains("Text file busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        out = command.output().unwrap();
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(users.join(name)).unwrap();
    // Sorted package order (other, svc); the highest free system ids first.
    assert_eq!(
        read("passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         dcos_other:x:999:990:DCOS System User:/opt/mesosphere:/sbin/nologin\n\
         dcos_svc:x:998:998:DCOS System User:/opt/mesosphere:/sbin/nologin\n"
    );
    assert_eq!(read("group"), "root:x:0:\ndocker:x:990:\ndcos_svc:x:998:\n");
    assert_eq!(read("gshadow"), "dcos_svc:!::\n");
    assert_eq!(
        read("shadow"),
        "root:*:19000:0:99999:7:::\ndcos_other:!:::::::\ndcos_svc:!:::::::\n"
    );
    let mode = std::fs::metadata(users.join("shadow"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    let caller = std::fs::metadata(host.base()).unwrap().uid();
    assert_eq!(
        std::fs::metadata(host.base().join("state/svc"))
            .unwrap()
            .uid(),
        caller
    );
    assert_eq!(
        std::fs::read_dir(&users).unwrap().count(),
        4,
        "no temp file left"
    );
}

/// A `useradd` that only records its arguments and fails, first on a PATH
/// without /usr/sbin: a run with `--user-db-root /` can never reach the
/// machine's real useradd (nor its user database).
fn fake_useradd(host: &Host) -> (String, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = host.base().join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = host.base().join("useradd.log");
    let script = bin.join("useradd");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 1\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (format!("{}:/usr/bin:/bin", bin.display()), log)
}

/// `<config-dir>/manual_host_users` (pkgpanda cli.py:154): a package user
/// that does not exist refuses the set, naming user, package and file;
/// nothing changes. Users that exist are fine; without the file the user
/// is created as before.
#[test]
fn manual_host_users_refuses_a_missing_user_in_a_private_user_db() {
    let host = Host::new(&[]);
    let svc = host.add(
        PkgFixture::new("svc", "1")
            .username("dcos_svc")
            .state_directory(),
    );
    let plain = host.add(PkgFixture::new("plain", "1").file("bin/plain", b"p", 0o755));
    host.ok(&["activate", &plain]);
    let manual = host.base().join("config/manual_host_users");
    std::fs::write(&manual, "").unwrap();
    let before = host.snapshot();
    let line = host.fail(&["activate", &plain, &svc], 3);
    assert!(
        line.starts_with("pkg-activate: error: dcos_svc: does not exist in ")
            && line.contains(&manual.display().to_string())
            && line.contains("svc--1"),
        "{line}"
    );
    assert_eq!(host.snapshot(), before, "a refused set changed the host");
    // A user the operator made is accepted and left alone.
    let passwd = host.base().join("users/etc/passwd");
    let made = "root:x:0:0:root:/root:/bin/sh\n\
                dcos_svc:x:500:500::/home/dcos_svc:/bin/false\n";
    std::fs::write(&passwd, made).unwrap();
    host.ok(&["activate", &plain, &svc]);
    assert_eq!(std::fs::read_to_string(&passwd).unwrap(), made);
    // Without the file, a missing user is created again.
    std::fs::remove_file(&manual).unwrap();
    let other = host.add(PkgFixture::new("other", "1").username("dcos_other"));
    host.ok(&["activate", &plain, &svc, &other]);
    assert!(std::fs::read_to_string(&passwd)
        .unwrap()
        .contains("\ndcos_other:"));
}

/// The same with `--user-db-root /` (the machine's own database, only
/// read): refused before `useradd` would run. Without the file, useradd is
/// what runs (here a fake one, so the machine's database stays untouched).
#[test]
fn manual_host_users_refuses_a_missing_user_with_the_system_user_db() {
    let host = Host::new(&[]);
    let user = "dcos_tarmac_absent_test";
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(!passwd.contains(&format!("\n{user}:")) && !passwd.starts_with(&format!("{user}:")));
    let id = host.add(PkgFixture::new("svc", "1").username(user));
    let (path, log) = fake_useradd(&host);
    let run = |manual: bool| {
        let marker = host.base().join("config/manual_host_users");
        if manual {
            std::fs::write(&marker, "").unwrap();
        } else {
            let _ = std::fs::remove_file(&marker);
        }
        host.command_with_system_user_db(&["activate", &id])
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    let out = run(true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("{user}: does not exist in /etc/passwd"))
            && stderr.contains("manual_host_users")
            && stderr.contains("svc--1"),
        "{stderr}"
    );
    assert!(!log.exists(), "useradd ran");
    assert!(!host.root().join("current").exists());
    let out = run(false);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!(
            "--system --home-dir /opt/mesosphere --shell /sbin/nologin -c DCOS System User --user-group {user}\n"
        )
    );
}

/// A package user whose name is already a group (and no such user):
/// `useradd --user-group` refuses it, so pkgpanda does; so does tarmac,
/// exit 3 naming the group, for a private database as for `/`, and also
/// when `group` names that same group (pkgpanda then uses --user-group too).
#[test]
fn a_package_user_named_like_an_existing_group_is_refused() {
    let host = Host::new(&[]);
    let group_file = host.base().join("users/etc/group");
    let groups = "root:x:0:\ndocker:x:990:\ndcos_grp:x:555:\n";
    std::fs::write(&group_file, groups).unwrap();
    let plain = host.add(PkgFixture::new("grp", "1").username("dcos_grp"));
    let same = host.add(
        PkgFixture::new("grp", "2")
            .username("dcos_grp")
            .group("dcos_grp"),
    );
    host.ok(&["activate"]);
    let before = host.snapshot();
    for id in [&plain, &same] {
        let line = host.fail(&["activate", id], 3);
        assert!(
            line.starts_with("pkg-activate: error: dcos_grp: does not exist in ")
                && line.contains("but group dcos_grp (gid 555) does in")
                && line.contains(&group_file.display().to_string())
                && line.contains(id.as_str()),
            "{line}"
        );
        assert_eq!(host.snapshot(), before, "{id} changed the host");
    }
    // With `/`: a private mount namespace shows a group file that has the
    // group (the machine's own /etc/group is never written).
    let shadowed = host.base().join("group.shadow");
    let mut text = std::fs::read_to_string("/etc/group").unwrap();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let user = "dcos_tarmac_grp_test";
    assert!(!std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .contains(user));
    text.push_str(&format!("{user}:x:4242:\n"));
    std::fs::write(&shadowed, text).unwrap();
    let id = host.add(PkgFixture::new("sys", "1").username(user));
    let (path, log) = fake_useradd(&host);
    let mut inner = host.command_with_system_user_db(&["activate", &id]);
    let argv: Vec<String> = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    let script = format!(
        "mount --bind '{}' /etc/group && exec {}",
        shadowed.display(),
        argv.join(" ")
    );
    inner = Command::new("unshare");
    inner
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("PATH", &path)
        .env_remove("TARMAC_FAILPOINT");
    let out = inner.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{user}: does not exist in /etc/passwd but group {user} (gid 4242) does in /etc/group"
        )),
        "{stderr}"
    );
    assert!(!log.exists(), "useradd ran");
    assert!(!std::fs::read_to_string("/etc/group")
        .unwrap()
        .contains(user));
}

/// pkgpanda leaves `<systemd-dir>/dcos.target.wants/` after every
/// activation, also when no package ships a unit.
#[test]
fn the_wants_directory_exists_after_every_activation() {
    let host = Host::new(&[]);
    std::fs::remove_dir(host.systemd()).unwrap();
    let plain = host.add(PkgFixture::new("plain", "1").file("bin/plain", b"p", 0o755));
    host.ok(&["activate", &plain]);
    assert!(host.systemd().join("dcos.target.wants").is_dir());
    std::fs::remove_dir(host.systemd().join("dcos.target.wants")).unwrap();
    host.ok(&["activate"]);
    assert!(host.systemd().join("dcos.target.wants").is_dir());
    // With units, removed, and on rollback too.
    let svc = host.add(PkgFixture::new("svc", "1").file(
        "dcos.target.wants/svc.service",
        b"[Service]\n",
        0o644,
    ));
    host.ok(&["activate", &svc]);
    host.ok(&["activate"]);
    let wants = host.systemd().join("dcos.target.wants");
    assert_eq!(std::fs::read_dir(&wants).unwrap().count(), 0);
    host.ok(&["rollback"]);
    assert!(wants.join("svc.service").is_symlink());
    host.ok(&["rollback", "--to", "2"]);
    std::fs::remove_dir_all(&wants).unwrap();
    // From one unit-less generation to another: nothing to sync.
    host.ok(&["rollback", "--to", "4"]);
    assert!(wants.is_dir());
}

/// How systemd and bash read back `NAME=value` lines: `(systemd, bash with
/// `set -a; . environment`, bash with `. environment.export`)`, each a map
/// of the variables named in `names`. systemd's own parser is reached
/// through the environment.d generator (the EnvironmentFile= parser plus
/// `$` expansion, which only matters for values tarmac refuses anyway).
struct EnvReaders {
    dir: tempfile::TempDir,
}

const ENV_GENERATOR: &str =
    "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator";

impl EnvReaders {
    fn new() -> EnvReaders {
        assert!(
            Path::new(ENV_GENERATOR).is_file(),
            "{ENV_GENERATOR} missing: systemd is needed to read environment files back"
        );
        EnvReaders {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// systemd: `file`'s variables as the generator prints them, decoded.
    fn systemd(&self, file: &Path) -> BTreeMap<String, String> {
        let conf = self.dir.path().join("environment.d");
        let _ = std::fs::remove_dir_all(&conf);
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::copy(file, conf.join("t.conf")).unwrap();
        let out = Command::new("env")
            .args(["-i", "HOME=/nonexistent"])
            .arg(format!("XDG_CONFIG_HOME={}", self.dir.path().display()))
            .arg(ENV_GENERATOR)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_string(), unescape_systemd(v)))
            .collect()
    }

    /// bash: sources `file` (after `prefix`, e.g. `set -a;`) in a clean
    /// environment, in a scratch directory (a misread line may run a
    /// command or redirect), and returns its exported variables.
    fn bash(&self, prefix: &str, file: &Path) -> BTreeMap<String, String> {
        let scratch = self.dir.path().join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        let out = Command::new("env")
            .args(["-i", "HOME=/nonexistent", "bash", "-c"])
            .arg(format!(
                "{prefix} . '{}' >/dev/null 2>&1; env -0",
                file.display()
            ))
            .current_dir(&scratch)
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.split('\0')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Whether `value` reads back unchanged from `V=value` by systemd and
    /// bash, and from `export V=value` by bash.
    fn round_trips(&self, value: &str) -> bool {
        let env = self.dir.path().join("one.env");
        let export = self.dir.path().join("one.export");
        std::fs::write(&env, format!("V={value}\n")).unwrap();
        std::fs::write(&export, format!("export V={value}\n")).unwrap();
        let want = Some(&value.to_string());
        systemd_read(&self.systemd(&env), "V", value)
            && self.bash("set -a;", &env).get("V") == want
            && self.bash("", &export).get("V") == want
    }
}

/// Whether systemd read `key` as `value`. The generator skips an empty
/// assignment (its merge wants a value) that EnvironmentFile= reads as the
/// empty string, so for `""` only its absence can be checked.
fn systemd_read(vars: &BTreeMap<String, String>, key: &str, value: &str) -> bool {
    match vars.get(key) {
        Some(read) => read == value,
        None => value.is_empty(),
    }
}

/// systemd prints a value either bare or in double quotes with C escapes.
fn unescape_systemd(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return text.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().unwrap();
        out.push(match e {
            'a' => '\x07',
            'b' => '\x08',
            'f' => '\x0c',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\x0b',
            '0'..='7' => {
                let digits: String = std::iter::once(e).chain(chars.by_ref().take(2)).collect();
                char::from(u8::from_str_radix(&digits, 8).unwrap())
            }
            other => other,
        });
    }
    out
}

/// Environment values: every sample value that systemd and bash read back
/// unchanged from the unquoted lines pkgpanda writes is accepted, and the
/// generation's own `environment` and `environment.export` give it back
/// through systemd and bash; every sample that does not round-trip is
/// refused (exit 3), the message naming file, key and the character. The
/// samples: each ASCII character and a few non-ASCII ones, alone, first,
/// last, inside and after ':' (where bash expands `~`), plus expansions.
#[test]
fn environment_values_are_accepted_exactly_when_they_round_trip() {
    let readers = EnvReaders::new();
    let mut samples: Vec<String> = vec![
        String::new(),
        "~/x".into(),
        "x:~".into(),
        "x=~".into(),
        "{a,b}".into(),
        "x{1..3}y".into(),
        "{x}".into(),
        "a{b".into(),
        "$".into(),
        "x$".into(),
        "#x".into(),
        "/opt/mesosphere/lib".into(),
    ];
    let specials = ['\u{a0}', '\u{85}', 'é', '\u{2028}', '€'];
    for c in (1u8..=127).map(char::from).chain(specials) {
        for template in ["x{}y", "{}y", "x{}", "x:{}y", "{}"] {
            // `~y` reads back unchanged only while no user `y` exists: try
            // the user every host has instead.
            let template = if c == '~' {
                template.replace("{}y", "{}root")
            } else {
                template.to_string()
            };
            samples.push(template.replace("{}", &c.to_string()));
        }
    }
    let (good, bad): (Vec<&String>, Vec<&String>) =
        samples.iter().partition(|v| readers.round_trips(v));
    // The tab pkgpanda accepts is among the values that cannot round-trip.
    assert!(bad.contains(&&"x\ty".to_string()), "{bad:?}");
    assert!(good.contains(&&"x\u{b}y".to_string()), "{good:?}");

    let host = Host::new(&[]);
    let mut fixture = PkgFixture::new("env", "1");
    for (i, value) in good.iter().enumerate() {
        fixture = fixture.env(&format!("V{i}"), value);
    }
    let id = host.add(fixture);
    host.ok(&["activate", &id]);
    let env = host.root().join("environment");
    let export = host.root().join("environment.export");
    let systemd = readers.systemd(&env);
    let read = [
        ("bash environment", readers.bash("set -a;", &env)),
        ("bash environment.export", readers.bash("", &export)),
    ];
    for (i, value) in good.iter().enumerate() {
        let key = format!("V{i}");
        assert!(
            systemd_read(&systemd, &key, value),
            "systemd: {key}={value:?}"
        );
        for (reader, vars) in &read {
            assert_eq!(vars.get(&key), Some(*value), "{reader}: {key}");
        }
    }

    for (i, value) in bad.iter().enumerate() {
        let id = host.add(PkgFixture::new("bad", &i.to_string()).env("BAD", value));
        let out = host.run(&["activate", &id]);
        let stderr = out.stderr.as_str();
        assert_eq!(out.status.code(), Some(3), "{value:?} accepted: {stderr}");
        let line = stderr.lines().next().unwrap_or_default();
        let file = host.root().join(format!("packages/{id}/pkginfo.json"));
        assert!(
            line.contains(&file.display().to_string())
                && line.contains("environment.BAD")
                && line.contains("must read back unchanged"),
            "{value:?}: {line}"
        );
        // The character named is one of the value's.
        let named = line.split("unchanged; ").nth(1).unwrap_or_default();
        assert!(
            value
                .chars()
                .any(|c| named.starts_with(&format!("{c:?} at character"))),
            "{value:?}: {line}"
        );
    }
}

#[test]
fn swap_replaces_one_package_by_name() {
    let host = Host::new(&["master"]);
    let (mesos, config) = pkgpanda_pair(&host);
    let justmesos = host.add(mesos_config("justmesos"));
    host.ok(&["activate", &mesos, &config]);
    assert_eq!(host.ok(&["swap", &justmesos]), "2\n");
    assert_eq!(host.ok(&["active"]), format!("{mesos}\n{justmesos}\n"));
    let line = host.fail(&["swap", "nothing--1"], 3);
    assert_eq!(
        line,
        "pkg-activate: error: nothing: no package with this name is active, nothing to swap"
    );
}

/// Overrides (issue 14 § 3): with the cluster's set recorded in
/// <config-dir>/setup-flags/cluster-package-ids, a swapped-in package is
/// reported until rollback; without the file the set is unknown; a file
/// naming something that is not an id is a problem, path and line first.
#[test]
fn status_reports_packages_outside_the_cluster_set_as_overrides() {
    let host = Host::new(&["master"]);
    let (mesos, config) = pkgpanda_pair(&host);
    let patched = host.add(mesos_config("patched"));
    host.ok(&["activate", &mesos, &config]);
    // No recorded set: unknown, not "no override".
    let status = host.status();
    assert_eq!(status["cluster_set"], false);
    assert_eq!(status["overrides"], Value::Null);
    assert!(host.ok(&["status"]).contains("cluster-set false\n"));

    let flags = host.base().join("config/setup-flags");
    std::fs::create_dir_all(&flags).unwrap();
    std::fs::write(
        flags.join("cluster-package-ids"),
        format!("{mesos}\n{config}\n"),
    )
    .unwrap();
    let status = host.status();
    assert_eq!(status["cluster_set"], true);
    assert_eq!(status["overrides"], json!([]));
    assert_eq!(status["healthy"], true);

    assert_eq!(host.ok(&["swap", &patched]), "2\n");
    let status = host.status();
    assert_eq!(status["overrides"], json!([patched]));
    assert_eq!(status["healthy"], true, "an override is not damage");
    let text = host.ok(&["status"]);
    assert!(
        text.contains(&format!("cluster-set true\noverride {patched}\n")),
        "{text}"
    );
    assert_eq!(host.ok(&["rollback"]), "1\n");
    assert_eq!(host.status()["overrides"], json!([]));
    assert!(!host.ok(&["status"]).contains("override "));

    // Whitespace-separated ids are read too; a word that is no id is a
    // problem naming the file and line (status still answers, exit 0).
    let file = flags.join("cluster-package-ids");
    std::fs::write(&file, format!("{mesos} {config}\n\nnot-an-id\n")).unwrap();
    let status = host.status();
    assert_eq!(status["healthy"], false);
    assert_eq!(status["cluster_set"], false);
    assert_eq!(status["overrides"], Value::Null);
    assert_eq!(
        status["problems"][0],
        format!(
            "{}: line 3: \"not-an-id\" is not a package id: {}",
            file.display(),
            status["problems"][0]
                .as_str()
                .unwrap()
                .rsplit_once("package id: ")
                .unwrap()
                .1
        )
    );
}

#[test]
fn rollback_gc_and_remove() {
    let host = Host::new(&["master"]);
    let (mesos, config) = pkgpanda_pair(&host);
    let justmesos = host.add(mesos_config("justmesos"));
    let unused = host.add(PkgFixture::new("unused", "1"));
    host.ok(&["activate", &mesos]);
    host.ok(&["activate", &mesos, &config]);
    host.ok(&["activate", &mesos, &justmesos]);
    assert_eq!(host.ok(&["rollback"]), "2\n");
    assert_eq!(host.ok(&["active"]), format!("{mesos}\n{config}\n"));
    assert_eq!(host.ok(&["rollback", "--to", "3"]), "3\n");
    assert_eq!(
        host.fail(&["rollback", "--to", "9"], 3),
        format!(
            "pkg-activate: error: {}: no such generation",
            host.root().join("generations/9").display()
        )
    );

    // A package a generation uses cannot be removed; an unused one can.
    let line = host.fail(&["remove", &config], 5);
    assert_eq!(
        line,
        format!("pkg-activate: error: {config}: used by generation(s) 2; refusing to remove it")
    );
    assert_eq!(host.ok(&["remove", &unused]), format!("{unused}\n"));
    assert!(!host.root().join("packages").join(&unused).exists());

    // gc --keep 1 keeps current (3) and previous (2), removes 1, and then
    // the packages no remaining generation uses (none here: 1 only had mesos).
    let out: Value = serde_json::from_str(&host.ok(&["gc", "--keep", "1", "--json"])).unwrap();
    assert_eq!(out["generations"], json!([1]));
    assert_eq!(out["packages"], json!([]));
    host.ok(&["activate", &mesos]);
    // Now current 4, previous 3; gc removes 2 and with it `config`.
    let out: Value = serde_json::from_str(&host.ok(&["gc", "--keep", "1", "--json"])).unwrap();
    assert_eq!(out["generations"], json!([2]));
    assert_eq!(out["packages"], json!([config]));
    assert_eq!(host.ok(&["list"]), format!("{mesos}\n{justmesos}\n"));
    assert_eq!(host.status()["healthy"], json!(true));
}

#[test]
fn rollback_repairs_a_damaged_current_generation() {
    let host = Host::new(&[]);
    let a = host.add(PkgFixture::new("a", "1").file("bin/a", b"1", 0o755));
    let a2 = host.add(PkgFixture::new("a", "2").file("bin/a", b"2", 0o755));
    host.ok(&["activate", &a]);
    host.ok(&["activate", &a2]);
    std::fs::write(host.root().join("generations/2/generation.json"), "{").unwrap();
    let status = host.status();
    assert_eq!(status["healthy"], json!(false));
    assert!(
        status["problems"][0]
            .as_str()
            .unwrap()
            .contains("generations/2/generation.json"),
        "{status}"
    );
    assert_eq!(host.ok(&["rollback", "--to", "1"]), "1\n");
    let status = host.status();
    assert_eq!(status["healthy"], json!(true), "{status}");
    assert!(
        status["damaged"][0]
            .as_str()
            .unwrap()
            .contains("generations/2/generation.json"),
        "{status}"
    );
    assert_eq!(std::fs::read(host.root().join("bin/a")).unwrap(), b"1");
}

#[test]
fn units_are_copied_and_only_ours_removed() {
    let host = Host::new(&["master"]);
    let (mesos, config) = pkgpanda_pair(&host);
    let extra = host.add(
        PkgFixture::new("extra", "1")
            .file("dcos.target.wants/.hidden.service", b"[Unit]\n", 0o755)
            .file("units/real.timer", b"[Timer]\n", 0o600)
            .symlink("dcos.target.wants/extra.timer", "../units/real.timer"),
    );
    std::fs::write(host.systemd().join("foreign.service"), "mine").unwrap();
    host.ok(&["activate", &mesos, &config, &extra]);
    let systemd = host.systemd();
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&systemd.join(".hidden.service")), 0o755);
    // A unit symlink in the package is copied as a file with content and mode.
    assert_eq!(
        std::fs::read(systemd.join("extra.timer")).unwrap(),
        b"[Timer]\n"
    );
    assert_eq!(mode(&systemd.join("extra.timer")), 0o600);
    assert!(!std::fs::symlink_metadata(systemd.join("extra.timer"))
        .unwrap()
        .file_type()
        .is_symlink());

    host.ok(&["activate", &mesos, &config]);
    assert!(!systemd.join("extra.timer").exists());
    assert!(!systemd.join(".hidden.service").exists());
    assert!(!systemd.join("dcos.target.wants/extra.timer").exists());
    assert!(systemd.join("dcos-mesos-master.service").exists());
    assert_eq!(
        std::fs::read_to_string(systemd.join("foreign.service")).unwrap(),
        "mine"
    );

    // A unit copy damaged by hand is repaired by the next command.
    std::fs::write(systemd.join("dcos-mesos-master.service"), "broken").unwrap();
    let recovered: Value = serde_json::from_str(&host.ok(&["recover", "--json"])).unwrap();
    assert_eq!(
        recovered["units"]["copied"],
        json!(["dcos-mesos-master.service"])
    );
    assert_eq!(host.status()["healthy"], json!(true));
}

/// Recovery finishes a unit sync only in the dir the units were synced
/// into: `pkg-activate --root X status` run with another (or the default)
/// `--systemd-dir` writes nothing there, and still checks the real copies.
#[test]
fn recovery_syncs_units_only_into_the_recorded_systemd_dir() {
    let host = Host::new(&["master"]);
    let (mesos, config) = pkgpanda_pair(&host);
    host.ok(&["activate", &mesos, &config]);
    let unit = host.systemd().join("dcos-mesos-master.service");
    assert!(unit.exists());
    let other = host.base().join("other-systemd");
    std::fs::create_dir_all(&other).unwrap();
    let elsewhere = |args: &[&str]| {
        Command::new(BIN)
            .arg("--root")
            .arg(host.root())
            .arg("--config-dir")
            .arg(host.base().join("config"))
            .arg("--systemd-dir")
            .arg(&other)
            .arg("--no-systemd")
            .args(args)
            .output()
            .unwrap()
    };
    let out = elsewhere(&["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["healthy"], json!(true), "{status}");
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0);
    // A damaged copy is reported by such a run, and left to a run that
    // names the recorded dir.
    std::fs::remove_file(&unit).unwrap();
    let out = elsewhere(&["status", "--json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["healthy"], json!(false), "{status}");
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0);
    assert!(!unit.exists());
    host.ok(&["recover"]);
    assert!(unit.exists());
    assert_eq!(host.status()["healthy"], json!(true));
}

/// systemd cannot run in a test; a stand-in `systemctl` first in PATH
/// records the calls pkg-activate makes.
#[test]
fn systemctl_calls_stop_changed_units_then_reload_and_start() {
    let host = Host::new(&["master"]);
    let (mesos, config) = pkgpanda_pair(&host);
    let changed = host.add(
        PkgFixture::new("mesos", "0.23.0")
            .file("bin/mesos", b"23", 0o755)
            .file(
                "dcos.target.wants_master/dcos-mesos-master.service",
                b"[Service]\n#0.23\n",
                0o644,
            ),
    );
    let log = host.base().join("systemctl.log");
    let path = stub_systemctl(&host, &format!("echo \"$*\" >> {}", log.display()));
    let run = |args: &[&str]| {
        let out = host
            .command_with_systemctl(args)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().lines().count(),
            1,
            "systemctl output leaked to stdout"
        );
    };
    run(&["activate", &mesos, &config]);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "daemon-reload\nstart --no-block dcos-mesos-master.service\n"
    );
    std::fs::remove_file(&log).unwrap();
    // Nothing changes for the units: no systemctl call at all.
    run(&["activate", &mesos]);
    assert!(!log.exists());
    std::fs::write(host.systemd().join("dcos.target"), "[Unit]\n").unwrap();
    run(&["activate", &changed]);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "stop dcos-mesos-master.service\ndaemon-reload\nstart --no-block dcos.target\n"
    );
}

#[test]
fn lock_held_exits_5_and_wait_waits() {
    let host = Host::new(&[]);
    let id = host.add(PkgFixture::new("a", "1").file("bin/a", b"a", 0o755));
    let lock =
        tarmac_fs::HostLock::acquire(&host.root().join(".lock"), tarmac_fs::LockWait::NoWait)
            .unwrap();
    let line = host.fail(&["activate", &id], 5);
    assert_eq!(
        line,
        format!(
            "pkg-activate: error: {}: held by another tarmac process (pass --wait to wait for it)",
            host.root().join(".lock").display()
        )
    );
    assert!(!host.root().join("current").exists());
    // status does not block: it reports the lock and skips recovery.
    let status = host.status();
    assert_eq!(status["locked"], json!(true));
    assert_eq!(host.ok(&["active"]), "");
    let mut waiting = host
        .command(&["--wait", "activate", &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(waiting.try_wait().unwrap().is_none(), "--wait did not wait");
    drop(lock);
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "1\n");
}

/// Writes `packages/.manifests/<id>.json` as host-extract leaves it.
fn write_manifest(host: &Host, id: &str) {
    let dir = layout::host::package(&host.root(), id);
    let digest = tarmac_archive::tree_hash(&dir).unwrap();
    let manifest =
        json!({"id": id, "tree_hash": digest.hash, "files": digest.files, "bytes": digest.bytes});
    std::fs::create_dir_all(layout::host::manifests(&host.root())).unwrap();
    std::fs::write(
        layout::host::manifest(&host.root(), id),
        manifest.to_string(),
    )
    .unwrap();
}

#[test]
fn status_and_verify_report_damage() {
    let host = Host::new(&[]);
    let id = host.add(
        PkgFixture::new("app", "1")
            .file("etc/app/app.conf", b"x", 0o644)
            .file("bin/app", b"a", 0o755),
    );
    host.ok(&["activate", &id]);
    // Without host-extract's manifest there is nothing to verify against.
    let line = host.fail(&["verify"], 4);
    assert!(
        line.contains("no manifest to verify the package against"),
        "{line}"
    );
    write_manifest(&host, &id);
    host.ok(&["verify"]);
    // Under folding, etc/app is a link into the package: a write lands
    // inside the immutable package, and verify says so.
    std::fs::write(host.root().join("etc/app/new.conf"), "oops").unwrap();
    assert!(host
        .root()
        .join("packages/app--1/etc/app/new.conf")
        .exists());
    let line = host.fail(&["verify"], 4);
    assert!(
        line.contains("packages/app--1: contents differ from"),
        "{line}"
    );
    std::fs::remove_file(host.root().join("packages/app--1/etc/app/new.conf")).unwrap();
    host.ok(&["verify"]);
    // A damaged environment file and a dangling link show in status.
    std::fs::write(host.root().join("generations/1/environment"), "X=1\n").unwrap();
    std::fs::remove_file(host.root().join("packages/app--1/bin/app")).unwrap();
    let status = host.status();
    assert_eq!(status["healthy"], json!(false));
    let problems = status["problems"].to_string();
    assert!(
        problems.contains("environment: content differs from generation.json"),
        "{problems}"
    );
    assert!(problems.contains("bin/app: dangling link"), "{problems}");
}

#[test]
fn check_runs_executables_in_check_dirs() {
    let host = Host::new(&[]);
    let ok = host.add(
        PkgFixture::new("pkg1", "12345")
            .file("check/hello_world_ok.sh", b"#!/bin/sh\nexit 0\n", 0o755)
            .file("check/not_executable.sh", b"", 0o644),
    );
    let bad = host.add(PkgFixture::new("pkg2", "12345").file(
        "check/failed_check.sh",
        b"#!/bin/sh\nexit 1\n",
        0o755,
    ));
    host.ok(&["activate", &ok]);
    assert_eq!(
        host.ok(&["check", "--list"]),
        format!("{ok} hello_world_ok.sh\n")
    );
    host.ok(&["check"]);
    host.ok(&["activate", &ok, &bad]);
    let out = host.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = out.stderr.as_str();
    assert!(stderr.starts_with("pkg-activate: warning: "), "{stderr}");
    let line = stderr.lines().last().unwrap();
    assert!(
        line.starts_with("pkg-activate: error: 1 check(s) failed: ")
            && line.ends_with("failed_check.sh"),
        "{line}"
    );
}

#[test]
fn uninstall_removes_units_and_activation() {
    let host = Host::new(&["master"]);
    let (mesos, _) = pkgpanda_pair(&host);
    host.ok(&["activate", &mesos]);
    std::fs::write(host.systemd().join("dcos.target"), "[Unit]\n").unwrap();
    std::fs::write(host.systemd().join("foreign.service"), "mine").unwrap();
    // dcos_install.sh's boot-time repair unit and its enabling link.
    let recover_unit = host.systemd().join("tarmac-recover.service");
    let recover_link = host
        .systemd()
        .join("basic.target.wants/tarmac-recover.service");
    std::fs::write(&recover_unit, "[Service]\n").unwrap();
    std::fs::create_dir_all(recover_link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("../tarmac-recover.service", &recover_link).unwrap();
    // What dcos_install.sh writes outside the root, and package state.
    let config = host.base().join("config");
    std::fs::create_dir_all(config.join("setup-flags")).unwrap();
    std::fs::write(config.join("setup-flags/bootstrap-id"), "b").unwrap();
    std::fs::write(config.join("manual_host_users"), "").unwrap();
    let tools = host.base().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    std::fs::write(tools.join("host-extract"), "").unwrap();
    std::fs::create_dir_all(host.base().join("state/mesos")).unwrap();
    let tools_flag = tools.to_str().unwrap();

    let out = host.ok(&["uninstall", "--tools-dir", tools_flag]);
    let left: Vec<String> = std::fs::read_dir(host.root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into())
        .collect();
    assert_eq!(left, [".lock"]);
    assert!(!host.systemd().join("dcos-mesos-master.service").exists());
    assert!(!host.systemd().join("dcos.target").exists());
    assert!(!recover_unit.exists() && recover_link.symlink_metadata().is_err());
    assert!(host.systemd().join("foreign.service").exists());
    // Without --purge, what the install script made is kept and named.
    let lines: Vec<&str> = out.lines().collect();
    for kept in [
        config.join("roles"),
        config.join("setup-flags"),
        tools.clone(),
        host.base().join("state/mesos"),
    ] {
        assert!(kept.exists(), "{}", kept.display());
        assert!(
            lines.contains(&format!("left {}", kept.display()).as_str()),
            "{out}"
        );
    }
    assert!(
        lines.contains(&format!("removed {}", host.root().join("current").display()).as_str()),
        "{out}"
    );

    // --purge removes them (state stays: it is the services' data), and
    // says so in the JSON document too.
    let doc: Value = serde_json::from_str(&host.ok(&[
        "--json",
        "uninstall",
        "--purge",
        "--tools-dir",
        tools_flag,
    ]))
    .unwrap();
    assert_eq!(doc["format"], 1);
    let removed: Vec<&str> = doc["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for gone in [
        config.join("roles"),
        config.join("setup-flags"),
        tools.clone(),
    ] {
        assert!(!gone.exists(), "{}", gone.display());
        assert!(removed.contains(&gone.to_str().unwrap()), "{doc}");
    }
    assert!(
        config.join("manual_host_users").exists(),
        "an operator's file is kept"
    );
    assert_eq!(
        doc["left"],
        serde_json::json!([host.base().join("state/mesos")])
    );
}

/// Two small package sets and a crash at each named step: afterwards
/// `recover` + `status` show the old or the new generation, whole.
fn crash_sets(host: &Host) -> (Vec<String>, Vec<String>) {
    let a = host.add(
        PkgFixture::new("svc", "1")
            .file("bin/svc", b"1", 0o755)
            .file("lib/svc/mod.py", b"1", 0o644)
            .file("dcos.target.wants/svc.service", b"[Service]\n#1\n", 0o644)
            .env("SVC", "1"),
    );
    let b = host.add(
        PkgFixture::new("svc", "2")
            .file("bin/svc", b"2", 0o755)
            .file("lib/svc/mod.py", b"2", 0o644)
            .file("dcos.target.wants/svc2.service", b"[Service]\n#2\n", 0o644)
            .env("SVC", "2"),
    );
    let c = host.add(
        PkgFixture::new("tool", "1")
            .file("bin/tool", b"t", 0o755)
            .file("lib/svc/extra.py", b"e", 0o644),
    );
    (vec![a], vec![b, c])
}

fn assert_whole(host: &Host, allowed: &[(u64, &[String])]) -> u64 {
    let out = host.run(&["recover"]);
    assert!(out.status.success(), "recover: {}", out.stderr.as_str());
    let status = host.status();
    assert_eq!(status["healthy"], json!(true), "{status}");
    let current = status["current"].as_u64().expect("a current generation");
    let (_, ids) = allowed
        .iter()
        .find(|(n, _)| *n == current)
        .unwrap_or_else(|| panic!("unexpected generation {current}"));
    let mut expected = ids.to_vec();
    expected.sort();
    assert_eq!(status["packages"], json!(expected));
    // Environment matches generation.json's package set.
    let env = std::fs::read_to_string(host.root().join("environment")).unwrap();
    for id in ids.iter() {
        assert!(env.contains(&format!("# package: {id}\n")), "{env}");
    }
    // No debris.
    let generations: Vec<String> = std::fs::read_dir(host.root().join("generations"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into())
        .collect();
    assert!(
        generations.iter().all(|g| g.parse::<u64>().is_ok()),
        "{generations:?}"
    );
    current
}

#[test]
fn failpoints_leave_old_or_new_generation() {
    let points = [
        ("farm-half", false),
        ("before-sync", false),
        ("before-rename", false),
        ("before-commit", false),
        ("after-commit", true),
        ("units-partial", true),
        ("units-before-record", true),
        ("gc-renamed", true),
    ];
    for (point, committed) in points {
        let host = Host::new(&[]);
        let (a, b) = crash_sets(&host);
        let mut args_a = vec!["activate"];
        args_a.extend(a.iter().map(String::as_str));
        let mut args_b = vec!["activate"];
        args_b.extend(b.iter().map(String::as_str));
        // Generations 1 (a), 2 (b), 3 (a): the crashing run makes 4 (b) and
        // its prune (--keep 1) would remove 1 and 2.
        host.ok(&args_a);
        host.ok(&args_b);
        host.ok(&args_a);
        args_b.extend(["--keep", "1"]);
        let out = host
            .command(&args_b)
            .env("TARMAC_FAILPOINT", point)
            .output()
            .unwrap();
        assert!(
            !out.status.success() && out.status.code().is_none(),
            "{point}: did not crash"
        );
        let allowed: Vec<(u64, &[String])> = vec![(3, &a[..]), (4, &b[..])];
        let current = assert_whole(&host, &allowed);
        assert_eq!(current, if committed { 4 } else { 3 }, "{point}");
        let units: Vec<String> = std::fs::read_dir(host.systemd())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into())
            .collect();
        let expected_unit = if committed {
            "svc2.service"
        } else {
            "svc.service"
        };
        assert!(
            units.contains(&expected_unit.to_string()),
            "{point}: {units:?}"
        );
        // The one unit and dcos.target.wants/: nothing stale, no temporaries.
        assert_eq!(units.len(), 2, "{point}: {units:?}");
    }
}

#[test]
fn interrupted_remove_leaves_the_package_whole_or_gone() {
    let host = Host::new(&[]);
    let kept = host.add(PkgFixture::new("kept", "1").file("bin/k", b"k", 0o755));
    let doomed = host.add(
        PkgFixture::new("doomed", "1")
            .file("lib/big/a", b"a", 0o644)
            .file("lib/big/b", b"b", 0o644),
    );
    host.ok(&["activate", &kept]);
    let out = host
        .command(&["remove", &doomed])
        .env("TARMAC_FAILPOINT", "remove-renamed")
        .output()
        .unwrap();
    assert!(out.status.code().is_none(), "did not crash");
    // The rename happened: the package is gone from the repository, and the
    // half-deleted copy is removed by the next command (any command).
    assert!(host
        .root()
        .join("packages")
        .join(format!(".removing-{doomed}"))
        .exists());
    let recovered: Value = serde_json::from_str(&host.ok(&["recover", "--json"])).unwrap();
    assert!(
        recovered["removed"][0]
            .as_str()
            .unwrap()
            .ends_with(&format!("packages/.removing-{doomed}")),
        "{recovered}"
    );
    assert_eq!(host.ok(&["list"]), format!("{kept}\n"));
    let left: Vec<String> = std::fs::read_dir(host.root().join("packages"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into())
        .collect();
    assert_eq!(left, [kept]);
}

#[test]
fn crash_loop_sigkill_at_random_moments() {
    let host = Host::new(&[]);
    let (a, b) = crash_sets(&host);
    let mut args_a = vec!["activate"];
    args_a.extend(a.iter().map(String::as_str));
    let mut args_b = vec!["activate"];
    args_b.extend(b.iter().map(String::as_str));
    let started = std::time::Instant::now();
    host.ok(&args_a);
    // Kill within about twice the length of one whole run (at most 20 ms),
    // so some runs die before the commit and some after, on slow and fast
    // machines alike.
    let window = (started.elapsed().as_micros() as u64 * 2).clamp(1_000, 20_000);
    let iterations: u64 = std::env::var("TARMAC_CRASH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    // xorshift: deterministic delays, no rand dependency.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut kills = 0u64;
    // Killed runs that left the old generation / the new one.
    let mut outcomes = [0u64; 2];
    for i in 0..iterations {
        let before: Value = host.status();
        let old = before["current"].as_u64().unwrap();
        let old_ids: Vec<String> = serde_json::from_value(before["packages"].clone()).unwrap();
        let (args, new_ids): (&[&str], Vec<String>) = match i % 3 {
            0 => (&args_b, b.clone()),
            1 => (&args_a, a.clone()),
            _ => (&["rollback"][..], Vec::new()),
        };
        let mut child = host
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(next() % window));
        let killed = child.try_wait().unwrap().is_none();
        kills += u64::from(killed);
        let _ = child.kill();
        let _ = child.wait();
        let status_after = {
            let out = host.run(&["recover"]);
            assert!(out.status.success(), "recover: {}", out.stderr.as_str());
            host.status()
        };
        assert_eq!(
            status_after["healthy"],
            json!(true),
            "iteration {i}: {status_after}"
        );
        let now = status_after["current"].as_u64().unwrap();
        let now_ids: Vec<String> =
            serde_json::from_value(status_after["packages"].clone()).unwrap();
        if killed {
            outcomes[usize::from(now != old)] += 1;
        }
        if now == old {
            assert_eq!(now_ids, old_ids, "iteration {i}");
        } else if i % 3 == 2 {
            assert!(
                now < old,
                "iteration {i}: rollback went from {old} to {now}"
            );
        } else {
            let mut expected = new_ids.clone();
            expected.sort();
            assert_eq!(now_ids, expected, "iteration {i}");
        }
        let generations: Vec<String> = std::fs::read_dir(host.root().join("generations"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into())
            .collect();
        assert!(
            generations.iter().all(|g| g.parse::<u64>().is_ok()),
            "iteration {i}: {generations:?}"
        );
    }
    eprintln!(
        "crash loop: {iterations} runs, {kills} killed ({} kept the old generation, {} the new), window {window} us",
        outcomes[0], outcomes[1]
    );
    assert!(kills > 0, "no run was ever interrupted");
}

#[test]
fn docs_match_help() {
    crate::workspace::check_help_doc(BIN, "pkg-activate.md");
}

/// Progress is drawn on a terminal only (run under `script(1)` for a pty),
/// never with `--quiet`, and never into a pipe: scripts read stderr for
/// errors alone.
#[test]
fn progress_on_a_terminal_only_and_quiet_silences_it() {
    let host = Host::new(&["master"]);
    let (mesos, _) = pkgpanda_pair(&host);
    let through_pty = |extra: &[&str]| {
        let command = host.command(&[extra, &["activate", &mesos]].concat());
        let line: Vec<String> = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy()))
            .collect();
        let output = Command::new("script")
            .args(["-qec", &line.join(" "), "/dev/null"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let shown = through_pty(&[]);
    for step in ["validate", "build", "switch"] {
        assert!(
            shown.contains(step),
            "no {step:?} on the terminal: {shown:?}"
        );
    }
    let quiet = through_pty(&["--quiet"]);
    assert!(!quiet.contains("switch"), "{quiet:?}");
    let piped = host.run(&["activate", &mesos]);
    assert!(piped.status.success());
    assert!(piped.stderr.is_empty(), "{:?}", piped.stderr);
}

/// A stand-in `systemctl` (this machine boots without systemd) running the
/// shell `body`, first on the PATH this returns.
fn stub_systemctl(host: &Host, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let stub = host.base().join("stub");
    std::fs::create_dir_all(&stub).unwrap();
    std::fs::write(stub.join("systemctl"), format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(
        stub.join("systemctl"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    format!(
        "{}:{}",
        stub.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `status` adds systemd's view of the wanted units (`services`), apart
/// from the integrity verdict. This machine boots without systemd, so a
/// systemctl stand-in on PATH answers `systemctl show` the way systemd
/// does (one block of Key=value lines per unit); its answers are the
/// test's. `--no-systemd` skips asking.
#[test]
fn status_reports_what_systemd_says_of_the_wanted_units() {
    let host = Host::new(&["master"]);
    let (mesos, _) = pkgpanda_pair(&host);
    host.ok(&["activate", &mesos]);
    let state = host.base().join("unit-state");
    let path = stub_systemctl(
        &host,
        &format!(
            "[ \"$1\" = show ] || exit 0\n\
             printf 'Id=dcos-mesos-master.service\\nActiveState=%s\\nSubState=%s\\nResult=%s\\nStateChangeTimestamp=Sun 2026-12-06 12:00:00 UTC\\n' $(cat {})",
            state.display()
        ),
    );
    let stub = host.base().join("stub");
    let status = |unit_state: &str| -> Value {
        std::fs::write(&state, unit_state).unwrap();
        let out = host
            .command_with_systemctl(&["status", "--json"])
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let running = status("active running success");
    assert_eq!(running["healthy"], true);
    assert_eq!(running["services"]["verdict"], "running");
    assert_eq!(
        running["services"]["units"],
        serde_json::json!([{
            "unit": "dcos-mesos-master.service",
            "active_state": "active",
            "sub_state": "running",
            "result": "success",
            "since": "Sun 2026-12-06 12:00:00 UTC",
        }])
    );
    let failed = status("failed failed exit-code");
    assert_eq!(failed["services"]["verdict"], "failed");
    assert_eq!(failed["healthy"], true, "integrity is a separate verdict");
    assert_eq!(
        status("activating start success")["services"]["verdict"],
        "starting"
    );
    // The text form names the verdict and each unit.
    std::fs::write(&state, "failed failed exit-code").unwrap();
    let out = host
        .command_with_systemctl(&["status"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("services failed\n"), "{text}");
    assert!(
        text.contains("unit dcos-mesos-master.service failed/failed since "),
        "{text}"
    );
    // --no-systemd: not asked.
    assert_eq!(host.status()["services"]["verdict"], "skipped");
    // systemctl that cannot answer: unknown, with its reason, status still 0.
    std::fs::write(
        stub.join("systemctl"),
        "#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n",
    )
    .unwrap();
    let unknown = status("x x x");
    assert_eq!(unknown["services"]["verdict"], "unknown");
    assert!(unknown["services"]["error"]
        .as_str()
        .unwrap()
        .contains("Failed to connect to bus"));
}

/// `check` runs each check with a timeout in its own process group (all of
/// it killed on timeout), reports exit, time and the last lines of output
/// per check, and holds no lock while checks run: an activation goes
/// through while a check hangs.
#[test]
fn checks_time_out_report_their_output_and_hold_no_lock() {
    let host = Host::new(&[]);
    let marks = host.base().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    // A check that forks a helper, says where it is, then hangs.
    let hang = format!(
        "#!/bin/sh\nsleep 600 &\necho $! > {m}/helper.pid\necho started > {m}/started\necho waiting for godot\nwait\n",
        m = marks.display()
    );
    let pkg = host.add(
        PkgFixture::new("pkg1", "1")
            .file("check/a_passes.sh", b"#!/bin/sh\necho all good\n", 0o755)
            .file(
                "check/b_fails.sh",
                b"#!/bin/sh\necho one\necho two >&2\nexit 3\n",
                0o755,
            )
            .file("check/c_hangs.sh", hang.as_bytes(), 0o755),
    );
    let other = host.add(PkgFixture::new("pkg2", "1").file("bin/x", b"x", 0o755));
    host.ok(&["activate", &pkg]);

    let running = host
        .command(&["--json", "check", "--timeout", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !marks.join("started").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the hanging check never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The check hangs now; the host lock is free for an activation.
    host.ok(&["activate", &pkg, &other]);
    let out = running.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3);
    assert_eq!(checks[0]["passed"], true);
    assert_eq!(checks[0]["exit"], 0);
    assert_eq!(checks[0]["output"], serde_json::json!(["all good"]));
    assert_eq!(checks[1]["passed"], false);
    assert_eq!(checks[1]["exit"], 3);
    assert_eq!(checks[1]["output"], serde_json::json!(["one", "two"]));
    assert_eq!(checks[2]["passed"], false);
    assert_eq!(checks[2]["timed_out"], true);
    assert_eq!(checks[2]["exit"], Value::Null);
    assert!(checks[2]["seconds"].as_f64().unwrap() >= 3.0);
    assert_eq!(checks[2]["output"][0], "waiting for godot");
    // The helper the check forked died with its group.
    let helper = std::fs::read_to_string(marks.join("helper.pid")).unwrap();
    let alive = std::path::Path::new("/proc").join(helper.trim()).exists()
        && !std::fs::read_to_string(format!("/proc/{}/stat", helper.trim()))
            .unwrap_or_default()
            .contains(") Z ");
    assert!(!alive, "the forked helper {} survived", helper.trim());
    // stderr names each failed check with its last output.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("b_fails.sh failed (exit 3, "), "{stderr}");
    assert!(
        stderr.contains("c_hangs.sh failed (timed out, "),
        "{stderr}"
    );
    assert!(stderr.contains("\n  two\n"), "{stderr}");
}

/// Every pkg-activate `--json` document has the shape docs/json.md shows.
#[test]
fn json_documents_match_docs_json_md() {
    use crate::workspace::{assert_same_shape, json_doc_example};
    let host = Host::new(&["master"]);
    let (mesos, config) = pkgpanda_pair(&host);
    let spare = host.add(PkgFixture::new("spare", "1").file("bin/spare", b"s", 0o755));
    let json = |args: &[&str]| -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&host.ok(&all)).unwrap()
    };
    let check = |title: &str, real: Value| {
        assert_same_shape(title, &json_doc_example(title), &real);
    };
    check(
        "pkg-activate activate / swap / rollback",
        json(&["activate", &mesos, &config]),
    );
    check("pkg-activate list / active", json(&["list"]));
    check("pkg-activate list / active", json(&["active"]));
    check("pkg-activate status / verify", json(&["status"]));
    check("pkg-activate check", json(&["check", "--list"]));
    check("pkg-activate recover", json(&["recover"]));
    check("pkg-activate remove", json(&["remove", &spare]));
    json(&["activate", &mesos]);
    check("pkg-activate gc", json(&["gc", "--keep", "1"]));
    check(
        "pkg-activate uninstall",
        json(&["uninstall", "--tools-dir", "/nonexistent"]),
    );
}
