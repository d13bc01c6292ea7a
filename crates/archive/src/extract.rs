//! The strict streaming extractor.
//!
//! Invariant: [`extract`] writes only inside the staging directory it
//! creates, and on any failure that directory is removed, so the caller's
//! tree is exactly as it was. On success, the staging tree is exactly what
//! the archive declares, and the returned tree hash was computed from the
//! stream in the same pass (it equals [`crate::tree_hash`] of the staging
//! directory).
//!
//! How writes are kept inside: staging starts empty and the extractor keeps
//! a map of every path it created. An entry is written only if each of its
//! ancestors is a directory of that map (never a symlink or a file), and
//! files are created with `O_EXCL`, so no write follows a link. Symlink
//! targets are checked once the whole archive is known, because a later
//! entry can turn a path into a symlink that an earlier target goes through.
//!
//! Threads: one reads the caller's raw bytes and one decompresses them
//! (two `container::pipelined` stages), this one parses
//! and decides (every rule above, directories and symlinks, the map), and
//! N writers create, fill and hash the regular files (see the `writers`
//! module: file creation is what bounds an extraction of 100k small
//! files). Hardlinks are made last, once every file exists; the tree hash
//! is computed from the map and the writers' file hashes at the end.
//!
//! No fsync here: an fsync per file is unaffordable for 100k files; the
//! caller makes the tree durable with one syncfs(2) before publishing it.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::CString;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use nix::fcntl::{open, openat, OFlag};
use nix::sys::stat::Mode;

use tarmac_fs::{Context, FsError};
use tarmac_model::{bootstrap_id, BundleManifest, PackageId, PackageManifest, MANIFEST_FORMAT};

use crate::container::{self, Checksums, Container, SourceFailure};
use crate::error::{Error, Result};
use crate::name::{self, sort_key, MapKey, SortKey};
use crate::nodes::Nodes;
use crate::tar_read::{RawEntry, TarReader};
use crate::tree::{is_exec, Node, TreeDigest, TreeHasher};
use crate::writers::{self, Block, Data, Job, Pool, Queue, Shared, BLOCK};

/// The largest `bundle.json` accepted (it is read into memory).
const MAX_BUNDLE_JSON: u64 = 16 * 1024 * 1024;
/// Symlinks followed while resolving one target (Linux's MAXSYMLINKS).
const MAX_SYMLINK_HOPS: usize = 40;

/// What the archive is expected to contain, when the caller knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Expect {
    /// No manifest: only the limits of [`ExtractOptions`] apply.
    #[default]
    Nothing,
    /// A package archive with its `<id>.json`: the stream may not outgrow
    /// the declared entry count and bytes (refused at once, exit 3) and the
    /// tree hash must match at the end (exit 4).
    Package(PackageManifest),
    /// A bundle: `bundle.json` must be the first entry; it is parsed at once
    /// and every entry must then lie in a declared `packages/<id>/`, each
    /// package within its declared counts; each package's tree hash is
    /// checked at the end.
    Bundle,
}

/// Limits and expectations of one extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Most bytes of regular-file content (hardlinks count as their target).
    pub max_bytes: u64,
    /// Most archive entries (headers of real entries, not metadata records).
    pub max_entries: u64,
    pub expect: Expect,
    /// The caller checks a pinned hash of the raw bytes (host-extract's
    /// `--blake3`) before it trusts anything extracted, so the zstd frames'
    /// own content checksums (an XXH64 of every decoded byte, 5-8% of the
    /// decoder thread, the longest one) would only repeat that check and
    /// are not computed. A corrupt byte still breaks the archive or the
    /// pin; the caller names the pin (see tarmac-fetch `extract_stream`).
    pub raw_bytes_pinned: bool,
}

impl Default for ExtractOptions {
    /// No byte limit (the caller passes free space less a reserve),
    /// 1,000,000 entries (docs/architecture.md § Bundle format).
    fn default() -> Self {
        ExtractOptions {
            max_bytes: u64::MAX,
            max_entries: 1_000_000,
            expect: Expect::Nothing,
            raw_bytes_pinned: false,
        }
    }
}

/// The result of a successful extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub container: Container,
    /// Tree hash of the whole staging directory.
    pub tree: TreeDigest,
    /// With [`Expect::Bundle`]: the parsed `bundle.json`.
    pub bundle: Option<BundleManifest>,
    /// With [`Expect::Bundle`]: the tree hash of each `packages/<id>/`
    /// (already checked against `bundle.json`).
    pub packages: BTreeMap<PackageId, TreeDigest>,
    /// Archive entries read.
    pub entries: u64,
}

/// Extracts the archive read from `reader` into `staging`, which must not
/// exist (its parent must). The container is chosen by magic bytes. On any
/// error `staging` is removed; on success the caller renames it into place
/// (after one syncfs).
pub fn extract<R: Read + Send>(
    reader: R,
    staging: &Path,
    opts: &ExtractOptions,
) -> Result<Extracted> {
    extract_with(reader, staging, opts, &mut |_| Ok(()))
}

