//! host-extract's writer threads end to end: a bundle of thousands of small
//! files in nested directories and files larger than the extractor's
//! blocks, downloaded from nginx and extracted by the real binary, lands
//! exactly as built (tree hashes, bytes, modes), also under a umask that
//! strips bits (the writers then set the mode on the open file).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use tarmac_model::layout::host;
use tarmac_testkit::nginx::Nginx;
use tarmac_testkit::repo::{Pkg, Repo};

const BIN: &str = env!("CARGO_BIN_EXE_host-extract");

fn pkgs() -> Vec<Pkg> {
    vec![
        Pkg::new("many--1")
            .file("bin/tool", b"#!/bin/sh\necho tool\n", 0o755)
            .symlink("bin/alias", "tool")
            .bulk("lib/a", 900, 600)
            .bulk("lib/b/c", 300, 5000)
            .bulk("share/empty", 50, 0),
        Pkg::new("large--2")
            .file("etc/x.conf", b"x=1\n", 0o644)
            .bulk("blobs", 5, 300 * 1024 + 17)
            .bulk("blobs/one", 1, 2 * 1024 * 1024 + 1),
    ]
}

/// Runs host-extract under `umask`, installing the bundle from `url`.
fn install(root: &Path, umask: &str, url: &str, pin: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(["--quiet", "--reserve-bytes", "0", "--reserve-inodes", "0"])
        .arg("--root")
        .arg(root)
        .args(["--url", url, "--blake3", pin])
        .stdin(Stdio::null())
        .output()
        .expect("run host-extract");
    assert!(
        out.status.success(),
        "host-extract (umask {umask}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn thousands_of_files_and_multi_block_files_land_exactly_as_built() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(&dir.path().join("repo"));
    let pkgs = pkgs();
    let bundle = repo.bundle(&pkgs.iter().collect::<Vec<_>>());
    let nginx = Nginx::serve(&repo.root);
    let url = format!("{}/{}", nginx.url(), bundle.relative);
    for (n, umask) in ["022", "077"].into_iter().enumerate() {
        let root = dir.path().join(format!("host{n}"));
        install(&root, umask, &url, &bundle.blake3);
        for pkg in &pkgs {
            let installed = host::package(&root, &pkg.id.to_string());
            let source = repo.tree(pkg);
            assert_eq!(
                tarmac_archive::tree_hash(&installed).unwrap(),
                tarmac_archive::tree_hash(&source).unwrap(),
                "umask {umask}: {}",
                pkg.id
            );
        }
        assert!(
            !host::staging(&root).exists(),
            "umask {umask}: staging left"
        );
        let many = host::package(&root, "many--1");
        let large = host::package(&root, "large--2");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&many.join("bin/tool")), 0o755, "umask {umask}");
        assert_eq!(mode(&many.join("lib/a/f00000")), 0o644, "umask {umask}");
        assert_eq!(mode(&many.join("lib/b/c")), 0o755, "umask {umask}");
        let one = large.join("blobs/one/f00000");
        assert_eq!(
            std::fs::read(&one).unwrap(),
            std::fs::read(repo.tree(&pkgs[1]).join("blobs/one/f00000")).unwrap()
        );
    }
}
