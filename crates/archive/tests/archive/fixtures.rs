//! Fixture trees and compression helpers shared by the test modules.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use tarmac_archive::{pack_dir, WriteOptions};
use tarmac_model::{PackageId, PackageManifest};

/// A package packed with the default options from the tree `make` writes
/// (in `dir`/src, archive `dir`/<id>.tar.zst); `dir` lives as long as this.
pub struct Packed {
    pub dir: tempfile::TempDir,
    pub src: PathBuf,
    pub archive: PathBuf,
    pub manifest: PackageManifest,
}

pub fn packed(id: &str, make: fn(&Path)) -> Packed {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    make(&src);
    let archive = dir.path().join(format!("{id}.tar.zst"));
    let manifest = pack_dir(
        &PackageId::parse(id).unwrap(),
        &src,
        &archive,
        WriteOptions::default(),
    )
    .unwrap();
    Packed {
        dir,
        src,
        archive,
        manifest,
    }
}

/// A small package tree with every kind of entry the format carries,
/// including names and a symlink target longer than a ustar field.
pub fn sample_tree(root: &Path) {
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("lib/deep/er")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::create_dir_all(root.join("a-c")).unwrap();
    write(root, "bin/tool", b"#!/bin/sh\necho tool\n", 0o755);
    write(root, "lib/libx.so.1", &vec![7u8; 100_000], 0o644);
    write(root, "pkginfo.json", b"{\"requires\":[]}", 0o600);
    write(root, "a-c/f", b"", 0o644);
    let long = format!("lib/deep/er/{}", "n".repeat(150));
    write(root, &long, b"long name", 0o700);
    symlink("libx.so.1", root.join("lib/libx.so")).unwrap();
    symlink(
        format!("deep/er/{}", "n".repeat(150)),
        root.join("lib/long-link"),
    )
    .unwrap();
    symlink("../bin/tool", root.join("lib/deep/tool")).unwrap();
    symlink("missing-but-inside", root.join("dangling")).unwrap();
}

pub fn write(root: &Path, rel: &str, data: &[u8], mode: u32) {
    let path = root.join(rel);
    fs::write(&path, data).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