/// A caller's refusal from the `on_bundle` hook of [`extract_with`], with
/// the exit class the caller chose (e.g. `NoSpace` from a space preflight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub class: tarmac_model::ExitClass,
    pub reason: String,
}

/// [`extract`], plus a hook called with the parsed `bundle.json` (with
/// [`Expect::Bundle`]) before anything of the bundle is written, on the
/// extracting thread: the place for a disk-space preflight against the
/// declared sizes. Its refusal aborts the extraction as
/// [`Error::Rejected`]; nothing but the (removed) staging was written.
pub fn extract_with<R: Read + Send>(
    reader: R,
    staging: &Path,
    opts: &ExtractOptions,
    on_bundle: &mut dyn FnMut(&BundleManifest) -> Result<(), Rejected>,
) -> Result<Extracted> {
    extract_threads(reader, staging, opts, on_bundle, writers::default_writers())
}

/// [`extract`] with `writers` writer threads (at least 1) instead of the
/// default: for benchmarks (bench/run.sh measures 1, 2 and 4) and tests.
pub fn extract_with_writers<R: Read + Send>(
    reader: R,
    staging: &Path,
    opts: &ExtractOptions,
    writers: usize,
) -> Result<Extracted> {
    extract_threads(reader, staging, opts, &mut |_| Ok(()), writers.max(1))
}

fn extract_threads<R: Read + Send>(
    reader: R,
    staging: &Path,
    opts: &ExtractOptions,
    on_bundle: &mut dyn FnMut(&BundleManifest) -> Result<(), Rejected>,
    writers: usize,
) -> Result<Extracted> {
    match DirBuilder::new().mode(0o755).create(staging) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::StagingExists {
                path: staging.to_path_buf(),
            })
        }
        Err(e) => return Err(FsError::new("create directory", staging, e).into()),
    }
    // Removes staging on every failure, a panic included.
    let mut guard = StagingGuard {
        path: staging,
        keep: false,
    };
    let result = (|| {
        // If the umask left 0755 intact on staging, it leaves 0755 and 0644
        // intact everywhere: then the chmod after each create (one syscall
        // per file, 120k of them) is skipped.
        let created = fs::metadata(staging)
            .with_path("stat", staging)?
            .permissions()
            .mode();
        let chmod_needed = created & 0o777 != 0o755;
        if chmod_needed {
            fs::set_permissions(staging, fs::Permissions::from_mode(0o755))
                .with_path("chmod", staging)?;
        }
        let failure = SourceFailure::default();
        // Two reading threads: one takes the raw bytes from the caller's
        // reader (for host-extract: the socket, its retries and the bundle's
        // blake3), the next decompresses them, so neither waits for the
        // other and decompression, the longest single step, runs alone.
        container::pipelined(Box::new(reader), container::RAW_IN_FLIGHT, |raw| {
            let checksums = if opts.raw_bytes_pinned {
                Checksums::LeftToThePin
            } else {
                Checksums::Verify
            };
            let (container, decoded) = container::open(raw, &failure, checksums)?;
            let root = open(
                staging,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| FsError::new("open directory", staging, e.into()))?;
            let shared = Shared::new(staging, chmod_needed);
            let (jobs_tx, jobs) = writers::jobs();
            let (pool, free) = Pool::new();
            let (done, hashes) = std::sync::mpsc::channel();
            container::pipelined(decoded, container::DECODED_IN_FLIGHT, |decoded| {
                std::thread::scope(|scope| {
                    let threads: Vec<_> = (0..writers)
                        .map(|_| {
                            let (free, done) = (free.clone(), done.clone());
                            let (shared, jobs) = (&shared, &jobs);
                            scope.spawn(move || writers::run(shared, jobs, free, done))
                        })
                        .collect();
                    drop((free, done));
                    let mut tar = TarReader::new(decoded, container, failure);
                    let mut extractor = Extractor::new(staging, opts, on_bundle);
                    extractor.chmod_needed = chmod_needed;
                    extractor.out = Some(Out {
                        shared: &shared,
                        pool,
                        jobs: jobs_tx,
                        hashes,
                        dirs: Dirs {
                            root: Arc::new(root),
                            open: Vec::new(),
                        },
                    });
                    let parsed = extractor
                        .run(&mut tar)
                        .and_then(|()| match &mut extractor.out {
                            Some(out) => out.jobs.flush(out.shared),
                            None => Ok(()),
                        });
                    // Dropping the job sender lets the writers finish.
                    let hashes = extractor.out.take().map(|out| out.hashes);
                    for thread in threads {
                        if let Err(panic) = thread.join() {
                            std::panic::resume_unwind(panic);
                        }
                    }
                    parsed?;
                    if let Some(hashes) = hashes {
                        extractor.take_hashes(hashes.try_iter().flatten());
                    }
                    if let Some(e) = shared.take_error() {
                        return Err(e);
                    }
                    extractor.link_hardlinks()?;
                    extractor.finish(container)
                })
            })
        })
    })();
    guard.keep = result.is_ok();
    result
}

struct StagingGuard<'a> {
    path: &'a Path,
    keep: bool,
}

