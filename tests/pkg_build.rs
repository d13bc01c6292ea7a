//! pkg-build: the real binary on the DC/OS corpus (planning only) and on the
//! repository's example tree (real builds in temp repos).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use tarmac_testkit::cmd::{run, Run, Runs};

use serde_json::Value;
use tarmac_model::layout::repository;

use tarmac_testkit::tree::copy_tree;

fn pkg_build() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pkg-build"))
}

/// The DC/OS corpus kept in the repository (`tests/corpus/`, origin and
/// licence in its README). Missing corpus fails the test rather than
/// passing vacuously.
fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/dcos-packages");
    assert!(dir.is_dir(), "corpus not found at {}", dir.display());
    dir
}

fn plan_json(packages: &Path) -> Vec<Value> {
    let output = run(pkg_build()
        .args(["--plan", "--json", "--tree", "--packages"])
        .arg(packages));
    output.success();
    let doc: Value = output.stdout_json();
    crate::workspace::assert_documented("pkg-build --plan", &doc);
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
    plain.success();
    let ids: Vec<&str> = planned.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(plain.stdout.as_str(), ids.join("\n") + "\n");

    // The same tree elsewhere (the git_local source of dcos-image is
    // `../../`, so the corpus is copied whole) plans the same ids.
    let temp = tempfile::tempdir().unwrap();
    let copy = temp.path().join("corpus");
    copy_tree(corpus.parent().unwrap(), &copy);
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
    output.code(3);
    assert!(
        output.stderr.starts_with("pkg-build: error: "),
        "{}",
        output.stderr
    );
    output.stderr_contains("no-such-package");
}

/// The repository's example tree, copied to `dir/packages`.
fn example_tree(dir: &Path) -> PathBuf {
    let packages = dir.join("packages");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("packages"),
        &packages,
    );
    packages
}

fn build_in(dir: &Path, packages: &Path, args: &[&str]) -> Run {
    run(pkg_build()
        .current_dir(dir)
        .arg("--packages")
        .arg(packages)
        .args(["--repo", "repo", "--cache", "cache"])
        .args(args))
}

/// A package's archive and manifest, relative to a repository.
fn repository_files(id: &str) -> [String; 2] {
    let id = tarmac_model::PackageId::parse(id).unwrap();
    [
        repository::archive_relative(&id),
        repository::manifest_relative(&id),
    ]
}

/// Unpacks a package archive with the strict extractor, checked against its
/// manifest, and returns the directory.
fn unpack(repo: &Path, id: &str, into: &Path) -> PathBuf {
    let pid = tarmac_model::PackageId::parse(id).unwrap();
    let manifest = tarmac_model::PackageManifest::parse(
        "manifest",
        &std::fs::read(repository::manifest(repo, &pid)).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest.id.to_string(), id);
    let archive = std::fs::File::open(repository::archive(repo, &pid)).unwrap();
    std::fs::create_dir_all(into).unwrap();
    let target = into.join(id);
    let options = tarmac_archive::ExtractOptions {
        expect: tarmac_archive::Expect::Package(manifest),
        ..Default::default()
    };
    tarmac_archive::extract(archive, &target, &options).unwrap();
    target
}

