//! Package, repository and bundle fixtures built with the real archive
//! writer, so tests extract exactly what pkg-build and pkg-bundle produce.
//!
//! ```text
//! let repo = Repo::new(dir);
//! let a = Pkg::new("a--1").file("bin/a", b"#!/bin/sh\n", 0o755);
//! repo.add(&a);                       // packages/a/a--1.tar.zst + a--1.json
//! let bundle = repo.bundle(&[&a]);    // bootstrap/<bootstrap_id>.bootstrap.tar.zst
//! ```

use std::fs;
use std::io::BufWriter;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tarmac_archive::{ArchiveWriter, WriteOptions};
use tarmac_model::layout::{repository, serve};
use tarmac_model::{BundleManifest, PackageId, PackageManifest};

/// A package tree described in the test.
#[derive(Debug, Clone)]
pub struct Pkg {
    pub id: PackageId,
    entries: Vec<(String, Entry)>,
}

#[derive(Debug, Clone)]
enum Entry {
    File(Vec<u8>, u32),
    Symlink(String),
}

impl Pkg {
    pub fn new(id: &str) -> Pkg {
        Pkg {
            id: PackageId::parse(id).expect("fixture id"),
            entries: Vec::new(),
        }
    }

    pub fn file(mut self, path: &str, bytes: &[u8], mode: u32) -> Pkg {
        self.entries
            .push((path.to_string(), Entry::File(bytes.to_vec(), mode)));
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Pkg {
        self.entries
            .push((path.to_string(), Entry::Symlink(target.to_string())));
        self
    }

    /// `count` files of `size` pseudo-random bytes under `dir/`: bulk for
    /// resume and kill tests (incompressible, so the archive is as big).
    pub fn bulk(mut self, dir: &str, count: usize, size: usize) -> Pkg {
        let mut state = 0x2545_f491_4f6c_dd1du64 ^ (self.id.to_string().len() as u64);
        for i in 0..count {
            let bytes: Vec<u8> = (0..size)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            self.entries
                .push((format!("{dir}/f{i:05}"), Entry::File(bytes, 0o644)));
        }
        self
    }

    /// Writes the tree under `dir` (created).
    pub fn materialize(&self, dir: &Path) {
        fs::create_dir_all(dir).expect("fixture dir");
        for (path, entry) in &self.entries {
            let full = dir.join(path);
            fs::create_dir_all(full.parent().unwrap()).expect("fixture parent");
            match entry {
                Entry::File(bytes, mode) => {
                    fs::write(&full, bytes).expect("fixture file");
                    fs::set_permissions(&full, fs::Permissions::from_mode(*mode)).unwrap();
                }
                Entry::Symlink(target) => {
                    std::os::unix::fs::symlink(target, &full).expect("fixture symlink")
                }
            }
        }
    }
}

/// A bundle written by [`Repo::bundle`].
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Path relative to the repository root: `bootstrap/<id>.bootstrap.tar.zst`.
    pub relative: String,
    pub path: PathBuf,
    /// 64 hex digits of blake3 over the file.
    pub blake3: String,
    pub manifest: BundleManifest,
}

/// A repository directory laid out as docs/architecture.md says (served by nginx).
pub struct Repo {
    pub root: PathBuf,
    trees: PathBuf,
}

impl Repo {
    /// Uses `root` (created) as the repository; package trees are kept in
    /// `<root>.trees/`.
    pub fn new(root: &Path) -> Repo {
        fs::create_dir_all(root).expect("repo dir");
        let trees = root.with_extension("trees");
        fs::create_dir_all(&trees).expect("trees dir");
        Repo {
            root: root.to_path_buf(),
            trees,
        }
    }

    /// The materialized tree of a package (built on first use).
    pub fn tree(&self, pkg: &Pkg) -> PathBuf {
        let dir = self.trees.join(pkg.id.to_string());
        if !dir.exists() {
            pkg.materialize(&dir);
        }
        dir
    }

    /// Packs `pkg` into `packages/<name>/<id>.tar.zst` with its `<id>.json`.
    pub fn add(&self, pkg: &Pkg) -> PackageManifest {
        fs::create_dir_all(repository::package_dir(&self.root, pkg.id.name())).unwrap();
        let out = repository::archive(&self.root, &pkg.id);
        let manifest = tarmac_archive::pack_dir(&pkg.id, &self.tree(pkg), &out, options())
            .expect("pack fixture");
        let json = serde_json::to_string_pretty(&manifest.to_json()).unwrap();
        fs::write(repository::manifest(&self.root, &pkg.id), json).unwrap();
        manifest
    }

