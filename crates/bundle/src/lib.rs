//! tarmac-bundle: the closure of a package set as ONE reproducible artifact,
//! plus the repository layout a host installs from.
//!
//! Writes, under an output directory:
//! `bootstrap/<bootstrap_id>.bootstrap.tar.zst` (first entry `bundle.json`,
//! the [`BundleManifest`]; then `packages/<id>/...`, ids sorted),
//! `bootstrap/<bootstrap_id>.active.json` (the sorted id list) and
//! `packages/<name>/<id>.tar.zst` with its `<id>.json` manifest.
//!
//! What it is not: it builds nothing (pkg-build does) and resolves no tree
//! (the caller passes ids).
//!
//! Invariants: the closure is checked before anything is written (every
//! `requires` name present, one id per name, read from each archive's
//! `pkginfo.json`); every package archive is copied into the bundle entry by
//! entry without being unpacked ([`ArchiveWriter::add_archive`]), under the
//! extraction policy and checked against its manifest (tree hash, counts),
//! so a corrupt repository cannot produce a bundle; outputs appear complete or
//! not at all (temp file, fsync, rename); and the bundle's bytes depend only
//! on the package contents, the level and SOURCE_DATE_EPOCH — not on file
//! mtimes, directory names, thread counts or the order ids were given in.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use tarmac_archive::{read_member, ArchiveWriter, WriteOptions};
use tarmac_builder::read_manifest;
use tarmac_fs::{Context, FsError};
use tarmac_model::layout::repository::{archive as archive_path, manifest as manifest_path};
use tarmac_model::layout::serve;
use tarmac_model::{
    BundleManifest, ExitClass, ModelError, PackageId, PackageManifest, PkgInfo, Reporter,
    Requirement,
};

/// The one error type of tarmac-bundle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Archive(#[from] tarmac_archive::Error),
    /// A manifest or pkginfo problem found while reading the repository.
    #[error(transparent)]
    Repository(Box<tarmac_builder::Error>),
    #[error("{}: package {id} is not in the repository", path.display())]
    Missing { id: PackageId, path: PathBuf },
    #[error("bundle: package {name} given twice: {first} and {second}")]
    DuplicateName {
        name: String,
        first: PackageId,
        second: PackageId,
    },
    #[error("bundle: {id} requires {require}, which is not in the bundle")]
    MissingRequire { id: PackageId, require: String },
    #[error("{}: no pkginfo.json in the package archive", path.display())]
    NoPkgInfo { path: PathBuf },
    #[error("bundle: no packages given")]
    Empty,
    /// A package id given on the command line or in an ids file is unusable.
    #[error("{source_name}: {reason}")]
    Input { source_name: String, reason: String },
}

impl Error {
    pub fn class(&self) -> ExitClass {
        match self {
            Error::Fs(e) => e.class(),
            Error::Model(e) => e.class(),
            Error::Archive(e) => e.class(),
            Error::Repository(e) => e.class(),
            Error::Missing { .. } => ExitClass::Invalid,
            Error::DuplicateName { .. } => ExitClass::Conflict,
            Error::MissingRequire { .. } => ExitClass::Invalid,
            Error::NoPkgInfo { .. } => ExitClass::Invalid,
            Error::Input { .. } => ExitClass::Invalid,
            Error::Empty => ExitClass::Usage,
        }
    }
}

/// How to bundle.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// The repository holding the package archives.
    pub repo: PathBuf,
    /// Where `bootstrap/` and `packages/` are written (may be `repo`).
    pub out: PathBuf,
    /// zstd level.
    pub level: i32,
    /// zstd workers (0: one per core); never changes the bytes.
    pub threads: u32,
    /// mtime of every entry.
    pub source_date_epoch: u64,
}

/// What was written (`pkg-bundle --json`).
#[derive(Debug, Clone, Serialize)]
pub struct Bundled {
    pub format: u32,
    pub bootstrap_id: String,
    /// blake3 (64 hex) of the bundle file, for the install script to pin.
    pub blake3: String,
    pub bundle: PathBuf,
    pub active: PathBuf,
    /// Size of the bundle file.
    pub size: u64,
    pub packages: Vec<PackageId>,
}