#[test]
fn builds_the_example_tree_reproducibly_and_caches_it() {
    let temp = tempfile::tempdir().unwrap();
    let packages = example_tree(temp.path());
    let output = build_in(temp.path(), &packages, &["--tree", "-j", "2"]);
    output.success();
    let ids = output.lines();
    let names: Vec<&str> = ids.iter().map(|i| i.split("--").next().unwrap()).collect();
    assert_eq!(names, ["libgreet", "greeter", "hello-git", "motd"]);

    let repo = temp.path().join("repo");
    let out = temp.path().join("unpacked");
    let greeter = unpack(&repo, &ids[1], &out);
    let pkginfo: Value =
        serde_json::from_slice(&std::fs::read(greeter.join("pkginfo.json")).unwrap()).unwrap();
    assert_eq!(pkginfo["requires"], serde_json::json!(["libgreet"]));
    assert_eq!(pkginfo["username"], "dcos_greeter");
    assert_eq!(pkginfo["state_directory"], true);
    assert_eq!(pkginfo["environment"]["GREETER_PORT"], "8123");
    assert_eq!(
        pkginfo["sysctl"]["dcos-greeter"]["net.core.somaxconn"],
        1024
    );
    // Built against the activated dependency: its header was readable.
    let greet = std::fs::read_to_string(greeter.join("bin/greet")).unwrap();
    assert!(greet.contains("built against libgreet 1.0"), "{greet}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(greeter.join("bin/greet"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);
    assert!(greeter.join("bin_master/greeter-admin").is_file());
    // The script linked to "$PKG_PATH/bin/greet": archived relative.
    assert_eq!(
        std::fs::read_link(greeter.join("bin/greet-cluster")).unwrap(),
        Path::new("greet")
    );
    assert!(greeter
        .join("dcos.target.wants_master/dcos-greeter.service")
        .is_file());
    let full: Value =
        serde_json::from_slice(&std::fs::read(greeter.join("buildinfo.full.json")).unwrap())
            .unwrap();
    assert_eq!(full["build_ids"]["requires"], serde_json::json!([ids[0]]));
    assert_eq!(
        format!("greeter--{}", full["package_version"].as_str().unwrap()),
        ids[1]
    );

    let libgreet = unpack(&repo, &ids[0], &out);
    assert!(libgreet.join("lib/libgreet.sh").is_file());
    assert!(libgreet.join("include/greet.h").is_file());
    // treeinfo.json picks the custom variant of motd (url_extract, file://).
    let motd = unpack(&repo, &ids[3], &out);
    let text = std::fs::read_to_string(motd.join("etc/motd")).unwrap();
    assert!(text.starts_with("Custom welcome"), "{text}");
    let motd_info: Value =
        serde_json::from_slice(&std::fs::read(motd.join("pkginfo.json")).unwrap()).unwrap();
    assert_eq!(motd_info["variant"], "custom");
    let hello = unpack(&repo, &ids[2], &out);
    assert!(hello.join("bin/hello").is_file());

    // Nothing changed: everything is cached, same ids.
    let again = build_in(temp.path(), &packages, &["--tree", "--json"]);
    again.success();
    let doc: Value = again.stdout_json();
    crate::workspace::assert_documented("pkg-build", &doc);
    let statuses: Vec<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["cached"; 4]);

    // The same tree elsewhere, with other mtimes, built unsandboxed (the
    // fallback: the example scripts use $PKG_SRC etc.), gives the same bytes.
    let other = tempfile::tempdir().unwrap();
    let packages2 = example_tree(other.path());
    let script = packages2.join("greeter/build");
    let file = std::fs::File::options().append(true).open(&script).unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30))
        .unwrap();
    drop(file);
    let second = build_in(
        other.path(),
        &packages2,
        &["--tree", "-j", "1", "--sandbox", "none"],
    );
    second.success();
    assert_eq!(second.lines(), ids);
    for id in &ids {
        for rel in repository_files(id) {
            assert_eq!(
                std::fs::read(repo.join(&rel)).unwrap(),
                std::fs::read(other.path().join("repo").join(&rel)).unwrap(),
                "{rel} differs between two builds"
            );
        }
    }
}

fn plan_ids(packages: &Path, args: &[&str]) -> Vec<String> {
    let output = run(pkg_build()
        .arg("--plan")
        .arg("--packages")
        .arg(packages)
        .args(args));
    output.success();
    output.lines()
}