impl Drop for StagingGuard<'_> {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: the error being returned matters more than a
            // failure to clean up, and the next run removes leftover staging.
            let _ = fs::remove_dir_all(self.path);
        }
    }
}

/// What the map keeps of an entry: a [`Node`] whose file hash is kept
/// apart, by job number, in `Extractor::hashes` (filled by the writers),
/// and whose rare symlink target is boxed twice: 16 bytes instead of 48
/// for each of 130k entries (the map is the largest use of memory after
/// the decoder's 16 MiB window; peak RSS must stay under 64 MiB).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Made {
    /// `explicit`: declared by an entry (false: a parent created implicitly).
    Dir {
        explicit: bool,
    },
    File {
        exec: bool,
        size: u64,
        job: u32,
    },
    Symlink {
        target: Box<Box<str>>,
    },
}

struct PackageState {
    declared: PackageManifest,
    files: u64,
    bytes: u64,
}

enum Scope {
    Nothing,
    Package {
        declared: PackageManifest,
        files: u64,
        bytes: u64,
    },
    Bundle {
        manifest: Option<BundleManifest>,
        packages: BTreeMap<String, PackageState>,
    },
}

/// Where the parser sends regular files: the writers' queue, the block
/// pool, and the open directories.
struct Out<'s> {
    shared: &'s Shared<'s>,
    pool: Pool,
    jobs: Queue,
    /// `(job, blake3)` of each file written, from the writers.
    hashes: Receiver<writers::Hashes>,
    dirs: Dirs,
}

/// The open directory fds of the current directory and its ancestors
/// (an archive is written depth-first, so this chain is what the next
/// entries need), each opened relative to its parent, without following
/// links.
struct Dirs {
    root: Arc<OwnedFd>,
    open: Vec<(String, Arc<OwnedFd>)>,
}

impl Dirs {
    /// The fd of `dir` (archive-relative, "" for the root), a directory
    /// this extraction created.
    fn fd(&mut self, staging: &Path, dir: &str) -> Result<Arc<OwnedFd>> {
        while let Some((open, _)) = self.open.last() {
            if dir == open || (dir.starts_with(open.as_str()) && dir.as_bytes()[open.len()] == b'/')
            {
                break;
            }
            self.open.pop();
        }
        let (mut start, mut fd) = match self.open.last() {
            Some((open, fd)) if open == dir => return Ok(fd.clone()),
            Some((open, fd)) => (open.len() + 1, fd.clone()),
            None => (0, self.root.clone()),
        };
        while start < dir.len() {
            let end = dir[start..].find('/').map_or(dir.len(), |i| start + i);
            let opened = openat(
                &*fd,
                &dir[start..end],
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| FsError::new("open directory", staging.join(&dir[..end]), e.into()))?;
            fd = Arc::new(opened);
            self.open.push((dir[..end].to_string(), fd.clone()));
            start = end + 1;
        }
        Ok(fd)
    }
}

struct Extractor<'a> {
    staging: &'a Path,
    on_bundle: &'a mut dyn FnMut(&BundleManifest) -> Result<(), Rejected>,
    nodes: Nodes<MapKey, Made>,
    entries: u64,
    bytes: u64,
    max_entries: u64,
    max_bytes: u64,
    root_seen: bool,
    scope: Scope,
    /// The directories of the last entry's parent chain (innermost last)
    /// with their sort keys: the common case (sorted archives) skips the
    /// ancestor walk, and the map keys of a directory's entries share its
    /// key (see [`MapKey`]).
    parents: Vec<(String, Arc<SortKey>)>,
    /// The umask removes bits from 0755/0644: set modes explicitly.
    chmod_needed: bool,
    /// The writers, while the archive is parsed.
    out: Option<Out<'a>>,
    /// Hardlinks (path, target), made once every file exists.
    hardlinks: Vec<(String, String)>,
    /// Files handed to the writers so far.
    jobs: u32,
    /// The blake3 of each job's file, as the writers report them.
    hashes: Vec<[u8; 32]>,
}

