//! Publishing verified packages on a host: the library behind `host-extract`.
//!
//! Invariant: `<root>/packages/<id>/` exists only as a complete package whose
//! tree hash matched its manifest and, for a bundle, whose bundle matched its
//! pinned blake3. Everything is extracted under `<root>/packages/.staging/`
//! first; nothing is renamed into place until the whole stream was read and
//! verified. After any crash or kill, the next run removes the staging
//! leftovers and carries on; a package is never modified once published.
//!
//! Content that was just downloaded and fails its checks (a manifest that
//! does not parse, an archive the strict extractor refuses, a tree hash or
//! pinned blake3 that does not match) may have been damaged in transit: it
//! is discarded and downloaded again within the retry budget
//! ([`refetching`]); only a failure that persists is reported as invalid
//! (3) or integrity (4). A package already present is never downloaded
//! again: a mismatch there is reported (4) and left as it is.
//!
//! Package pins (`--pin ID=TREEHASH`): a manifest declaring another tree
//! hash is bad content from the mirror that served it; each fresh download
//! after bad content starts at the next mirror, so a mirror that serves
//! another package consistently is passed over.
//!
//! Beside the packages, `.manifests/<id>.json` keeps the manifest each
//! package was verified against (written before the package is renamed into
//! place) and `.bundles/<blake3>.json` the `bundle.json` of every bundle
//! fully published, so a second run verifies what is present without
//! downloading anything.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use tarmac_fs::{HostLock, LockWait};
use tarmac_model::{BundleManifest, PackageId, PackageManifest, Reporter};

use crate::retry::{backoff, Random};
use crate::{Download, Error, FetchOptions, Source};

/// Largest manifest sidecar read into memory.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Where things live on the host; every path derives from `--root`.
#[derive(Debug, Clone)]
pub struct HostPaths {
    pub root: PathBuf,
}

impl HostPaths {
    pub fn new(root: impl Into<PathBuf>) -> HostPaths {
        HostPaths { root: root.into() }
    }
    pub fn packages(&self) -> PathBuf {
        self.root.join("packages")
    }
    pub fn package(&self, id: &PackageId) -> PathBuf {
        self.packages().join(id.to_string())
    }
    pub fn staging(&self) -> PathBuf {
        self.packages().join(".staging")
    }
    pub fn manifests(&self) -> PathBuf {
        self.packages().join(".manifests")
    }
    pub fn bundles(&self) -> PathBuf {
        self.packages().join(".bundles")
    }
    pub fn lock(&self) -> PathBuf {
        self.root.join(".lock")
    }
}

/// Everything about a run that is not the artifact itself.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: HostPaths,
    pub fetch: FetchOptions,
    pub wait: LockWait,
    /// Free bytes that must remain after extraction.
    pub reserve_bytes: u64,
    /// Free inodes that must remain after extraction.
    pub reserve_inodes: u64,
}

/// `--url ... --blake3 HEX`: one bundle from a list of mirrors.
#[derive(Debug, Clone)]
pub struct BundleRequest {
    pub mirrors: Vec<Source>,
    /// 64 lowercase hex digits.
    pub blake3: String,
}

/// `--repository URL --package ID...`: single packages from a repository.
#[derive(Debug, Clone)]
pub struct PackagesRequest {
    /// Repository roots, tried as mirrors.
    pub repositories: Vec<Source>,
    pub ids: Vec<PackageId>,
    /// `--pin ID=TREEHASH`: the tree hash a package's manifest must declare,
    /// whichever mirror serves it (and a present package's local manifest).
    pub pins: BTreeMap<PackageId, String>,
}

impl PackagesRequest {
    /// The request with its repositories rotated left by `turn`: the
    /// `turn`-th fresh download after damaged content starts at the next
    /// mirror, so one mirror serving bad content consistently (a rewritten
    /// manifest) does not get every attempt.
    fn rotated(&self, turn: usize) -> PackagesRequest {
        let mut request = self.clone();
        if !request.repositories.is_empty() {
            let n = turn % request.repositories.len();
            request.repositories.rotate_left(n);
        }
        request
    }
}