#[test]
fn a_comment_in_a_build_script_changes_the_id_and_its_dependents() {
    let temp = tempfile::tempdir().unwrap();
    let packages = example_tree(temp.path());
    let before = plan_ids(&packages, &["--tree"]);
    let script = packages.join("libgreet/build");
    let mut text = std::fs::read_to_string(&script).unwrap();
    text.push_str("# a comment\n");
    std::fs::write(&script, text).unwrap();
    let after = plan_ids(&packages, &["--tree"]);
    // libgreet and greeter (which requires it) change; the others do not.
    let changed: Vec<bool> = before.iter().zip(&after).map(|(a, b)| a != b).collect();
    assert_eq!(changed, [true, true, false, false], "{before:?} {after:?}");

    // extra/ content counts too; its location does not.
    std::fs::write(packages.join("greeter/extra/greeter.conf"), "port = 8124\n").unwrap();
    let third = plan_ids(&packages, &["--tree"]);
    assert_eq!((third[0] == after[0], third[1] == after[1]), (true, false));

    // A named package plans only its closure; a variant by NAME:VARIANT.
    assert_eq!(plan_ids(&packages, &["greeter"]), third[..2]);
    let default_motd = plan_ids(&packages, &["motd"]);
    let custom_motd = plan_ids(&packages, &["motd:custom"]);
    assert_eq!(custom_motd, [third[3].clone()]);
    assert_ne!(default_motd, custom_motd);
}

#[test]
fn a_corrupt_source_is_kept_aside_and_fails_with_exit_4() {
    let temp = tempfile::tempdir().unwrap();
    let packages = example_tree(temp.path());
    // Same declared checksum, different bytes behind the file:// URL.
    let tarball = packages.join("motd/motd-1.0.tar.gz");
    let mut bytes = std::fs::read(&tarball).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&tarball, &bytes).unwrap();
    let output = build_in(temp.path(), &packages, &["motd", "--quiet"]);
    output.code(4);
    let message = output.stderr.as_str();
    assert!(
        message.starts_with("pkg-build: error: file://motd-1.0.tar.gz: sha1 mismatch"),
        "{message}"
    );
    let sha1 = "8e6732e7082d0e2af70062e1140f448c88e33746";
    let corrupt = temp
        .path()
        .join(format!("cache/sources/{sha1}/motd-1.0.tar.gz.corrupt"));
    assert_eq!(
        std::fs::read(&corrupt).unwrap(),
        bytes,
        "corrupt download kept"
    );
    assert!(!temp
        .path()
        .join(format!("cache/sources/{sha1}/motd-1.0.tar.gz"))
        .exists());
    assert!(
        !temp.path().join("repo/packages/motd").exists(),
        "nothing published"
    );
}