impl<'a> Extractor<'a> {
    fn new(
        staging: &'a Path,
        opts: &ExtractOptions,
        on_bundle: &'a mut dyn FnMut(&BundleManifest) -> Result<(), Rejected>,
    ) -> Extractor<'a> {
        let scope = match &opts.expect {
            Expect::Nothing => Scope::Nothing,
            Expect::Package(declared) => Scope::Package {
                declared: declared.clone(),
                files: 0,
                bytes: 0,
            },
            Expect::Bundle => Scope::Bundle {
                manifest: None,
                packages: BTreeMap::new(),
            },
        };
        Extractor {
            staging,
            on_bundle,
            nodes: Nodes::new(),
            entries: 0,
            bytes: 0,
            max_entries: opts.max_entries,
            max_bytes: opts.max_bytes,
            root_seen: false,
            scope,
            parents: Vec::new(),
            chmod_needed: true,
            out: None,
            hardlinks: Vec::new(),
            jobs: 0,
            // Exact when the manifest says how many entries come.
            hashes: match &opts.expect {
                Expect::Package(declared) => {
                    Vec::with_capacity(declared.files.min(1 << 22) as usize)
                }
                _ => Vec::new(),
            },
        }
    }

    fn run<R: Read>(&mut self, tar: &mut TarReader<R>) -> Result<()> {
        while let Some(raw) = tar.next_entry()? {
            self.entry(raw, tar)?;
        }
        // A package has at least its root (a bundle says so in its own
        // terms: bundle.json must come first, see `finish`).
        if self.entries == 0 && !matches!(self.scope, Scope::Bundle { .. }) {
            return Err(Error::malformed(
                "no entries: only the end-of-archive marker (a package has at least its root)",
            ));
        }
        tar.finish()
    }

    fn entry<R: Read>(&mut self, raw: RawEntry, tar: &mut TarReader<R>) -> Result<()> {
        if let Some(out) = &self.out {
            if out.shared.failed() {
                return Err(out.shared.stop());
            }
        }
        self.entries += 1;
        if self.entries > self.max_entries {
            return Err(limit(&raw.name, "entry count", self.max_entries));
        }
        let (path, kind) = classify(&raw)?;
        let entry = |rule: String| Error::policy(path.as_bytes(), rule);
        if path.is_empty() {
            if kind != Kind::Dir {
                return Err(entry("the archive root \".\" must be a directory".into()));
            }
            if self.root_seen {
                return Err(entry("duplicate entry".into()));
            }
            self.root_seen = true;
            return Ok(());
        }
        if self.check_scope(&path, kind, &raw, tar)? {
            return Ok(());
        }
        self.ensure_parents(&path)?;
        let key = self.map_key(&path);
        if let Some(slot) = self.nodes.get_mut(&key) {
            if kind == Kind::Dir && *slot == (Made::Dir { explicit: false }) {
                *slot = Made::Dir { explicit: true };
                return Ok(());
            }
            return Err(entry("duplicate entry".into()));
        }
        let node = match kind {
            Kind::Dir => {
                self.account(&path, 0)?;
                make_dir(&self.staging.join(&path), self.chmod_needed)?;
                Made::Dir { explicit: true }
            }
            Kind::File => {
                self.account(&path, raw.size)?;
                let exec = is_exec(raw.mode);
                // The hash comes from the writer, by job number.
                let job = self.write_file(path, exec, raw.size, tar)?;
                Made::File {
                    exec,
                    size: raw.size,
                    job,
                }
            }
            Kind::Symlink => {
                let target = raw.link.as_deref().unwrap_or_default();
                let target = name::check_link_target(target).map_err(&entry)?;
                self.account(&path, 0)?;
                let full = self.staging.join(&path);
                std::os::unix::fs::symlink(target, &full).with_path("symlink", &full)?;
                Made::Symlink {
                    target: Box::new(target.into()),
                }
            }
            Kind::Hardlink => {
                let (target, node) = self.hardlink_target(&path, raw.link.as_deref())?;
                let size = match node {
                    Made::File { size, .. } => size,
                    _ => 0,
                };
                self.account(&path, size)?;
                // Made once the target exists (`link_hardlinks`).
                self.hardlinks.push((path, target));
                node
            }
        };
        self.nodes.insert_new(key, node);
        Ok(())
    }

    /// With a bundle: decides whether `path` may exist at all, and reads
    /// `bundle.json` when it is the first entry (then returns true: the
    /// entry is fully handled).
    fn check_scope<R: Read>(
        &mut self,
        path: &str,
        kind: Kind,
        raw: &RawEntry,
        tar: &mut TarReader<R>,
    ) -> Result<bool> {
        let Scope::Bundle { manifest, packages } = &mut self.scope else {
            return Ok(false);
        };
        if manifest.is_none() {
            // The first entry: bundle.json, read whole, parsed, checked,
            // handed to the caller's hook, and only then written.
            if path != "bundle.json" || kind != Kind::File {
                return Err(Error::policy(
                    path.as_bytes(),
                    "the first entry of a bundle must be the regular file \"bundle.json\"",
                ));
            }
            if raw.size > MAX_BUNDLE_JSON {
                return Err(limit(path.as_bytes(), "bundle.json size", MAX_BUNDLE_JSON));
            }
            let mut bytes = vec![0u8; raw.size as usize];
            let mut got = 0;
            while got < bytes.len() {
                got += tar.read_data(&mut bytes[got..])?;
            }
            let parsed = parse_bundle(&bytes)?;
            (self.on_bundle)(&parsed).map_err(Error::Rejected)?;
            let declared_files: u64 = parsed.packages.iter().map(|p| p.files).sum();
            let declared_bytes: u64 = parsed.packages.iter().map(|p| p.bytes).sum();
            // bundle.json, packages/, ./ and one directory per package.
            let overhead = 3 + parsed.packages.len() as u64;
            self.max_entries = self
                .max_entries
                .min(declared_files.saturating_add(overhead));
            self.max_bytes = self.max_bytes.min(declared_bytes.saturating_add(raw.size));
            for package in &parsed.packages {
                packages.insert(
                    package.id.to_string(),
                    PackageState {
                        declared: package.clone(),
                        files: 0,
                        bytes: 0,
                    },
                );
            }
            let full = self.staging.join(path);
            write_new(&full, &bytes)?;
            self.bytes += raw.size;
            // Its hash is kept like a writer's, under a job number of its own.
            self.hashes
                .reserve_exact(declared_files.min(1 << 22) as usize);
            let job = self.jobs;
            self.jobs += 1;
            self.hashes.push(*blake3::hash(&bytes).as_bytes());
            self.nodes.insert_new(
                MapKey::flat(path),
                Made::File {
                    exec: false,
                    size: raw.size,
                    job,
                },
            );
            *manifest = Some(parsed);
            return Ok(true);
        }
        let mut parts = path.splitn(3, '/');
        let outside = || {
            Error::policy(
                path.as_bytes(),
                "not inside a package declared in bundle.json",
            )
        };
        match (parts.next(), parts.next(), parts.next()) {
            (Some("packages"), None, None) if kind == Kind::Dir => Ok(false),
            (Some("packages"), Some(id), rest) if packages.contains_key(id) => {
                if rest.is_none() && kind != Kind::Dir {
                    Err(Error::policy(
                        path.as_bytes(),
                        "a package's top directory must be a directory",
                    ))
                } else {
                    Ok(false)
                }
            }
            _ => Err(outside()),
        }
    }

    /// Makes sure every ancestor of `path` is a directory of this archive,
    /// creating missing ones.
    fn ensure_parents(&mut self, path: &str) -> Result<()> {
        let Some(slash) = path.rfind('/') else {
            return Ok(());
        };
        let parent = &path[..slash];
        if self.parents.last().is_some_and(|(open, _)| open == parent) {
            return Ok(());
        }
        // Keep the chain of `parent`'s ancestors: every directory in it was
        // checked (or made) already, so the walk below starts under the
        // innermost one and looks up only the rest (usually none, or new
        // directories).
        while let Some((open, _)) = self.parents.last() {
            if parent == open {
                return Ok(());
            }
            if parent.starts_with(open.as_str()) && parent.as_bytes()[open.len()] == b'/' {
                break;
            }
            self.parents.pop();
        }
        let mut end = self.parents.last().map_or(0, |(open, _)| open.len() + 1);
        loop {
            let next = parent[end..].find('/').map(|i| end + i);
            let ancestor = &parent[..next.unwrap_or(parent.len())];
            let key = MapKey::flat(ancestor);
            match self.nodes.get(&key) {
                Some(Made::Dir { .. }) => {}
                Some(other) => {
                    let what = if matches!(other, Made::Symlink { .. }) {
                        "symlink"
                    } else {
                        "file"
                    };
                    return Err(Error::policy(
                        path.as_bytes(),
                        format!("lies under the {what} {ancestor:?} of this archive"),
                    ));
                }
                None => {
                    self.account(ancestor, 0)?;
                    make_dir(&self.staging.join(ancestor), self.chmod_needed)?;
                    self.nodes.insert_new(key, Made::Dir { explicit: false });
                }
            }
            match next {
                Some(i) => end = i + 1,
                None => break,
            }
        }
        self.parents
            .push((parent.to_string(), Arc::new(sort_key(parent))));
        Ok(())
    }

    /// The map key of `path`, sharing its parent's key when that parent is
    /// the current one (always, right after `ensure_parents`).
    fn map_key(&self, path: &str) -> MapKey {
        match (path.rfind('/'), self.parents.last()) {
            (Some(slash), Some((open, key))) if open == &path[..slash] => {
                MapKey::child(key, &path[slash + 1..])
            }
            _ => MapKey::flat(path),
        }
    }

    /// Counts a new node against the limits of the flags and the manifest.
    /// The manifest's own limits are checked first: their message says
    /// which declaration the stream outgrew.
    fn account(&mut self, path: &str, bytes: u64) -> Result<()> {
        match &mut self.scope {
            Scope::Nothing => {}
            Scope::Package {
                declared,
                files,
                bytes: package_bytes,
            } => {
                *files += 1;
                *package_bytes = package_bytes.saturating_add(bytes);
                if *files > declared.files {
                    return Err(limit(
                        path.as_bytes(),
                        &format!("entry count declared in {}.json", declared.id),
                        declared.files,
                    ));
                }
                if *package_bytes > declared.bytes {
                    return Err(limit(
                        path.as_bytes(),
                        &format!("content size declared in {}.json", declared.id),
                        declared.bytes,
                    ));
                }
            }
            Scope::Bundle { packages, .. } => {
                let mut parts = path.splitn(3, '/');
                if let (Some("packages"), Some(id), Some(_)) =
                    (parts.next(), parts.next(), parts.next())
                {
                    if let Some(state) = packages.get_mut(id) {
                        state.files += 1;
                        state.bytes = state.bytes.saturating_add(bytes);
                        if state.files > state.declared.files {
                            return Err(limit(
                                path.as_bytes(),
                                &format!("entry count of {id} declared in bundle.json"),
                                state.declared.files,
                            ));
                        }
                        if state.bytes > state.declared.bytes {
                            return Err(limit(
                                path.as_bytes(),
                                &format!("content size of {id} declared in bundle.json"),
                                state.declared.bytes,
                            ));
                        }
                    }
                }
            }
        }
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > self.max_bytes {
            return Err(limit(path.as_bytes(), "content size", self.max_bytes));
        }
        Ok(())
    }

    /// Hands the file to a writer: packed into its batch's shared block when
    /// it fits in one block, else its first block now and the rest through a
    /// queue of its own.
    /// Returns the job's number.
    fn write_file<R: Read>(
        &mut self,
        path: String,
        exec: bool,
        size: u64,
        tar: &mut TarReader<R>,
    ) -> Result<u32> {
        let out = self
            .out
            .as_mut()
            .expect("the writers run while the archive is parsed");
        let (dir, name) = match path.rfind('/') {
            Some(slash) => (&path[..slash], &path[slash + 1..]),
            None => ("", path.as_str()),
        };
        let dir = out.dirs.fd(self.staging, dir)?;
        let name = CString::new(name).map_err(|_| Error::policy(path.as_bytes(), "NUL in name"))?;
        let number = self.jobs;
        self.jobs += 1;
        self.hashes.push([0; 32]);
        let mut job = Job {
            dir,
            name,
            path,
            number,
            exec,
            size,
            data: Data::Packed { start: 0, len: 0 },
        };
        if size <= BLOCK as u64 {
            // Packed into the batch's shared block.
            let block = out.jobs.room(size as usize, &mut out.pool, out.shared)?;
            let start = block.len;
            fill(block, size, tar)?;
            job.data = Data::Packed {
                start,
                len: block.len - start,
            };
            out.jobs.push(job, out.shared)?;
        } else {
            let mut first = out.pool.take(out.shared, &mut out.jobs)?;
            fill(&mut first, size, tar)?;
            let mut left = size - first.len as u64;
            let (tx, rest) = writers::file_queue();
            job.data = Data::Own { first, rest };
            out.jobs.push(job, out.shared)?;
            // Its writer must have the job before the rest can flow.
            out.jobs.flush(out.shared)?;
            while left > 0 {
                let mut block = out.pool.take(out.shared, &mut out.jobs)?;
                fill(&mut block, left, tar)?;
                left -= block.len as u64;
                if tx.send(block).is_err() {
                    return Err(out.shared.stop());
                }
            }
        }
        let done: Vec<_> = out.hashes.try_iter().flatten().collect();
        self.take_hashes(done.into_iter());
        Ok(number)
    }

    /// Keeps the hashes the writers reported.
    fn take_hashes(&mut self, done: impl Iterator<Item = (u32, [u8; 32])>) {
        for (job, hash) in done {
            if let Some(slot) = self.hashes.get_mut(job as usize) {
                *slot = hash;
            }
        }
    }

    /// Makes the hardlinks, in archive order, now that every file exists.
    fn link_hardlinks(&mut self) -> Result<()> {
        for (path, target) in std::mem::take(&mut self.hardlinks) {
            let full = self.staging.join(&path);
            fs::hard_link(self.staging.join(&target), &full).with_path("hard link", &full)?;
        }
        Ok(())
    }

    fn hardlink_target(&self, path: &str, link: Option<&[u8]>) -> Result<(String, Made)> {
        let refuse = |rule: String| Error::policy(path.as_bytes(), rule);
        let raw = link.unwrap_or_default();
        let target = name::entry_name(raw)
            .map_err(|rule| refuse(format!("hardlink target {:?}: {rule}", lossy(raw))))?;
        if target.path.is_empty() || target.trailing_slash {
            return Err(refuse(format!(
                "hardlink target {:?} is not a file",
                lossy(raw)
            )));
        }
        if let Scope::Bundle { .. } = self.scope {
            if package_of(path) != package_of(&target.path) {
                return Err(refuse(format!(
                    "hardlink target {:?} is in another package",
                    target.path
                )));
            }
        }
        match self.nodes.get(&MapKey::flat(&target.path)) {
            Some(node @ Made::File { .. }) => Ok((target.path, node.clone())),
            _ => Err(refuse(format!(
                "hardlink target {:?} is not an earlier regular file of this archive",
                target.path
            ))),
        }
    }

    /// The checks and hashes once every entry is known. The whole tree's
    /// hash and the packages' (with the symlink check) are two walks of the
    /// map, made on two threads: this tail runs after the writers are
    /// done, when nothing else keeps the second core busy.
    fn finish(self, container: Container) -> Result<Extracted> {
        let bundle_mode = matches!(self.scope, Scope::Bundle { .. });
        let (nodes, hashes) = (&self.nodes, &self.hashes[..]);
        let (tree, (symlinks, mut hashers)) = std::thread::scope(|scope| {
            let whole = scope.spawn(|| {
                let mut tree = TreeHasher::new();
                walk(nodes, hashes, |path, node| tree.add(path, &node));
                tree.finish()
            });
            let symlinks = self.check_symlinks();
            let mut hashers: BTreeMap<String, TreeHasher> = BTreeMap::new();
            if bundle_mode && symlinks.is_ok() {
                // Entries of one package are contiguous in key order; the
                // map is looked up only when the package changes.
                let mut current: Option<(String, TreeHasher)> = None;
                walk(nodes, hashes, |path, node| {
                    let mut parts = path.splitn(3, '/');
                    let (Some("packages"), Some(id), rest) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        return;
                    };
                    if current.as_ref().is_none_or(|(open, _)| open != id) {
                        if let Some((open, hasher)) = current.take() {
                            hashers.insert(open, hasher);
                        }
                        let hasher = hashers.remove(id).unwrap_or_else(TreeHasher::new);
                        current = Some((id.to_string(), hasher));
                    }
                    if let (Some(rel), Some((_, hasher))) = (rest, current.as_mut()) {
                        hasher.add(rel, &node);
                    }
                });
                if let Some((open, hasher)) = current {
                    hashers.insert(open, hasher);
                }
            }
            let tree = match whole.join() {
                Ok(tree) => tree,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            (tree, (symlinks, hashers))
        });
        symlinks?;
        let mut result = Extracted {
            container,
            tree,
            bundle: None,
            packages: BTreeMap::new(),
            entries: self.entries,
        };
        match self.scope {
            Scope::Nothing => {}
            Scope::Package { declared, .. } => {
                check_digest(&format!("{}.json", declared.id), &declared, &result.tree)?;
            }
            Scope::Bundle { manifest, packages } => {
                let Some(manifest) = manifest else {
                    return Err(Error::Manifest {
                        file: "bundle.json".into(),
                        reason: "the bundle has no entries (bundle.json must come first)".into(),
                    });
                };
                for (id, state) in packages {
                    let digest = hashers.remove(&id).map(TreeHasher::finish).ok_or_else(|| {
                        Error::Integrity {
                            what: format!("bundle.json: package {id}"),
                            expected: state.declared.tree_hash.clone(),
                            actual: "(absent from the archive)".into(),
                        }
                    })?;
                    check_digest(
                        &format!("bundle.json: package {id}"),
                        &state.declared,
                        &digest,
                    )?;
                    result.packages.insert(state.declared.id.clone(), digest);
                }
                result.bundle = Some(manifest);
            }
        }
        Ok(result)
    }

    /// Every symlink must resolve inside its package (the archive root, or
    /// `packages/<id>` in a bundle), following the archive's own symlinks.
    fn check_symlinks(&self) -> Result<()> {
        let depth = match self.scope {
            Scope::Bundle { .. } => 2,
            _ => 0,
        };
        for (key, node) in self.nodes.iter() {
            if let Made::Symlink { target } = node {
                let path = key.path();
                let symlink_at = |path: &str| match self.nodes.get(&MapKey::flat(path)) {
                    Some(Made::Symlink { target }) => Some(target.to_string()),
                    _ => None,
                };
                resolve(&path, &target[..], depth, &symlink_at).map_err(|rule| {
                    Error::policy(path.as_bytes(), format!("symlink target {target:?} {rule}"))
                })?;
            }
        }
        Ok(())
    }
}