/// What a run left on the host (`--json` output of host-extract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Always "host-extract/1".
    pub format: &'static str,
    /// Every requested package, now present and verified, sorted.
    pub packages: Vec<PackageId>,
    /// The subset downloaded and published by this run.
    pub fetched: Vec<PackageId>,
    /// The subset that was already present and verified by its tree hash.
    pub present: Vec<PackageId>,
    /// Bytes read from the network (or files) by this run.
    pub downloaded_bytes: u64,
}

/// Gets a pinned bundle onto the host.
pub fn extract_bundle(
    settings: &Settings,
    request: &BundleRequest,
    reporter: &dyn Reporter,
) -> Result<Outcome, Error> {
    let host = &settings.host;
    let _lock = lock(settings)?;
    reset_staging(host)?;

    // A bundle published before: verify what it put here, download nothing.
    let record = host.bundles().join(format!("{}.json", request.blake3));
    if record.exists() {
        let bytes = tarmac_fs::read(&record)?;
        let manifest =
            BundleManifest::parse(&record.display().to_string(), &bytes).map_err(|e| {
                Error::Manifest {
                    url: record.display().to_string(),
                    reason: e.to_string(),
                }
            })?;
        if manifest
            .packages
            .iter()
            .all(|p| host.package(&p.id).is_dir())
        {
            reporter.step("verify");
            for package in &manifest.packages {
                verify_present(host, package)?;
            }
            reporter.finish_step();
            let ids = manifest.packages.iter().map(|p| p.id.clone()).collect();
            return Ok(outcome(ids, Vec::new(), 0));
        }
    }

    let space = free_space(&host.packages(), settings)?;
    let staging = host.staging();
    let preflight = |manifest: &BundleManifest| {
        let (bytes, files) = missing_totals(host, &manifest.packages);
        check_space(&host.packages(), bytes, files, settings)
    };
    // Only a blake3 mismatch (or content that changed between attempts)
    // can be damage in transit here: an archive error is reported only
    // after the raw bytes matched the pin (extract_stream), so it is what
    // the pinned bundle really holds and another download cannot fix it.
    let damaged =
        |error: &Error| matches!(error, Error::Checksum { .. } | Error::ContentChanged { .. });
    // Each fresh download starts at the next mirror: one that serves
    // another bundle consistently does not get every attempt.
    let mut turn = 0;
    let (manifest, fetched) = refetching(settings, &request.mirrors, reporter, damaged, || {
        reporter.step("download");
        let mut mirrors = request.mirrors.clone();
        let first = turn % mirrors.len().max(1);
        mirrors.rotate_left(first);
        turn += 1;
        let mut download = Download::open(mirrors, &settings.fetch, reporter)?;
        let extracted = extract_stream(
            &mut download,
            &staging,
            Limits::Bundle(&preflight, space),
            Some(&request.blake3),
        );
        let result = extracted.and_then(|manifest| {
            let fetched = download.finish()?;
            if fetched.blake3 != request.blake3 {
                return Err(Error::Checksum {
                    url: fetched.url,
                    expected: request.blake3.clone(),
                    actual: fetched.blake3,
                });
            }
            Ok((manifest.expect("bundle mode returns bundle.json"), fetched))
        });
        reporter.finish_step();
        if result.is_err() {
            let _ = tarmac_fs::remove_all(&staging);
        }
        result
    })?;
    let mut new = Vec::new();
    for package in &manifest.packages {
        if host.package(&package.id).is_dir() {
            if let Err(error) = verify_present(host, package) {
                let _ = tarmac_fs::remove_all(&staging);
                return Err(error);
            }
        } else {
            new.push(package.clone());
        }
    }
    let staged: Vec<(PackageManifest, PathBuf)> = new
        .iter()
        .map(|p| (p.clone(), staging.join("packages").join(p.id.to_string())))
        .collect();
    if let Err(error) = publish(host, &staged) {
        let _ = tarmac_fs::remove_all(&staging);
        return Err(error);
    }
    tarmac_fs::create_dir_all(&host.bundles())?;
    // Recorded in canonical (sorted) form, which BundleManifest::parse
    // requires; the extractor accepts any order.
    let sorted = BundleManifest::new(manifest.packages.clone());
    let text = serde_json::to_string_pretty(&sorted.to_json()).expect("json");
    tarmac_fs::write_atomic(&record, text.as_bytes())?;
    tarmac_fs::remove_all(&staging)?;
    Ok(outcome(
        manifest.packages.iter().map(|p| p.id.clone()).collect(),
        new.into_iter().map(|p| p.id).collect(),
        fetched.bytes,
    ))
}