/// A package `name` whose build script is `script`, added to `packages`.
fn add_package(packages: &Path, name: &str, buildinfo: &str, script: &str) {
    let dir = packages.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("buildinfo.json"), buildinfo).unwrap();
    std::fs::write(dir.join("build"), script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("build"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn reserved_unit_names_and_failing_scripts_publish_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let packages = temp.path().join("packages");
    add_package(
        &packages,
        "sneaky",
        "{}",
        "#!/bin/sh\nmkdir -p $PKG_PATH/dcos.target.wants_slave\ntouch $PKG_PATH/dcos.target.wants_slave/dcos-setup.service\n",
    );
    let output = build_in(temp.path(), &packages, &["sneaky"]);
    output.code(3);
    output.stderr_contains("dcos.target.wants_slave/dcos-setup.service: reserved unit name");
    assert!(!temp.path().join("repo/packages/sneaky").exists());

    add_package(
        &packages,
        "broken",
        "{}",
        "#!/bin/sh\necho compiling\necho 'cc: error: oops' >&2\nexit 7\n",
    );
    let output = build_in(temp.path(), &packages, &["broken"]);
    output.code(1);
    let message = output.stderr.as_str();
    assert!(message.contains("build script"), "{message}");
    assert!(
        message.contains("cc: error: oops"),
        "log tail shown: {message}"
    );
    assert!(!temp.path().join("repo/packages/broken").exists());
}

#[test]
fn the_sandbox_exposes_sources_extra_and_dependencies_and_nothing_writable_else() {
    let temp = tempfile::tempdir().unwrap();
    let packages = example_tree(temp.path());
    add_package(
        &packages,
        "probe",
        r#"{"requires": ["libgreet"], "single_source": {"kind": "git_local", "rel_path": "src"}}"#,
        r#"#!/bin/sh
set -u
mkdir -p "$PKG_PATH/etc"
report="$PKG_PATH/etc/report"
check() { if eval "$2" 2>/dev/null; then echo "$1 yes"; else echo "$1 no"; fi >> "$report"; }
check src-visible '[ -f /pkg/src/probe/input.txt ]'
check extra-visible '[ -f /pkg/extra/note ]'
check dep-activated '[ -f /opt/mesosphere/lib/libgreet.sh ]'
check path-is-output '[ "$PKG_PATH" = "/opt/mesosphere/packages/$PKG_ID" ]'
check write-usr 'touch /usr/tarmac-probe'
check write-root 'touch /tarmac-probe'
check write-extra 'touch /pkg/extra/x'
check write-deps 'touch /opt/mesosphere/lib/x'
check write-tmp 'touch /tmp/x'
check write-src 'touch /pkg/src/probe/x'
check network-only-lo '[ "$(grep -c : /proc/net/dev)" = 1 ]'
"#,
    );
    std::fs::create_dir_all(packages.join("probe/src")).unwrap();
    std::fs::write(packages.join("probe/src/input.txt"), "in").unwrap();
    std::fs::create_dir_all(packages.join("probe/extra")).unwrap();
    std::fs::write(packages.join("probe/extra/note"), "n").unwrap();
    let output = build_in(temp.path(), &packages, &["probe", "--sandbox", "namespace"]);
    output.success();
    let ids = output.lines();
    let probe = unpack(&temp.path().join("repo"), &ids[1], &temp.path().join("out"));
    let report = std::fs::read_to_string(probe.join("etc/report")).unwrap();
    assert_eq!(
        report,
        "src-visible yes\nextra-visible yes\ndep-activated yes\npath-is-output yes\n\
         write-usr no\nwrite-root no\nwrite-extra no\nwrite-deps no\nwrite-tmp yes\nwrite-src yes\n\
         network-only-lo yes\n"
    );
    assert!(!Path::new("/usr/tarmac-probe").exists());
    assert!(!Path::new("/tarmac-probe").exists());
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .run();
    assert!(status.status.success(), "git {args:?}: {}", status.stderr);
}

#[test]
fn git_local_sources_pin_the_head_commit_and_refuse_local_changes() {
    let temp = tempfile::tempdir().unwrap();
    let packages = example_tree(temp.path());
    let source = packages.join("hello-git/source");
    let content_pinned = plan_ids(&packages, &["hello-git"]);
    git(&source, &["init", "-q"]);
    git(&source, &["add", "-A"]);
    git(&source, &["commit", "-q", "-m", "one"]);
    let first = plan_ids(&packages, &["hello-git"]);
    assert_ne!(
        first, content_pinned,
        "a git work tree is pinned by commit, not content"
    );

    std::fs::write(source.join("hello.sh"), "#!/bin/sh\necho changed\n").unwrap();
    let dirty = run(pkg_build()
        .args(["--plan", "hello-git", "--packages"])
        .arg(&packages));
    dirty.code(3);
    dirty.stderr_contains("uncommitted changes");

    git(&source, &["commit", "-q", "-am", "two"]);
    let second = plan_ids(&packages, &["hello-git"]);
    assert_ne!(second, first);
    let output = build_in(temp.path(), &packages, &["hello-git"]);
    output.success();
    let hello = unpack(
        &temp.path().join("repo"),
        &second[0],
        &temp.path().join("out"),
    );
    assert_eq!(
        std::fs::read_to_string(hello.join("bin/hello")).unwrap(),
        "#!/bin/sh\necho changed\n"
    );
}

#[test]
fn docs_pkg_build_reference_matches_help() {
    crate::workspace::check_help_doc(env!("CARGO_BIN_EXE_pkg-build"), "pkg-build.md");
}

/// The example motd package's source tarball, served by the HTTP tests.
fn motd_tarball() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("packages/motd/motd-1.0.tar.gz"))
        .unwrap()
}

