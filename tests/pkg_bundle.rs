//! pkg-bundle: the real binary over a repository built by the real pkg-build
//! from the example tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use tarmac_testkit::cmd::{Run, Runs};

use serde_json::Value;
use tarmac_model::layout::{repository, serve};

use tarmac_testkit::tree::copy_tree;

/// Builds the example tree (and `extra` packages by NAME[:VARIANT]) into
/// `dir/repo`; returns the tree's ids and the package dir.
fn built_repo(dir: &Path, extra: &[&str]) -> (Vec<String>, PathBuf) {
    let packages = dir.join("packages");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("packages"),
        &packages,
    );
    let mut ids = Vec::new();
    for args in [vec!["--tree"], extra.to_vec()] {
        if args.is_empty() {
            continue;
        }
        let output = Command::new(env!("CARGO_BIN_EXE_pkg-build"))
            .current_dir(dir)
            .arg("--packages")
            .arg(&packages)
            .args(["--repo", "repo", "--cache", "cache", "-q"])
            .args(&args)
            .run();
        output.success();
        ids.extend(output.stdout.lines().map(str::to_string));
    }
    (ids, packages)
}

fn pkg_bundle(dir: &Path, args: &[&str]) -> Run {
    Command::new(env!("CARGO_BIN_EXE_pkg-bundle"))
        .current_dir(dir)
        .arg("-q")
        .args(args)
        .run()
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn bundling_the_same_ids_twice_gives_identical_bytes() {
    let temp = tempfile::tempdir().unwrap();
    let (ids, _) = built_repo(temp.path(), &[]);
    let mut args: Vec<&str> = vec!["--repo", "repo", "--out", "dist1"];
    args.extend(ids.iter().map(String::as_str));
    let first = pkg_bundle(temp.path(), &args);
    first.success();
    let lines: Vec<String> = first.stdout.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "bootstrap id and blake3");
    let bootstrap_id = &lines[0];
    let parsed: Vec<tarmac_model::PackageId> = ids
        .iter()
        .map(|i| tarmac_model::PackageId::parse(i).unwrap())
        .collect();
    assert_eq!(bootstrap_id, &tarmac_model::bootstrap_id(&parsed));
    let bundle = serve::bundle(&temp.path().join("dist1"), bootstrap_id);
    let bytes = std::fs::read(&bundle).unwrap();
    assert_eq!(lines[1], blake3::hash(&bytes).to_hex().to_string());

    // The bundle passes the strict extractor: bundle.json first, every
    // package matching its declared tree hash.
    let extracted = tarmac_archive::extract(
        std::fs::File::open(&bundle).unwrap(),
        &temp.path().join("x"),
        &tarmac_archive::ExtractOptions {
            expect: tarmac_archive::Expect::Bundle,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(extracted.bundle.unwrap().bootstrap_id, *bootstrap_id);
    assert_eq!(extracted.packages.len(), 4);

    // active.json and the per-package layout.
    let active: Value = serde_json::from_slice(
        &std::fs::read(serve::active(&temp.path().join("dist1"), bootstrap_id)).unwrap(),
    )
    .unwrap();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(active, serde_json::json!(sorted));
    for id in &ids {
        let pid = tarmac_model::PackageId::parse(id).unwrap();
        for rel in [
            repository::archive_relative(&pid),
            repository::manifest_relative(&pid),
        ] {
            assert_eq!(
                std::fs::read(temp.path().join("dist1").join(&rel)).unwrap(),
                std::fs::read(temp.path().join("repo").join(&rel)).unwrap()
            );
        }
    }

    // Elsewhere: a copied repo with other mtimes, ids in another order from
    // a file, another thread count.
    let other = tempfile::tempdir().unwrap();
    copy_tree(&temp.path().join("repo"), &other.path().join("elsewhere"));
    for path in files_under(&other.path().join("elsewhere")) {
        let file = std::fs::File::options().append(true).open(&path).unwrap();
        file.set_modified(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(12345),
        )
        .unwrap();
    }
    let mut reversed = ids.clone();
    reversed.reverse();
    std::fs::write(other.path().join("ids"), reversed.join("\n") + "\n").unwrap();
    let second = pkg_bundle(
        other.path(),
        &[
            "--repo",
            "elsewhere",
            "--out",
            "dist2",
            "--ids-from",
            "ids",
            "--threads",
            "1",
            "--json",
        ],
    );
    second.success();
    let doc: Value = second.stdout_json();
    crate::workspace::assert_documented("pkg-bundle", &doc);
    assert_eq!(doc["bootstrap_id"], bootstrap_id.as_str());
    assert_eq!(doc["blake3"], lines[1].as_str());
    for name in [
        format!("{bootstrap_id}.bootstrap.tar.zst"),
        format!("{bootstrap_id}.active.json"),
    ] {
        assert_eq!(
            std::fs::read(temp.path().join("dist1/bootstrap").join(&name)).unwrap(),
            std::fs::read(other.path().join("dist2/bootstrap").join(&name)).unwrap(),
            "{name} differs"
        );
    }

    // --tree bundles the tree's bootstrap set: here every package.
    let tree = pkg_bundle(temp.path(), &["--repo", "repo", "--out", "dist3", "--tree"]);
    tree.success();
    assert_eq!(tree.stdout.as_str(), first.stdout.as_str());
}

#[test]
fn an_open_closure_or_a_repeated_name_writes_nothing() {
    let temp = tempfile::tempdir().unwrap();
    // The default motd variant too: two packages named motd.
    let (ids, _) = built_repo(temp.path(), &["motd"]);
    let [libgreet, greeter, _hello, motd_custom, motd_default] = &ids[..] else {
        panic!("{ids:?}")
    };
    let missing = pkg_bundle(temp.path(), &["--repo", "repo", "--out", "out", greeter]);
    missing.code(3);
    assert_eq!(
        missing.stderr.lines().next().unwrap(),
        format!(
            "pkg-bundle: error: bundle: {greeter} requires libgreet, which is not in the bundle"
        )
    );
    let twice = pkg_bundle(
        temp.path(),
        &[
            "--repo",
            "repo",
            "--out",
            "out",
            libgreet,
            motd_custom,
            motd_default,
        ],
    );
    twice.code(5);
    twice.stderr_contains("package motd given twice");
    let absent = pkg_bundle(
        temp.path(),
        &["--repo", "repo", "--out", "out", "nothere--1"],
    );
    absent.code(3);
    absent.stderr_contains("nothere--1 is not in the repository");
    let none = pkg_bundle(temp.path(), &["--repo", "repo", "--out", "out"]);
    none.code(2);

    // A repository archive that does not match its manifest: exit 4.
    let manifest = temp
        .path()
        .join(format!("repo/packages/libgreet/{libgreet}.json"));
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    doc["tree_hash"] = Value::from("0".repeat(64));
    std::fs::write(&manifest, doc.to_string()).unwrap();
    let corrupt = pkg_bundle(
        temp.path(),
        &["--repo", "repo", "--out", "out", libgreet, greeter],
    );
    corrupt.code(4);
    assert_eq!(
        files_under(&temp.path().join("out")),
        Vec::<String>::new(),
        "nothing written"
    );
}

#[test]
fn docs_pkg_bundle_reference_matches_help() {
    crate::workspace::check_help_doc(env!("CARGO_BIN_EXE_pkg-bundle"), "pkg-bundle.md");
}

/// Pinned hashes of the example `libgreet` package and its one-package
/// bundle: a change here is a change of the version inputs, the package
/// archive format or the bundle format (docs/pkg-build.md, docs/pkg-bundle.md)
/// and must be deliberate.
#[test]
fn example_package_and_bundle_hashes_are_pinned() {
    let temp = tempfile::tempdir().unwrap();
    let packages = temp.path().join("packages");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("packages/libgreet"),
        &packages.join("libgreet"),
    );
    let output = Command::new(env!("CARGO_BIN_EXE_pkg-build"))
        .current_dir(temp.path())
        .args([
            "-q",
            "--repo",
            "repo",
            "--cache",
            "cache",
            "--tree",
            "--packages",
            "packages",
        ])
        .run();
    output.success();
    let id = "libgreet--d33b334154e17901b23b9a9f31dda8803a0cfe24";
    assert_eq!(output.stdout.as_str(), format!("{id}\n"));
    let archive = std::fs::read(
        temp.path()
            .join(format!("repo/packages/libgreet/{id}.tar.zst")),
    )
    .unwrap();
    assert_eq!(
        blake3::hash(&archive).to_hex().as_str(),
        "12e97b2cfa872093b2ce18f1fc78004eca68e0335ce45b906489de5edff31c99"
    );
    let bundle = pkg_bundle(temp.path(), &["--repo", "repo", id]);
    bundle.success();
    assert_eq!(
        bundle.stdout.as_str(),
        "08960775ff470473c6fb0f4183842e67262a7a72\n\
         ecd577e3fb504d0e2accdaca77495c83102b18febdd8619b158f0342bea31bad\n"
    );
}