/// Gets single packages from a repository, only those not present.
pub fn extract_packages(
    settings: &Settings,
    request: &PackagesRequest,
    reporter: &dyn Reporter,
) -> Result<Outcome, Error> {
    let host = &settings.host;
    let _lock = lock(settings)?;
    reset_staging(host)?;
    let ids: BTreeSet<PackageId> = request.ids.iter().cloned().collect();
    let mut downloaded = 0u64;
    let mut wanted = Vec::new();
    // Per wanted package, the rotation of the repositories whose manifest
    // passed: its archive is asked from the same mirror first.
    let mut turns = Vec::new();
    for id in &ids {
        if host.package(id).is_dir() {
            let manifest = match read_local_manifest(host, id)? {
                Some(manifest) => {
                    let path = host.manifests().join(format!("{id}.json"));
                    check_pin(request, &manifest, &path.display().to_string())?;
                    manifest
                }
                None => {
                    let (manifest, bytes, _) = fetch_manifest(request, id, settings, reporter)?;
                    downloaded += bytes;
                    manifest
                }
            };
            verify_present(host, &manifest)?;
        } else {
            let (manifest, bytes, turn) = fetch_manifest(request, id, settings, reporter)?;
            downloaded += bytes;
            wanted.push(manifest);
            turns.push(turn);
        }
    }
    let bytes: u64 = wanted.iter().map(|m| m.bytes).sum();
    let files: u64 = wanted.iter().map(|m| m.files).sum();
    check_space(&host.packages(), bytes, files, settings)?;

    let staging = host.staging();
    tarmac_fs::create_dir_all(&staging)?;
    let mut staged = Vec::new();
    for (manifest, start) in wanted.iter_mut().zip(turns) {
        let dir = staging.join(manifest.id.to_string());
        let sources = archive_sources(request, &manifest.id);
        // Set when the archive disagreed with its manifest: either of the
        // two may have been damaged, so both are downloaded again.
        let mut stale = false;
        let mut turn = start;
        let result = refetching(settings, &sources, reporter, damaged_package, || {
            let request = request.rotated(turn);
            turn += 1;
            if stale {
                let (fresh, bytes) =
                    fetch_manifest_once(&request, &manifest.id, settings, reporter)?;
                downloaded += bytes;
                *manifest = fresh;
                stale = false;
            }
            let result = fetch_package(&request, &*manifest, &dir, settings, reporter);
            if let Err(error) = &result {
                let _ = tarmac_fs::remove_all(&dir);
                stale = disagrees_with_manifest(error);
            }
            result
        });
        match result {
            Ok(bytes) => downloaded += bytes,
            Err(error) => {
                let _ = tarmac_fs::remove_all(&staging);
                return Err(error);
            }
        }
        staged.push((manifest.clone(), dir));
    }
    if let Err(error) = publish(host, &staged) {
        let _ = tarmac_fs::remove_all(&staging);
        return Err(error);
    }
    tarmac_fs::remove_all(&staging)?;
    let fetched: Vec<PackageId> = wanted.into_iter().map(|m| m.id).collect();
    Ok(outcome(ids.into_iter().collect(), fetched, downloaded))
}

fn outcome(mut packages: Vec<PackageId>, mut fetched: Vec<PackageId>, bytes: u64) -> Outcome {
    packages.sort();
    fetched.sort();
    let present = packages
        .iter()
        .filter(|id| !fetched.contains(id))
        .cloned()
        .collect();
    Outcome {
        format: "host-extract/1",
        packages,
        fetched,
        present,
        downloaded_bytes: bytes,
    }
}

fn lock(settings: &Settings) -> Result<HostLock, Error> {
    Ok(HostLock::acquire(&settings.host.lock(), settings.wait)?)
}

/// Removes what an interrupted run left in staging.
fn reset_staging(host: &HostPaths) -> Result<(), Error> {
    tarmac_fs::remove_all(&host.staging())?;
    tarmac_fs::create_dir_all(&host.packages())?;
    Ok(())
}