#[test]
fn http_sources_are_verified_cached_by_checksum_and_failures_classified() {
    use tarmac_testkit::fault_server::{Fault, FaultServer};
    let temp = tempfile::tempdir().unwrap();
    let packages = temp.path().join("packages");
    let tarball = motd_tarball();
    // `/down/` answers 503 to more requests than pkg-build retries.
    let server = FaultServer::builder()
        .file("/motd-1.0.tar.gz", tarball.clone())
        .script("/motd-1.0.tar.gz", &[Fault::Corrupt(100)])
        .file("/down/motd-1.0.tar.gz", tarball)
        .script("/down/motd-1.0.tar.gz", &[Fault::Status(503); 10])
        .start();
    let sha1 = "8e6732e7082d0e2af70062e1140f448c88e33746";
    for (name, file, path) in [
        ("fetched", "motd.txt", ""),
        ("fetched-too", "motd-custom.txt", ""),
        ("unavailable", "motd.txt", "/down"),
    ] {
        let buildinfo = format!(
            r#"{{"single_source": {{"kind": "url_extract", "url": "{}{path}/motd-1.0.tar.gz", "sha1": "{sha1}"}}}}"#,
            server.url()
        );
        let script = format!("#!/bin/sh\nset -e\nmkdir -p $PKG_PATH/etc\ncp $PKG_SRC/{name}/{file} $PKG_PATH/etc/motd\n");
        add_package(&packages, name, &buildinfo, &script);
    }
    let unavailable = build_in(temp.path(), &packages, &["unavailable", "-q"]);
    unavailable.code(75);
    unavailable.stderr_contains("503");

    let corrupt = build_in(temp.path(), &packages, &["fetched", "-q"]);
    corrupt.code(4);
    let kept = temp
        .path()
        .join(format!("cache/sources/{sha1}/motd-1.0.tar.gz.corrupt"));
    assert!(kept.is_file(), "corrupt download kept aside");

    let good = build_in(temp.path(), &packages, &["fetched"]);
    good.success();
    // A second package with the same checksum uses the cached download.
    let cached = build_in(temp.path(), &packages, &["fetched-too"]);
    cached.success();
    let served: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/motd-1.0.tar.gz")
        .collect();
    assert_eq!(served.len(), 2, "{served:?}");
    let out = temp.path().join("out");
    let ids: Vec<String> = good.lines().into_iter().chain(cached.lines()).collect();
    let fetched = unpack(&temp.path().join("repo"), &ids[0], &out);
    assert!(std::fs::read_to_string(fetched.join("etc/motd"))
        .unwrap()
        .starts_with("Welcome"));
    let too = unpack(&temp.path().join("repo"), &ids[1], &out);
    assert!(std::fs::read_to_string(too.join("etc/motd"))
        .unwrap()
        .starts_with("Custom"));
}

#[test]
fn http_source_answering_503_once_is_retried() {
    use tarmac_testkit::fault_server::{Fault, FaultServer};
    let temp = tempfile::tempdir().unwrap();
    let packages = temp.path().join("packages");
    let tarball = motd_tarball();
    let server = FaultServer::builder()
        .file("/motd-1.0.tar.gz", tarball)
        .script("/motd-1.0.tar.gz", &[Fault::Status(503)])
        .start();
    let buildinfo = format!(
        r#"{{"single_source": {{"kind": "url_extract", "url": "{}/motd-1.0.tar.gz", "sha1": "8e6732e7082d0e2af70062e1140f448c88e33746"}}}}"#,
        server.url()
    );
    let script = "#!/bin/sh\nset -e\nmkdir -p $PKG_PATH/etc\ncp $PKG_SRC/retried/motd.txt $PKG_PATH/etc/motd\n";
    add_package(&packages, "retried", &buildinfo, script);
    let built = build_in(temp.path(), &packages, &["retried"]);
    built.success();
    let faults: Vec<Fault> = server.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(faults, [Fault::Status(503), Fault::Serve], "one retry");
    let out = temp.path().join("out");
    let ids = built.lines();
    let retried = unpack(&temp.path().join("repo"), &ids[0], &out);
    assert!(std::fs::read_to_string(retried.join("etc/motd"))
        .unwrap()
        .starts_with("Welcome"));
}