/// Calls `each` with the path and tree-hash node of every entry of the
/// map, in order (one path buffer for the whole walk).
fn walk(nodes: &Nodes<MapKey, Made>, hashes: &[[u8; 32]], mut each: impl FnMut(&str, Node)) {
    let mut buf = Vec::new();
    for (key, made) in nodes.iter() {
        key.path_into(&mut buf);
        // Keys are only ever made from validated UTF-8 paths.
        let path = std::str::from_utf8(&buf).unwrap_or_default();
        let node = match made {
            Made::Dir { .. } => Node::Dir,
            Made::File { exec, size, job } => Node::File {
                exec: *exec,
                size: *size,
                hash: hashes.get(*job as usize).copied().unwrap_or_default(),
            },
            Made::Symlink { target } => Node::Symlink {
                target: (**target).clone(),
            },
        };
        each(path, node);
    }
}

/// Resolves the symlink `link -> target` like the kernel would, following
/// the archive's own symlinks (`symlink_at` gives the target of a path that
/// is a symlink of the archive), and refuses it if it climbs above the
/// first `root_depth` components of `link` (the package root).
pub(crate) fn resolve(
    link: &str,
    target: &str,
    root_depth: usize,
    symlink_at: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    // The directory being resolved in, as components; starts at the link's
    // own directory, like the kernel does.
    let mut current: Vec<String> = link.split('/').map(str::to_string).collect();
    current.pop();
    let root_depth = root_depth.min(current.len());
    let mut queue: VecDeque<String> = target.split('/').map(str::to_string).collect();
    let mut hops = 0;
    while let Some(component) = queue.pop_front() {
        match component.as_str() {
            "" | "." => {}
            ".." => {
                if current.len() <= root_depth {
                    return Err("escapes the package".into());
                }
                current.pop();
            }
            name => {
                current.push(name.to_string());
                if let Some(target) = symlink_at(&current.join("/")) {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err("goes through too many levels of symlinks".into());
                    }
                    current.pop();
                    for part in target.rsplit('/') {
                        queue.push_front(part.to_string());
                    }
                }
            }
        }
    }
    Ok(())
}