/// `packages/<name>/<id>.tar.zst` under a repository.
fn archive_sources(request: &PackagesRequest, id: &PackageId) -> Vec<Source> {
    let path = format!("packages/{}/{id}.tar.zst", id.name());
    request.repositories.iter().map(|r| r.join(&path)).collect()
}

fn manifest_sources(request: &PackagesRequest, id: &PackageId) -> Vec<Source> {
    let path = format!("packages/{}/{id}.json", id.name());
    request.repositories.iter().map(|r| r.join(&path)).collect()
}

/// Downloads and checks a package's `<id>.json` sidecar, downloading it
/// again while it arrives damaged (see [`refetching`]); also returns the
/// rotation of the repositories it came from.
fn fetch_manifest(
    request: &PackagesRequest,
    id: &PackageId,
    settings: &Settings,
    reporter: &dyn Reporter,
) -> Result<(PackageManifest, u64, usize), Error> {
    let sources = manifest_sources(request, id);
    let mut turn = 0;
    // Manifests other than the pinned one, and the URLs that served them:
    // once the downloads starting at each mirror in turn all did, asking
    // again cannot help (a manifest that parses, names the id and declares
    // another valid tree hash is no damage in transit; a mirror that is
    // down is skipped within a download).
    let mut unpinned = BTreeSet::new();
    let mut pin_failures = 0;
    refetching(settings, &sources, reporter, damaged_package, || {
        turn += 1;
        match fetch_manifest_once(&request.rotated(turn - 1), id, settings, reporter) {
            Ok((manifest, bytes)) => Ok((manifest, bytes, turn - 1)),
            Err(error @ Error::Pin { .. }) => {
                if let Error::Pin { url, .. } = &error {
                    unpinned.insert(url.clone());
                }
                pin_failures += 1;
                if pin_failures < sources.len() {
                    return Err(error);
                }
                Err(Error::Repeated {
                    attempts: turn as u32,
                    urls: unpinned.iter().cloned().collect::<Vec<_>>().join(", "),
                    last: Box::new(error),
                })
            }
            Err(error) => Err(error),
        }
    })
}

/// One download and check of a package's `<id>.json` sidecar.
fn fetch_manifest_once(
    request: &PackagesRequest,
    id: &PackageId,
    settings: &Settings,
    reporter: &dyn Reporter,
) -> Result<(PackageManifest, u64), Error> {
    reporter.step(&format!("manifest {id}"));
    let mut download = Download::open(manifest_sources(request, id), &settings.fetch, reporter)?;
    let url = download.url();
    let mut bytes = Vec::new();
    if (&mut download)
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return Err(download.take_error().unwrap_or(Error::Read {
            url,
            reason: "reading the manifest failed".into(),
        }));
    }
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(Error::Manifest {
            url,
            reason: format!("larger than {MAX_MANIFEST_BYTES} bytes"),
        });
    }
    let fetched = download.finish()?;
    reporter.finish_step();
    let manifest = PackageManifest::parse(&fetched.url, &bytes).map_err(|e| Error::Manifest {
        url: fetched.url.clone(),
        reason: e.to_string(),
    })?;
    if &manifest.id != id {
        return Err(Error::Manifest {
            url: fetched.url,
            reason: format!("declares id {} instead of {id}", manifest.id),
        });
    }
    check_pin(request, &manifest, &fetched.url)?;
    Ok((manifest, fetched.bytes))
}

/// A package's manifest must declare the tree hash pinned for its id (if
/// one is): else `url` served another package under that id.
fn check_pin(
    request: &PackagesRequest,
    manifest: &PackageManifest,
    url: &str,
) -> Result<(), Error> {
    match request.pins.get(&manifest.id) {
        Some(pin) if *pin != manifest.tree_hash => Err(Error::Pin {
            url: url.to_string(),
            id: manifest.id.to_string(),
            expected: pin.clone(),
            actual: manifest.tree_hash.clone(),
        }),
        _ => Ok(()),
    }
}