/// Bundles `ids` (any order; repeats of one id are merged).
pub fn bundle(
    ids: &[PackageId],
    opts: &BundleOptions,
    reporter: &dyn Reporter,
) -> Result<Bundled, Error> {
    let ids = check_names(ids)?;
    let mut manifests = Vec::with_capacity(ids.len());
    for id in &ids {
        let path = archive_path(&opts.repo, id);
        if !path.is_file() {
            return Err(Error::Missing {
                id: id.clone(),
                path,
            });
        }
        if !manifest_path(&opts.repo, id).is_file() {
            let path = manifest_path(&opts.repo, id);
            return Err(Error::Missing {
                id: id.clone(),
                path,
            });
        }
        manifests.push(read_manifest(&opts.repo, id)?);
    }
    let manifest = BundleManifest::new(manifests.clone());
    let bootstrap_id = manifest.bootstrap_id.clone();
    let bootstrap_dir = serve::bootstrap_dir(&opts.out);
    tarmac_fs::create_dir_all(&bootstrap_dir)?;

    // Pass 1: every package's requires, from its pkginfo.json; the closure
    // is checked before anything is written.
    reporter.step("verify");
    let requires = read_requires(&manifests, &opts.repo, opts.threads)?;
    check_closure(&requires)?;
    reporter.finish_step();
    // Pass 2: copy every archive into the bundle, verifying it on the way.
    reporter.step("compress");
    reporter.total_bytes(manifest.total_bytes());
    let (bundle, blake3, size) = write_bundle(&manifest, &bootstrap_dir, opts)?;
    reporter.finish_step();

    let active = serve::active(&opts.out, &bootstrap_id);
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let text = serde_json::to_string_pretty(&list).expect("list serializes") + "\n";
    tarmac_fs::write_atomic(&active, text.as_bytes())?;

    if !same_dir(&opts.repo, &opts.out) {
        for id in &ids {
            for (from, to) in [
                (archive_path(&opts.repo, id), archive_path(&opts.out, id)),
                (manifest_path(&opts.repo, id), manifest_path(&opts.out, id)),
            ] {
                publish_copy(&from, &to)?;
            }
        }
    }
    Ok(Bundled {
        format: 1,
        bootstrap_id,
        blake3,
        bundle,
        active,
        size,
        packages: ids,
    })
}

/// One package's requires, filled by whichever worker took it.
type Slot = std::sync::Mutex<Option<Result<Vec<Requirement>, Error>>>;

/// Largest `pkginfo.json` read (a real one is a few KiB).
const MAX_PKGINFO: u64 = 1 << 20;

/// Reads every package's requires from the `pkginfo.json` in its archive,
/// spread over `threads` workers (0: one per core); the error reported is
/// the one of the first package in id order, so it does not depend on
/// scheduling. Nothing is unpacked: each archive is decoded up to its
/// pkginfo.json.
fn read_requires(
    manifests: &[PackageManifest],
    repo: &Path,
    threads: u32,
) -> Result<BTreeMap<PackageId, Vec<Requirement>>, Error> {
    let workers = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n as usize,
    }
    .clamp(1, manifests.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Slot> = manifests
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(package) = manifests.get(i) else {
                    return;
                };
                let result = requires_of(package, repo);
                *results[i].lock().expect("no panics while locked") = Some(result);
            });
        }
    });
    let mut requires = BTreeMap::new();
    for (package, result) in manifests.iter().zip(results) {
        let result = result.into_inner().expect("no panics while locked");
        requires.insert(package.id.clone(), result.expect("every package read")?);
    }
    Ok(requires)
}

fn requires_of(package: &PackageManifest, repo: &Path) -> Result<Vec<Requirement>, Error> {
    let archive = archive_path(repo, &package.id);
    let file = tarmac_fs::open(&archive)?;
    let name = format!("{}:pkginfo.json", archive.display());
    let bytes = read_member(
        io::BufReader::with_capacity(1 << 20, file),
        "pkginfo.json",
        MAX_PKGINFO,
    )?
    .ok_or_else(|| Error::NoPkgInfo {
        path: archive.clone(),
    })?;
    let info = PkgInfo::parse(&name, &bytes)?;
    Ok(info.requires)
}

/// Sorts and de-duplicates ids; two ids of one name is an error.
fn check_names(ids: &[PackageId]) -> Result<Vec<PackageId>, Error> {
    let mut ids: Vec<PackageId> = ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err(Error::Empty);
    }
    for pair in ids.windows(2) {
        if pair[0].name() == pair[1].name() {
            return Err(Error::DuplicateName {
                name: pair[0].name().to_string(),
                first: pair[0].clone(),
                second: pair[1].clone(),
            });
        }
    }
    Ok(ids)
}

