//! Builds a bundle from extracted package trees, for bench/host-extract.sh:
//! `make-bundle PACKAGES_DIR REPO [LEVEL]` reads every `PACKAGES_DIR/<id>/`
//! (e.g. gen-tree.py's output), writes
//! `REPO/bootstrap/<bootstrap_id>.bootstrap.tar.zst` and prints its path
//! relative to REPO and its blake3, one per line.

use std::path::PathBuf;
use std::process::ExitCode;

use tarmac_archive::WriteOptions;
use tarmac_model::PackageId;
use tarmac_testkit::repo::{manifest_of, write_bundle};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: make-bundle PACKAGES_DIR REPO [LEVEL]");
        return ExitCode::from(2);
    }
    let level = args.get(2).and_then(|l| l.parse().ok()).unwrap_or(9);
    let mut packages: Vec<(PackageId, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&args[0]).expect("read PACKAGES_DIR") {
        let entry = entry.expect("read PACKAGES_DIR");
        let name = entry.file_name().to_string_lossy().into_owned();
        match PackageId::parse(&name) {
            Ok(id) if entry.path().is_dir() => packages.push((id, entry.path())),
            _ => eprintln!("make-bundle: skipping {name:?}: not a package id"),
        }
    }
    packages.sort();
    let manifest = manifest_of(&packages);
    let json = serde_json::to_string_pretty(&manifest.to_json()).expect("json");
    let options = WriteOptions {
        level,
        threads: 0,
        mtime: 0,
    };
    let bundle = write_bundle(
        PathBuf::from(&args[1]).as_path(),
        &manifest,
        json.as_bytes(),
        &packages,
        options,
    );
    println!("{}\n{}", bundle.relative, bundle.blake3);
    ExitCode::SUCCESS
}