#[test]
fn cache_url_fetches_verified_prebuilt_packages_and_builds_bad_ones() {
    use tarmac_testkit::fault_server::{Fault, FaultServer};
    let first = tempfile::tempdir().unwrap();
    let packages = example_tree(first.path());
    let built = build_in(first.path(), &packages, &["--tree", "-q"]);
    built.success();
    let ids = built.lines();
    let mut server = FaultServer::builder();
    for id in &ids {
        for rel in repository_files(id) {
            server = server.file(
                &format!("/{rel}"),
                std::fs::read(first.path().join("repo").join(&rel)).unwrap(),
            );
        }
    }
    // The copy of libgreet is damaged in transit: refused, built instead.
    let server = server
        .script(
            &format!("/packages/libgreet/{}.tar.zst", ids[0]),
            &[Fault::Corrupt(40)],
        )
        .start();

    let second = tempfile::tempdir().unwrap();
    let packages2 = example_tree(second.path());
    let output = build_in(
        second.path(),
        &packages2,
        &["--tree", "--json", "--cache-url", &server.url()],
    );
    output.success();
    let doc: Value = output.stdout_json();
    let statuses: Vec<(&str, &str)> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("libgreet", "built"),
            ("greeter", "fetched"),
            ("hello-git", "fetched"),
            ("motd", "fetched")
        ]
    );
    for id in &ids {
        let rel = repository::archive_relative(&tarmac_model::PackageId::parse(id).unwrap());
        assert_eq!(
            std::fs::read(first.path().join("repo").join(&rel)).unwrap(),
            std::fs::read(second.path().join("repo").join(&rel)).unwrap()
        );
    }
}

#[test]
fn tree_variants_honor_core_list_exclude_variants_and_bootstrap_list() {
    let temp = tempfile::tempdir().unwrap();
    let packages = example_tree(temp.path());
    std::fs::write(
        packages.join("ee.treeinfo.json"),
        r#"{"core_package_list": ["greeter", "motd"], "exclude": ["hello-git"],
            "bootstrap_package_list": ["libgreet"]}"#,
    )
    .unwrap();
    let ee = plan_ids(&packages, &["--tree", "ee"]);
    let names: Vec<&str> = ee.iter().map(|i| i.split("--").next().unwrap()).collect();
    assert_eq!(names, ["libgreet", "greeter", "motd"]);
    // ee names no variant for motd: the default one, unlike treeinfo.json.
    assert_eq!(ee[2], plan_ids(&packages, &["motd"])[0]);
    // Without a variant, every tree variant: the union.
    let all = plan_ids(&packages, &["--tree"]);
    assert_eq!(all.len(), 5, "{all:?}");

    // pkg-bundle --tree ee: only the bootstrap list's closure.
    let built = build_in(temp.path(), &packages, &["--tree", "ee", "-q"]);
    built.success();
    let bundle = run(Command::new(env!("CARGO_BIN_EXE_pkg-bundle"))
        .current_dir(temp.path())
        .args([
            "-q",
            "--json",
            "--repo",
            "repo",
            "--tree",
            "ee",
            "--packages",
        ])
        .arg(&packages));
    bundle.success();
    let doc: Value = bundle.stdout_json();
    assert_eq!(doc["packages"], serde_json::json!([ee[0]]));

    // A required package that the tree excludes is refused.
    std::fs::write(
        packages.join("bad.treeinfo.json"),
        r#"{"core_package_list": ["greeter"], "exclude": ["libgreet"]}"#,
    )
    .unwrap();
    let output = run(pkg_build()
        .args(["--plan", "--tree", "bad", "--packages"])
        .arg(&packages));
    output.code(3);
    output.stderr_contains("libgreet is needed (listed or required) but excluded");
}