/// Streams one package archive into `dir` and checks its tree hash.
fn fetch_package(
    request: &PackagesRequest,
    manifest: &PackageManifest,
    dir: &Path,
    settings: &Settings,
    reporter: &dyn Reporter,
) -> Result<u64, Error> {
    reporter.step(&format!("download {}", manifest.id));
    let mut download = Download::open(
        archive_sources(request, &manifest.id),
        &settings.fetch,
        reporter,
    )?;
    extract_stream(&mut download, dir, Limits::Package(manifest), None)?;
    let fetched = download.finish()?;
    reporter.finish_step();
    Ok(fetched.bytes)
}

/// Runs `attempt` (one download and the checks of what it delivered) again
/// while it fails in a way `damaged` says a fresh download may fix: bytes
/// that arrived complete but wrong (a flipped byte, a body cut short yet
/// announced as whole) are indistinguishable from a bad artifact until the
/// same failure comes back. The attempt must leave nothing behind when it
/// fails (staging removed). The budget and the waits are the download's
/// own: at most `--retries` more attempts, full-jitter backoff, within
/// `--total-timeout`. Local files are read once each (reading them again
/// gives the same bytes; with several, the callers' rotation reads each). When the budget is spent the last error keeps its class
/// (3 invalid, 4 integrity) inside [`Error::Repeated`], which says how
/// many times and from where.
fn refetching<T>(
    settings: &Settings,
    sources: &[Source],
    reporter: &dyn Reporter,
    damaged: impl Fn(&Error) -> bool,
    mut attempt: impl FnMut() -> Result<T, Error>,
) -> Result<T, Error> {
    let options = &settings.fetch;
    let remote = sources.iter().any(|s| matches!(s, Source::Http(_)));
    let deadline = Instant::now() + options.total_timeout;
    let mut random = Random::new();
    let mut failures = 0u32;
    let mut urls = BTreeSet::new();
    loop {
        let error = match attempt() {
            Ok(value) => return Ok(value),
            Err(error) if damaged(&error) => error,
            Err(error) => return Err(error),
        };
        failures += 1;
        if let Some(url) = content_url(&error) {
            urls.insert(url.to_string());
        }
        let wait = backoff(options, failures, &mut random);
        let out_of_time = Instant::now() + wait >= deadline;
        // Local sources: each is read once (the callers rotate the list).
        let local_done = !remote && failures as usize >= sources.len();
        if local_done || failures > options.retries || out_of_time {
            if failures == 1 {
                return Err(error);
            }
            return Err(Error::Repeated {
                attempts: failures,
                urls: urls.into_iter().collect::<Vec<_>>().join(", "),
                last: Box::new(error),
            });
        }
        reporter.note(&format!(
            "{error}; downloading again in {} ms",
            wait.as_millis()
        ));
        std::thread::sleep(wait);
    }
}

/// What a fresh download of a package archive or manifest may fix: the
/// manifest did not parse (or named another id), or the archive broke the
/// extraction policy, was malformed, outgrew its manifest or did not match
/// its tree hash. Not: network errors after their own retries, space,
/// filesystem errors.
fn damaged_package(error: &Error) -> bool {
    match error {
        Error::Manifest { .. }
        | Error::Checksum { .. }
        | Error::ContentChanged { .. }
        | Error::Pin { .. } => true,
        Error::Archive { source, .. } => matches!(
            source.class(),
            tarmac_model::ExitClass::Invalid | tarmac_model::ExitClass::Integrity
        ),
        _ => false,
    }
}

/// An archive failure that compares the archive with its manifest (tree
/// hash, declared size or file count): the manifest may be the damaged one.
fn disagrees_with_manifest(error: &Error) -> bool {
    matches!(
        error,
        Error::Archive {
            source: tarmac_archive::Error::Integrity { .. }
                | tarmac_archive::Error::Limit { .. }
                | tarmac_archive::Error::Manifest { .. },
            ..
        }
    )
}

/// The URL a content failure names.
fn content_url(error: &Error) -> Option<&str> {
    match error {
        Error::Manifest { url, .. }
        | Error::Pin { url, .. }
        | Error::Checksum { url, .. }
        | Error::ContentChanged { url, .. }
        | Error::Archive { url, .. } => Some(url),
        _ => None,
    }
}