/// The checks every entry passes whatever the context: its name, its
/// mode bits, its type, and that only directories end in `/` and only
/// files carry data. Returns the validated path ("" for the root).
pub(crate) fn classify(raw: &RawEntry) -> Result<(String, Kind)> {
    let name = name::entry_name(&raw.name).map_err(|rule| Error::policy(&raw.name, rule))?;
    let path = name.path;
    let entry = |rule: String| Error::policy(path.as_bytes(), rule);
    if raw.mode & 0o7000 != 0 {
        return Err(entry(format!(
            "setuid, setgid or sticky bit set (mode {:04o})",
            raw.mode & 0o7777
        )));
    }
    let kind = match raw.kind {
        b'0' | b'\0' => Kind::File,
        b'1' => Kind::Hardlink,
        b'2' => Kind::Symlink,
        b'5' => Kind::Dir,
        b'3' => return Err(entry("character device node".into())),
        b'4' => return Err(entry("block device node".into())),
        b'6' => return Err(entry("FIFO".into())),
        b'S' => return Err(entry("sparse file (GNU type 'S')".into())),
        other => {
            return Err(entry(format!(
                "unsupported entry type {:?}",
                char::from(other)
            )))
        }
    };
    if name.trailing_slash && kind != Kind::Dir {
        return Err(entry(
            "a name ending in \"/\" that is not a directory".into(),
        ));
    }
    if raw.size != 0 && kind != Kind::File {
        return Err(entry(format!(
            "a {} entry that declares {} bytes of data",
            kind.noun(),
            raw.size
        )));
    }
    Ok((path, kind))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Hardlink,
    Symlink,
    Dir,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Hardlink => "hardlink",
            Kind::Symlink => "symlink",
            Kind::Dir => "directory",
        }
    }
}