    /// Writes `bootstrap/<bootstrap_id>.bootstrap.tar.zst`: bundle.json
    /// first, then `packages/<id>/...` in id order.
    pub fn bundle(&self, pkgs: &[&Pkg]) -> Bundle {
        let mut sorted: Vec<&Pkg> = pkgs.to_vec();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        let manifests = sorted
            .iter()
            .map(|p| {
                let digest = tarmac_archive::tree_hash(&self.tree(p)).expect("tree hash");
                PackageManifest {
                    id: p.id.clone(),
                    tree_hash: digest.hash,
                    files: digest.files,
                    bytes: digest.bytes,
                }
            })
            .collect();
        let manifest = BundleManifest::new(manifests);
        let json = serde_json::to_string_pretty(&manifest.to_json()).unwrap();
        self.bundle_with(&manifest, json.as_bytes(), &sorted)
    }

    /// A bundle with an arbitrary bundle.json (for lying manifests).
    pub fn bundle_with(&self, manifest: &BundleManifest, json: &[u8], pkgs: &[&Pkg]) -> Bundle {
        let dirs: Vec<(PackageId, PathBuf)> =
            pkgs.iter().map(|p| (p.id.clone(), self.tree(p))).collect();
        write_bundle(&self.root, manifest, json, &dirs, options())
    }
}

/// Writes `<repo>/bootstrap/<bootstrap_id>.bootstrap.tar.zst` from package
/// trees on disk: `json` as bundle.json, then each `(id, dir)` (sorted by
/// id) as `packages/<id>/`.
pub fn write_bundle(
    repo: &Path,
    manifest: &BundleManifest,
    json: &[u8],
    packages: &[(PackageId, PathBuf)],
    options: WriteOptions,
) -> Bundle {
    fs::create_dir_all(serve::bootstrap_dir(repo)).unwrap();
    let relative = serve::bundle_relative(&manifest.bootstrap_id);
    let path = repo.join(&relative);
    let file = fs::File::create(&path).unwrap();
    let mut writer = ArchiveWriter::new(BufWriter::with_capacity(1 << 20, file), options).unwrap();
    writer.add_bytes("bundle.json", json, 0o644).unwrap();
    let mut sorted: Vec<&(PackageId, PathBuf)> = packages.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, tree) in sorted {
        writer.add_tree(&format!("packages/{id}"), tree).unwrap();
    }
    let mut out = writer.finish().unwrap();
    std::io::Write::flush(&mut out).unwrap();
    drop(out);
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(fs::File::open(&path).unwrap())
        .unwrap();
    Bundle {
        relative,
        path,
        blake3: hasher.finalize().to_hex().to_string(),
        manifest: manifest.clone(),
    }
}

/// A pkg-bundle-like dist from package trees on disk: each `(id, dir)`
/// packed into `packages/<name>/<id>.tar.zst` + `<id>.json` with the
/// writer's default options (as pkg-build), then one bundle of them and
/// its `<bootstrap_id>.active.json`. Returns the bootstrap id.
pub fn write_dist(dist: &Path, packages: &[(PackageId, PathBuf)]) -> String {
    let manifests: Vec<PackageManifest> = packages
        .iter()
        .map(|(id, tree)| {
            fs::create_dir_all(repository::package_dir(dist, id.name())).unwrap();
            let archive = repository::archive(dist, id);
            let manifest =
                tarmac_archive::pack_dir(id, tree, &archive, WriteOptions::default()).unwrap();
            let json = serde_json::to_vec_pretty(&manifest).unwrap();
            fs::write(repository::manifest(dist, id), json).unwrap();
            manifest
        })
        .collect();
    let manifest = BundleManifest::new(manifests);
    let json = serde_json::to_vec(&manifest).unwrap();
    write_bundle(dist, &manifest, &json, packages, WriteOptions::default());
    let active: Vec<String> = manifest.packages.iter().map(|p| p.id.to_string()).collect();
    let active_path = serve::active(dist, &manifest.bootstrap_id);
    fs::write(active_path, serde_json::to_vec(&active).unwrap()).unwrap();
    manifest.bootstrap_id
}

/// The manifest of package trees on disk (tree hashes computed).
pub fn manifest_of(packages: &[(PackageId, PathBuf)]) -> BundleManifest {
    BundleManifest::new(
        packages
            .iter()
            .map(|(id, dir)| {
                let digest = tarmac_archive::tree_hash(dir).expect("tree hash");
                PackageManifest {
                    id: id.clone(),
                    tree_hash: digest.hash,
                    files: digest.files,
                    bytes: digest.bytes,
                }
            })
            .collect(),
    )
}

fn options() -> WriteOptions {
    WriteOptions {
        level: 3,
        threads: 1,
        mtime: 0,
    }
}