fn read_local_manifest(host: &HostPaths, id: &PackageId) -> Result<Option<PackageManifest>, Error> {
    let path = host.manifests().join(format!("{id}.json"));
    if !path.exists() {
        return Ok(None);
    }
    let bytes = tarmac_fs::read(&path)?;
    PackageManifest::parse(&path.display().to_string(), &bytes)
        .map(Some)
        .map_err(|e| Error::Manifest {
            url: path.display().to_string(),
            reason: e.to_string(),
        })
}

/// A package already on the host must still be exactly what its manifest says.
fn verify_present(host: &HostPaths, manifest: &PackageManifest) -> Result<(), Error> {
    let dir = host.package(&manifest.id);
    let digest = tarmac_archive::tree_hash(&dir).map_err(|source| Error::Archive {
        url: dir.display().to_string(),
        source,
    })?;
    if digest.hash != manifest.tree_hash {
        return Err(Error::Tampered {
            path: dir,
            expected: manifest.tree_hash.clone(),
            actual: digest.hash,
        });
    }
    Ok(())
}

/// Declared totals of the packages not yet on the host.
fn missing_totals(host: &HostPaths, packages: &[PackageManifest]) -> (u64, u64) {
    packages
        .iter()
        .filter(|p| !host.package(&p.id).is_dir())
        .fold((0, 0), |(bytes, files), p| {
            (bytes + p.bytes, files + p.files)
        })
}

/// What may still be written under `dir` keeping the reserve free: the
/// backstop limits of a bundle extraction, whatever bundle.json declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Space {
    bytes: u64,
    entries: u64,
}

fn statvfs(dir: &Path) -> Result<nix::sys::statvfs::Statvfs, Error> {
    nix::sys::statvfs::statvfs(dir).map_err(|e| {
        Error::Fs(tarmac_fs::FsError::new(
            "statvfs",
            dir,
            std::io::Error::from_raw_os_error(e as i32),
        ))
    })
}

// fsblkcnt_t and friends are 32-bit on some targets: keep the casts.
#[allow(clippy::unnecessary_cast)]
fn free_space(dir: &Path, settings: &Settings) -> Result<Space, Error> {
    let stat = statvfs(dir)?;
    let block = (stat.fragment_size() as u64).max(1);
    let bytes = (stat.blocks_available() as u64 * block).saturating_sub(settings.reserve_bytes);
    let entries = if stat.files() > 0 {
        (stat.files_available() as u64).saturating_sub(settings.reserve_inodes)
    } else {
        u64::MAX
    };
    Ok(Space { bytes, entries })
}

/// Refuses (exit 6) before writing when the declared content plus the
/// reserve does not fit. Bytes are counted in whole blocks per file, since
/// a 1-byte file costs a block.
#[allow(clippy::unnecessary_cast)]
fn check_space(dir: &Path, bytes: u64, files: u64, settings: &Settings) -> Result<(), Error> {
    let stat = nix::sys::statvfs::statvfs(dir).map_err(|e| {
        Error::Fs(tarmac_fs::FsError::new(
            "statvfs",
            dir,
            std::io::Error::from_raw_os_error(e as i32),
        ))
    })?;
    let block = (stat.fragment_size() as u64).max(1);
    let free_bytes = stat.blocks_available() as u64 * block;
    let free_inodes = stat.files_available() as u64;
    let need_bytes = bytes + files * block + settings.reserve_bytes;
    // Filesystems without an inode limit (btrfs, some tmpfs) report 0 files.
    let inode_limited = stat.files() > 0;
    let need_inodes = files + settings.reserve_inodes;
    if need_bytes > free_bytes || (inode_limited && need_inodes > free_inodes) {
        return Err(Error::NoSpace {
            path: dir.to_path_buf(),
            need_bytes,
            free_bytes,
            need_inodes,
            free_inodes,
        });
    }
    Ok(())
}