fn limit(entry: &[u8], what: &str, limit: u64) -> Error {
    Error::Limit {
        entry: lossy(entry),
        what: what.to_string(),
        limit,
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn package_of(path: &str) -> Option<&str> {
    let mut parts = path.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some("packages"), Some(id)) => Some(id),
        _ => None,
    }
}

/// Appends the next bytes of the current entry's data to `block` (up to
/// `left` bytes, as many as fit).
fn fill<R: Read>(block: &mut Block, left: u64, tar: &mut TarReader<R>) -> Result<()> {
    let want = block.len + left.min((BLOCK - block.len) as u64) as usize;
    while block.len < want {
        let n = tar.read_data(&mut block.buf[block.len..want])?;
        if n == 0 {
            break;
        }
        block.len += n;
    }
    Ok(())
}

fn make_dir(full: &Path, chmod_needed: bool) -> Result<()> {
    DirBuilder::new()
        .mode(0o755)
        .create(full)
        .with_path("create directory", full)?;
    if chmod_needed {
        fs::set_permissions(full, fs::Permissions::from_mode(0o755)).with_path("chmod", full)?;
    }
    Ok(())
}

fn write_new(full: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(full)
        .with_path("create", full)?;
    file.write_all(bytes).with_path("write", full)?;
    file.set_permissions(fs::Permissions::from_mode(0o644))
        .with_path("chmod", full)?;
    Ok(())
}