/// Every `requires` name of every package must be in the set (names only,
/// as pkgpanda checks at activation; the variant was the builder's concern).
fn check_closure(
    requires: &BTreeMap<PackageId, Vec<tarmac_model::Requirement>>,
) -> Result<(), Error> {
    let names: BTreeSet<&str> = requires.keys().map(PackageId::name).collect();
    for (id, reqs) in requires {
        let mut sorted: Vec<&str> = reqs.iter().map(|r| r.name.as_str()).collect();
        sorted.sort();
        if let Some(missing) = sorted.into_iter().find(|n| !names.contains(n)) {
            return Err(Error::MissingRequire {
                id: id.clone(),
                require: missing.to_string(),
            });
        }
    }
    Ok(())
}

/// A writer that hashes what passes through it.
struct Hashing<W: Write> {
    inner: W,
    hasher: blake3::Hasher,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the bundle from the package archives, each checked against its
/// manifest on the way; returns its path, blake3 and size.
fn write_bundle(
    manifest: &BundleManifest,
    bootstrap_dir: &Path,
    opts: &BundleOptions,
) -> Result<(PathBuf, String, u64), Error> {
    let name = serve::bundle_name(&manifest.bootstrap_id);
    let path = bootstrap_dir.join(&name);
    let temp = bootstrap_dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let file = File::create(&temp).with_path("create", &temp)?;
        let sink = Hashing {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: blake3::Hasher::new(),
            size: 0,
        };
        let options = WriteOptions {
            level: opts.level,
            threads: opts.threads,
            mtime: opts.source_date_epoch,
        };
        let mut writer = ArchiveWriter::new(sink, options).map_err(|e| e.writing(&temp))?;
        let text =
            serde_json::to_string_pretty(&manifest.to_json()).expect("manifest serializes") + "\n";
        writer
            .add_bytes("bundle.json", text.as_bytes(), 0o644)
            .map_err(|e| e.writing(&temp))?;
        for package in &manifest.packages {
            let archive = archive_path(&opts.repo, &package.id);
            let file = tarmac_fs::open(&archive)?;
            // add_archive checks the tree hash and counts against the
            // manifest; its errors name the package's `<id>.json`.
            writer
                .add_archive(
                    &format!("packages/{}", package.id),
                    io::BufReader::with_capacity(1 << 20, file),
                    package,
                )
                .map_err(|e| e.reading(&archive).writing(&temp))?;
        }
        let sink = writer.finish().map_err(|e| e.writing(&temp))?;
        let hash = sink.hasher.finalize().to_hex().to_string();
        let size = sink.size;
        let file = sink
            .inner
            .into_inner()
            .map_err(|e| FsError::new("write", &temp, e.into_error()))?;
        file.sync_all().with_path("fsync", &temp)?;
        tarmac_fs::rename(&temp, &path)?;
        tarmac_fs::fsync_dir(bootstrap_dir)?;
        Ok((path.clone(), hash, size))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Places a copy of `from` at `to` atomically (a hard link when possible).
fn publish_copy(from: &Path, to: &Path) -> Result<(), Error> {
    let parent = to.parent().expect("repository paths have parents");
    tarmac_fs::create_dir_all(parent)?;
    let name = to.file_name().unwrap_or_default().to_string_lossy();
    let temp = parent.join(format!(".{name}.tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    if std::fs::hard_link(from, &temp).is_err() {
        std::fs::copy(from, &temp).with_path("copy", from)?;
        File::open(&temp)
            .and_then(|f| f.sync_all())
            .with_path("fsync", &temp)?;
    }
    tarmac_fs::rename(&temp, to)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> PackageId {
        PackageId::parse(s).unwrap()
    }

    #[test]
    fn names_must_be_unique_and_ids_are_sorted() {
        let sorted = check_names(&[id("b--1"), id("a--1"), id("b--1")]).unwrap();
        assert_eq!(sorted, [id("a--1"), id("b--1")]);
        let err = check_names(&[id("a--1"), id("a--2")]).unwrap_err();
        assert_eq!(err.class(), ExitClass::Conflict);
        assert!(err.to_string().contains("package a given twice"), "{err}");
        assert_eq!(check_names(&[]).unwrap_err().class(), ExitClass::Usage);
    }

    #[test]
    fn closure_needs_every_required_name() {
        let req = |n: &str| tarmac_model::Requirement {
            name: n.into(),
            variant: None,
        };
        let mut set = BTreeMap::new();
        set.insert(id("a--1"), vec![req("b")]);
        set.insert(id("b--1"), vec![]);
        check_closure(&set).unwrap();
        set.insert(id("c--1"), vec![req("a"), req("zz")]);
        let err = check_closure(&set).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bundle: c--1 requires zz, which is not in the bundle"
        );
    }

    #[test]
    fn an_archive_without_pkginfo_is_refused_before_writing() {
        let temp = tempfile::tempdir().unwrap();
        let tree = temp.path().join("tree");
        std::fs::create_dir_all(tree.join("bin")).unwrap();
        std::fs::write(tree.join("bin/x"), b"x").unwrap();
        let pid = id("bare--1");
        let repo = temp.path().join("repo");
        let archive = archive_path(&repo, &pid);
        std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
        let options = WriteOptions {
            level: 1,
            threads: 1,
            mtime: 0,
        };
        let manifest = tarmac_archive::pack_dir(&pid, &tree, &archive, options).unwrap();
        let sidecar = serde_json::to_vec(&manifest).unwrap();
        std::fs::write(manifest_path(&repo, &pid), sidecar).unwrap();
        let out = temp.path().join("out");
        let opts = BundleOptions {
            repo,
            out: out.clone(),
            level: 1,
            threads: 1,
            source_date_epoch: 0,
        };
        let err = bundle(&[pid], &opts, &tarmac_model::Silent).unwrap_err();
        assert_eq!(err.class(), ExitClass::Invalid);
        assert_eq!(
            err.to_string(),
            format!(
                "{}: no pkginfo.json in the package archive",
                archive.display()
            )
        );
        let written: Vec<_> = std::fs::read_dir(out.join("bootstrap"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(written.is_empty(), "{written:?}");
    }
}

// Boxed: the builder's error is large and every Result of this crate
// would carry its size.
impl From<tarmac_builder::Error> for Error {
    fn from(e: tarmac_builder::Error) -> Self {
        Error::Repository(Box::new(e))
    }
}

impl tarmac_model::Diagnosed for Error {
    fn class(&self) -> ExitClass {
        Error::class(self)
    }
    fn hints(&self) -> Vec<String> {
        match self {
            Error::Repository(e) => tarmac_model::Diagnosed::hints(e.as_ref()),
            _ => Vec::new(),
        }
    }
}

/// Where the ids to bundle come from (pkg-bundle's arguments): given ids,
/// an ids file (one per line, `-` for stdin) and a package tree's plan,
/// all together.
#[derive(Debug, Clone, Default)]
pub struct IdSources {
    pub ids: Vec<String>,
    pub ids_from: Option<PathBuf>,
    /// `Some((packages_dir, variant))`: the bootstrap set of that tree
    /// (variant `""`: the default tree).
    pub tree: Option<(PathBuf, String)>,
}

/// The package ids of `sources`, in order, each parsed; an unusable one is
/// an [`Error::Input`] naming where it came from.
pub fn collect_ids(sources: &IdSources) -> Result<Vec<PackageId>, Error> {
    use std::io::Read;
    let mut texts: Vec<(String, String)> = sources
        .ids
        .iter()
        .map(|i| ("argument".to_string(), i.clone()))
        .collect();
    if let Some(file) = &sources.ids_from {
        let mut text = String::new();
        let name = file.display().to_string();
        let read = if name == "-" {
            io::stdin().read_to_string(&mut text).map(|_| ())
        } else {
            File::open(file).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
        };
        read.map_err(|e| Error::Input {
            source_name: name.clone(),
            reason: e.to_string(),
        })?;
        texts.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| (name.clone(), l.to_string())),
        );
    }
    let mut ids = Vec::new();
    for (source_name, text) in texts {
        ids.push(PackageId::parse(&text).map_err(|e| Error::Input {
            source_name,
            reason: e.to_string(),
        })?);
    }
    if let Some((packages_dir, variant)) = &sources.tree {
        let tree = tarmac_builder::PackageTree::load(packages_dir)?;
        let variant = (!variant.is_empty()).then_some(variant.as_str());
        let set = tree.tree_set(variant)?;
        let plan = tarmac_builder::plan(&tree, &set.bootstrap)?;
        ids.extend(plan.packages.into_iter().map(|p| p.id));
    }
    Ok(ids)
}