/// Records each manifest, makes staging and the manifests durable with ONE
/// syncfs (never an fsync per file: 120k files would take a minute), then
/// renames each package into place and fsyncs `packages/`. A package is
/// only ever renamed after its manifest is durable; a crash in between
/// leaves only complete packages published, and the next run fetches the
/// rest.
fn publish(host: &HostPaths, staged: &[(PackageManifest, PathBuf)]) -> Result<(), Error> {
    use tarmac_fs::Context;
    if staged.is_empty() {
        return Ok(());
    }
    let packages = host.packages();
    let manifests = host.manifests();
    tarmac_fs::create_dir_all(&manifests)?;
    for (manifest, _) in staged {
        let text = serde_json::to_string_pretty(&manifest.to_json()).expect("json");
        let path = manifests.join(format!("{}.json", manifest.id));
        let temp = manifests.join(format!(".{}.json.tmp", manifest.id));
        std::fs::write(&temp, text.as_bytes()).with_path("write", &temp)?;
        tarmac_fs::rename(&temp, &path)?;
    }
    tarmac_fs::syncfs(&packages)?;
    for (manifest, dir) in staged {
        tarmac_fs::rename(dir, &host.package(&manifest.id))?;
    }
    tarmac_fs::fsync_dir(&packages)?;
    Ok(())
}

/// The space check run on bundle.json before any package is written.
type Preflight<'a> = dyn Fn(&BundleManifest) -> Result<(), Error> + Sync + 'a;

/// What the stream must contain.
enum Limits<'a> {
    /// A bundle; the closure is the space preflight run on bundle.json, and
    /// the space the backstop limits of the extractor.
    Bundle(&'a Preflight<'a>, Space),
    /// One package with its sidecar manifest.
    Package(&'a PackageManifest),
}

/// Extracts the download into `staging` (which must not exist) with the
/// archive crate's strict extractor, and names the true cause of a failure:
/// our own network error, the preflight, a pinned-hash mismatch (a corrupt
/// byte usually breaks the archive first, but it is an integrity failure),
/// or the archive's policy.
fn extract_stream(
    download: &mut Download<'_>,
    staging: &Path,
    limits: Limits<'_>,
    pin: Option<&str>,
) -> Result<Option<BundleManifest>, Error> {
    let defaults = tarmac_archive::ExtractOptions::default();
    let (options, preflight, space) = match limits {
        Limits::Bundle(check, space) => (
            tarmac_archive::ExtractOptions {
                expect: tarmac_archive::Expect::Bundle,
                max_bytes: space.bytes,
                max_entries: defaults.max_entries.min(space.entries),
            },
            Some(check),
            Some(space),
        ),
        Limits::Package(manifest) => (
            tarmac_archive::ExtractOptions {
                expect: tarmac_archive::Expect::Package(manifest.clone()),
                ..defaults
            },
            None,
            None,
        ),
    };
    // The space preflight runs in the extractor's hook, on the parsed
    // bundle.json and before anything of the bundle is written; its own
    // error (exit 6, with the numbers) is kept to report as is.
    let mut refused: Option<Error> = None;
    let mut on_bundle = |manifest: &BundleManifest| match preflight {
        Some(check) => check(manifest).map_err(|error| {
            let rejected = tarmac_archive::Rejected {
                class: error.class(),
                reason: error.to_string(),
            };
            refused = Some(error);
            rejected
        }),
        None => Ok(()),
    };
    let result = tarmac_archive::extract_with(&mut *download, staging, &options, &mut on_bundle);
    match result {
        Ok(extracted) => Ok(extracted.bundle),
        Err(source) => {
            if let Some(error) = refused.take() {
                return Err(error);
            }
            if let Some(error) = download.take_error() {
                return Err(error);
            }
            if let Some(pin) = pin {
                // Read the rest so the verdict is about the bytes, not
                // about where the archive broke.
                let fetched = download.finish()?;
                if fetched.blake3 != pin {
                    return Err(Error::Checksum {
                        url: fetched.url,
                        expected: pin.to_string(),
                        actual: fetched.blake3,
                    });
                }
            }
            // The backstop: the stream outgrew the free space (less the
            // reserve) before the preflight saw bundle.json.
            if let (Some(space), tarmac_archive::Error::Limit { limit, what, .. }) =
                (space, &source)
            {
                if (what == "content size" && *limit == space.bytes)
                    || (what == "entry count" && *limit == space.entries)
                {
                    return Err(Error::OutOfSpace {
                        path: staging.to_path_buf(),
                        what: what.clone(),
                        limit: *limit,
                    });
                }
            }
            Err(Error::Archive {
                url: download.url(),
                source,
            })
        }
    }
}