fn parse_bundle(bytes: &[u8]) -> Result<BundleManifest> {
    let bad = |reason: String| Error::Manifest {
        file: "bundle.json".into(),
        reason,
    };
    let manifest: BundleManifest =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not a bundle manifest: {e}")))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(bad(format!(
            "format {} is not supported (expected {MANIFEST_FORMAT})",
            manifest.format
        )));
    }
    let ids: Vec<PackageId> = manifest.packages.iter().map(|p| p.id.clone()).collect();
    let mut seen = std::collections::BTreeSet::new();
    for id in &ids {
        if !seen.insert(id) {
            return Err(bad(format!("package {id} is listed twice")));
        }
    }
    let expected = bootstrap_id(&ids);
    if manifest.bootstrap_id != expected {
        return Err(bad(format!(
            "bootstrap_id {:?} does not match its package list ({expected})",
            manifest.bootstrap_id
        )));
    }
    Ok(manifest)
}

fn check_digest(what: &str, declared: &PackageManifest, actual: &TreeDigest) -> Result<()> {
    if declared.tree_hash != actual.hash
        || declared.files != actual.files
        || declared.bytes != actual.bytes
    {
        return Err(Error::Integrity {
            what: what.to_string(),
            expected: format!(
                "{} ({} entries, {} bytes)",
                declared.tree_hash, declared.files, declared.bytes
            ),
            actual: format!(
                "{} ({} entries, {} bytes)",
                actual.hash, actual.files, actual.bytes
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The map holds one `(MapKey, Made)` per entry (130k for a DC/OS
    /// bundle); the RSS budget counts on these sizes.
    #[test]
    fn map_entries_stay_small() {
        assert_eq!(std::mem::size_of::<Made>(), 16);
        assert_eq!(std::mem::size_of::<MapKey>(), 24);
    }
}