#[test]
fn git_sources_are_fetched_into_a_mirror_and_checked_out_at_the_ref() {
    let temp = tempfile::tempdir().unwrap();
    let upstream = temp.path().join("upstream");
    std::fs::create_dir_all(&upstream).unwrap();
    git(&upstream, &["init", "-q", "-b", "main"]);
    std::fs::write(upstream.join("VERSION"), "1\n").unwrap();
    git(&upstream, &["add", "-A"]);
    git(&upstream, &["commit", "-q", "-m", "one"]);
    let head = |dir: &Path| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["rev-parse", "HEAD"])
            .run();
        out.stdout.trim().to_string()
    };
    let first = head(&upstream);
    std::fs::write(upstream.join("VERSION"), "2\n").unwrap();
    git(&upstream, &["commit", "-q", "-am", "two"]);

    let packages = temp.path().join("packages");
    let buildinfo = format!(
        r#"{{"single_source": {{"kind": "git", "git": "file://{}", "ref": "{first}", "ref_origin": "main"}}}}"#,
        upstream.display()
    );
    add_package(
        &packages,
        "pinned",
        &buildinfo,
        "#!/bin/sh\nset -e\nmkdir -p $PKG_PATH/etc\ncp $PKG_SRC/pinned/VERSION $PKG_PATH/etc/version\n",
    );
    let output = build_in(temp.path(), &packages, &["pinned"]);
    output.success();
    // ref_origin moved on: a warning, and the pinned ref is what is built.
    output.stderr_contains("is not ref_origin main");
    let ids = output.lines();
    let out = unpack(&temp.path().join("repo"), &ids[0], &temp.path().join("out"));
    assert_eq!(
        std::fs::read_to_string(out.join("etc/version")).unwrap(),
        "1\n"
    );
    let mirrors: Vec<_> = std::fs::read_dir(temp.path().join("cache/git"))
        .unwrap()
        .collect();
    assert_eq!(mirrors.len(), 1, "one bare mirror in the cache");
}

/// `greeting-2.0/greeting.txt` ("hi from a zip\n") zipped (`zip -X`), 264 bytes.
const GREETING_ZIP: &str = "504b03040a0000000000000022000000000000000000000000000d0000006772656574696e672d322e302f504b03040a0000000000000022008ffb3b3c0e0000000e000000190000006772656574696e672d322e302f6772656574696e672e74787468692066726f6d2061207a69700a504b01021e030a0000000000000022000000000000000000000000000d0000000000000000001000ed41000000006772656574696e672d322e302f504b01021e030a0000000000000022008ffb3b3c0e0000000e000000190000000000000001000000a4812b0000006772656574696e672d322e302f6772656574696e672e747874504b0506000000000200020082000000700000000000";

#[test]
fn zip_sources_are_extracted_with_their_top_directory_stripped() {
    let temp = tempfile::tempdir().unwrap();
    let packages = temp.path().join("packages");
    add_package(
        &packages,
        "zipped",
        r#"{"single_source": {"kind": "url_extract", "url": "file://greeting-2.0.zip",
            "sha1": "21a161314c275f0911ceca2567a9e25db1af470a"}}"#,
        "#!/bin/sh\nset -e\nmkdir -p $PKG_PATH/etc\ncp $PKG_SRC/zipped/greeting.txt $PKG_PATH/etc/greeting\n",
    );
    let bytes: Vec<u8> = (0..GREETING_ZIP.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&GREETING_ZIP[i..i + 2], 16).unwrap())
        .collect();
    std::fs::write(packages.join("zipped/greeting-2.0.zip"), bytes).unwrap();
    let output = build_in(temp.path(), &packages, &["zipped"]);
    output.success();
    let out = unpack(
        &temp.path().join("repo"),
        &output.lines()[0],
        &temp.path().join("out"),
    );
    assert_eq!(
        std::fs::read_to_string(out.join("etc/greeting")).unwrap(),
        "hi from a zip\n"
    );
}
