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
//! does not parse, an archive the strict extractor refuses as corrupt, a
//! tree hash or pinned blake3 that does not match) was served by a bad
//! mirror: that mirror is dropped for the run and the file starts again at
//! once on the next one ([`refetching`]); exit 4 only when every mirror
//! served bad content. A body that ended early (the archive or manifest
//! stops mid-way) is transient: downloaded again from the next mirror,
//! never 4. A package already present is never downloaded again: a
//! mismatch there is reported (4) and left as it is.
//!
//! Package pins (`--pin ID=TREEHASH`): a manifest declaring another tree
//! hash is bad content from the mirror that served it (dropped for the run
//! like any other); a present package whose recorded manifest disagrees
//! with its pin is exit 4.
//!
//! Package files (`--package-file`, [`extract_file`]): one archive built
//! elsewhere, from local files, checked against its manifest (the sidecar
//! by default) by the same extractor and published by the same
//! `publish`; a local file is not a mirror, so bad content is reported
//! at once (3 corrupt, 4 not matching its manifest), never retried.
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
use tarmac_model::layout::{self, repository};
use tarmac_model::{BundleManifest, PackageId, PackageManifest, Reporter};

use crate::retry::{backoff, Random};
use crate::{Download, Error, FetchOptions, Run, Source};

/// Largest manifest sidecar read into memory.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Where things live on the host; every path derives from `--root` through
/// `tarmac_model::layout::host`.
#[derive(Debug, Clone)]
pub struct HostPaths {
    pub root: PathBuf,
}

impl HostPaths {
    pub fn new(root: impl Into<PathBuf>) -> HostPaths {
        HostPaths { root: root.into() }
    }
    pub fn packages(&self) -> PathBuf {
        layout::host::packages(&self.root)
    }
    pub fn package(&self, id: &PackageId) -> PathBuf {
        layout::host::package(&self.root, &id.to_string())
    }
    pub fn staging(&self) -> PathBuf {
        layout::host::staging(&self.root)
    }
    pub fn manifests(&self) -> PathBuf {
        layout::host::manifests(&self.root)
    }
    /// `.manifests/<id>.json`: the manifest `id` was verified against.
    pub fn manifest(&self, id: &PackageId) -> PathBuf {
        layout::host::manifest(&self.root, &id.to_string())
    }
    pub fn bundles(&self) -> PathBuf {
        layout::host::bundles(&self.root)
    }
    /// `.bundles/<blake3>.json`: the `bundle.json` of a published bundle.
    pub fn bundle_record(&self, blake3: &str) -> PathBuf {
        layout::host::bundle_record(&self.root, blake3)
    }
    pub fn lock(&self) -> PathBuf {
        layout::host::lock(&self.root)
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
    /// Package mode: fetch a delta instead of the archive when the host has
    /// an older version ([`crate::delta`]).
    pub delta: bool,
    /// Largest window (bytes) a delta may declare.
    pub max_delta_window: u64,
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
    /// whichever mirror serves it.
    pub pins: BTreeMap<PackageId, String>,
}

/// `--package-file PKG.tar.zst [--manifest ID.json]`: one package built
/// elsewhere (pkg-build on any machine), from local files.
#[derive(Debug, Clone)]
pub struct FileRequest {
    /// The package archive.
    pub archive: PathBuf,
    /// Its `<id>.json` manifest; `None`: the sidecar beside the archive
    /// (`<dir>/<id>.tar.zst` -> `<dir>/<id>.json`, as pkg-build writes them).
    pub manifest: Option<PathBuf>,
}

impl FileRequest {
    /// The manifest to read: `--manifest`, else the archive's sidecar.
    pub fn manifest_path(&self) -> Result<PathBuf, Error> {
        if let Some(path) = &self.manifest {
            return Ok(path.clone());
        }
        match repository::manifest_beside(&self.archive) {
            Some(path) => Ok(path),
            None => Err(Error::Manifest {
                url: self.archive.display().to_string(),
                reason: "the name does not end with .tar.zst, so there is no sidecar \
                         <id>.json to find: pass --manifest FILE"
                    .into(),
            }),
        }
    }
}

/// What a run left on the host (`--json` output of host-extract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The document's format: 1 (it was the string "host-extract/1" before
    /// every tool's `--json` got a numeric `format`).
    pub format: u32,
    /// Every requested package, now present and verified, sorted.
    pub packages: Vec<PackageId>,
    /// The subset downloaded and published by this run.
    pub fetched: Vec<PackageId>,
    /// The subset that was already present and verified by its tree hash.
    pub present: Vec<PackageId>,
    /// Bytes read from the network (or files) by this run.
    pub downloaded_bytes: u64,
    /// The subset of `fetched` installed from a delta against an older
    /// version already on the host (package mode).
    pub deltas: Vec<PackageId>,
    /// Each delta that was tried and failed (`"<id>: <reason>"`); those
    /// packages were fetched whole.
    pub delta_failures: Vec<String>,
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
    let record = host.bundle_record(&request.blake3);
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
    let run = Run::new(
        request.mirrors.iter().map(|m| m.to_string()).collect(),
        &settings.fetch,
    );
    let (manifest, fetched) = refetching(&run, reporter, true, || {
        reporter.step("download");
        let mut download = Download::open(request.mirrors.clone(), &run, reporter)?;
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
        .map(|p| {
            (
                p.clone(),
                layout::host::package(&staging, &p.id.to_string()),
            )
        })
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
    let run = Run::new(
        request.repositories.iter().map(|r| r.to_string()).collect(),
        &settings.fetch,
    );
    let run = &run;
    let mut downloaded = 0u64;
    let mut wanted = Vec::new();
    for id in &ids {
        if host.package(id).is_dir() {
            let manifest = match read_local_manifest(host, id)? {
                Some(manifest) => {
                    let path = host.manifest(id);
                    check_pin(request, &manifest, &path.display().to_string())?;
                    manifest
                }
                None => {
                    let (manifest, bytes, _) = fetch_manifest(request, id, run, reporter)?;
                    downloaded += bytes;
                    manifest
                }
            };
            verify_present(host, &manifest)?;
        } else {
            let (manifest, bytes, from) = fetch_manifest(request, id, run, reporter)?;
            downloaded += bytes;
            wanted.push((manifest, from));
        }
    }
    let bytes: u64 = wanted.iter().map(|(m, _)| m.bytes).sum();
    let files: u64 = wanted.iter().map(|(m, _)| m.files).sum();
    check_space(&host.packages(), bytes, files, settings)?;

    let staging = host.staging();
    tarmac_fs::create_dir_all(&staging)?;
    let mut staged = Vec::new();
    let mut from_delta = Vec::new();
    let mut remaining = wanted.len() as u32;
    let mut delta_failures = Vec::new();
    for (manifest, from) in &mut wanted {
        let dir = staging.join(manifest.id.to_string());
        // A delta costs two requests (its index and itself) and one more
        // if it fails; tried only while the budget keeps one request for
        // the archive of every package still to come, so deltas never
        // make a run fail for budget where archives alone would not.
        remaining -= 1;
        let budget = run.options().max_requests;
        if settings.delta && run.requests() + 3 + remaining > budget {
            reporter.note(&format!(
                "{}: the request budget (--max-requests {budget}) leaves no room for a delta; fetching the archive",
                manifest.id
            ));
        } else if settings.delta {
            match crate::delta::install(
                settings,
                &request.repositories,
                manifest,
                &dir,
                run,
                reporter,
            ) {
                Ok(Some(bytes)) => {
                    downloaded += bytes;
                    from_delta.push(manifest.id.clone());
                    staged.push((manifest.clone(), dir));
                    continue;
                }
                Ok(None) => {}
                Err(reason) => {
                    let _ = tarmac_fs::remove_all(&dir);
                    reporter.note(&format!(
                        "{}: {reason}; fetching the whole archive instead",
                        manifest.id
                    ));
                    delta_failures.push(format!("{}: {reason}", manifest.id));
                }
            }
        }
        // Set when the archive disagreed with its manifest: either of the
        // two may be the bad one, so both are downloaded again, and the
        // mirrors of both share the blame.
        let mut stale = false;
        let result = refetching(run, reporter, false, || {
            if stale {
                let (fresh, bytes) = fetch_manifest_once(request, &manifest.id, run, reporter)?;
                downloaded += bytes;
                *manifest = fresh;
                *from = run.served();
                stale = false;
            }
            let result = fetch_package(request, &*manifest, &dir, run, reporter);
            if let Err(error) = &result {
                let _ = tarmac_fs::remove_all(&dir);
                stale = disagrees_with_manifest(error);
                if stale {
                    for &index in from.iter() {
                        run.delivered(index);
                    }
                }
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
    let wanted: Vec<PackageManifest> = wanted.into_iter().map(|(m, _)| m).collect();
    if let Err(error) = publish(host, &staged) {
        let _ = tarmac_fs::remove_all(&staging);
        return Err(error);
    }
    tarmac_fs::remove_all(&staging)?;
    let fetched: Vec<PackageId> = wanted.into_iter().map(|m| m.id).collect();
    let mut outcome = outcome(ids.into_iter().collect(), fetched, downloaded);
    from_delta.sort();
    outcome.deltas = from_delta;
    outcome.delta_failures = delta_failures;
    Ok(outcome)
}

/// Adds one locally built package (`--package-file`) with the rules of the
/// other modes: the manifest (the sidecar or `--manifest`) names the id
/// and the tree hash; the archive is streamed through the strict extractor
/// into staging, checked against the manifest, and published with its
/// manifest recorded in `.manifests/`. A package already present is
/// verified against this manifest (and its recorded one), never replaced:
/// exit 4 if it differs. Local content is not a mirror: a corrupt archive
/// is exit 3, one that does not match its manifest exit 4, a missing file
/// exit 3; nothing is published in each case.
pub fn extract_file(
    settings: &Settings,
    request: &FileRequest,
    reporter: &dyn Reporter,
) -> Result<Outcome, Error> {
    let host = &settings.host;
    let manifest_path = request.manifest_path()?;
    let manifest = read_manifest_file(&manifest_path)?;
    let archive_url = request.archive.display().to_string();
    let archive = match std::fs::File::open(&request.archive) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound { url: archive_url })
        }
        Err(e) => return Err(tarmac_fs::FsError::new("open", &request.archive, e).into()),
    };
    let _lock = lock(settings)?;
    reset_staging(host)?;
    let id = manifest.id.clone();
    if host.package(&id).is_dir() {
        if let Some(recorded) = read_local_manifest(host, &id)? {
            if recorded.tree_hash != manifest.tree_hash {
                return Err(Error::Differs {
                    url: manifest_path.display().to_string(),
                    id: id.to_string(),
                    present: recorded.tree_hash,
                    offered: manifest.tree_hash.clone(),
                });
            }
        }
        reporter.step("verify");
        verify_present(host, &manifest)?;
        reporter.finish_step();
        return Ok(outcome(vec![id], Vec::new(), 0));
    }
    check_space(&host.packages(), manifest.bytes, manifest.files, settings)?;
    let staging = host.staging();
    tarmac_fs::create_dir_all(&staging)?;
    let dir = staging.join(id.to_string());
    reporter.step(&format!("extract {id}"));
    let options = tarmac_archive::ExtractOptions {
        expect: tarmac_archive::Expect::Package(manifest.clone()),
        ..tarmac_archive::ExtractOptions::default()
    };
    let mut reader = Counting {
        inner: std::io::BufReader::with_capacity(1 << 20, archive),
        bytes: 0,
    };
    let extracted =
        tarmac_archive::extract(&mut reader, &dir, &options).map_err(|source| Error::Archive {
            url: archive_url.clone(),
            source: source.reading(&request.archive),
        });
    reporter.finish_step();
    let published = extracted.and_then(|_| publish(host, &[(manifest, dir)]));
    if let Err(error) = published {
        let _ = tarmac_fs::remove_all(&staging);
        return Err(error);
    }
    tarmac_fs::remove_all(&staging)?;
    Ok(outcome(vec![id.clone()], vec![id], reader.bytes))
}

/// A reader counting the bytes read through it.
struct Counting<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A local `<id>.json` (`--package-file` mode): missing, too large or not
/// a package manifest is exit 3, naming the file.
fn read_manifest_file(path: &Path) -> Result<PackageManifest, Error> {
    let url = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Manifest {
                url,
                reason: "no such file (the package's manifest: pkg-build writes <id>.json \
                         beside <id>.tar.zst; copy both, or pass --manifest FILE)"
                    .into(),
            })
        }
        Err(e) => return Err(tarmac_fs::FsError::new("open", path, e).into()),
    };
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| tarmac_fs::FsError::new("read", path, e))?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(Error::Manifest {
            url,
            reason: format!("larger than {MAX_MANIFEST_BYTES} bytes"),
        });
    }
    PackageManifest::parse(&url, &bytes).map_err(|e| Error::Manifest {
        url,
        reason: e.to_string(),
    })
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
        format: 1,
        packages,
        fetched,
        present,
        downloaded_bytes: bytes,
        deltas: Vec::new(),
        delta_failures: Vec::new(),
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
    let path = repository::archive_relative(id);
    request.repositories.iter().map(|r| r.join(&path)).collect()
}

fn manifest_sources(request: &PackagesRequest, id: &PackageId) -> Vec<Source> {
    let path = repository::manifest_relative(id);
    request.repositories.iter().map(|r| r.join(&path)).collect()
}

/// Downloads and checks a package's `<id>.json` sidecar, from the next
/// mirror while one serves it bad (see [`refetching`]); also returns the
/// mirrors it came from.
fn fetch_manifest(
    request: &PackagesRequest,
    id: &PackageId,
    run: &Run,
    reporter: &dyn Reporter,
) -> Result<(PackageManifest, u64, BTreeSet<usize>), Error> {
    let (manifest, bytes) = refetching(run, reporter, false, || {
        fetch_manifest_once(request, id, run, reporter)
    })?;
    Ok((manifest, bytes, run.served()))
}

/// One download and check of a package's `<id>.json` sidecar.
fn fetch_manifest_once(
    request: &PackagesRequest,
    id: &PackageId,
    run: &Run,
    reporter: &dyn Reporter,
) -> Result<(PackageManifest, u64), Error> {
    reporter.step(&format!("manifest {id}"));
    let (bytes, fetched) = crate::download::fetch_small(
        manifest_sources(request, id),
        run,
        reporter,
        MAX_MANIFEST_BYTES,
        "manifest",
    )?;
    reporter.finish_step();
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        if e.is_eof() {
            // Well-formed so far but cut short: not bad content.
            return Err(Error::CutShort {
                url: fetched.url,
                reason: format!("the manifest stops after {} bytes: {e}", bytes.len()),
            });
        }
    }
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
/// one is): a mirror serving another package under the id is caught here.
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
    run: &Run,
    reporter: &dyn Reporter,
) -> Result<u64, Error> {
    reporter.step(&format!("download {}", manifest.id));
    let mut download = Download::open(archive_sources(request, &manifest.id), run, reporter)?;
    extract_stream(&mut download, dir, Limits::Package(manifest), None)?;
    let fetched = download.finish()?;
    reporter.finish_step();
    Ok(fetched.bytes)
}

/// What a failed host-level attempt (one download and the checks of what
/// it delivered) means for the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The content arrived complete and failed verification: the mirror
    /// that served it is dropped for the run.
    Bad,
    /// The body ended early: try again elsewhere, blaming nobody.
    CutShort,
    /// A mirror changed its content mid-download (the download counted it
    /// for the run): start again from byte 0.
    Changed,
    /// Anything else (network after its own retries, space, filesystem):
    /// no new download can fix it.
    Stop,
}

/// THE content verdict: what a fresh download may fix, and whose fault.
/// `pinned`: bundle mode, where an archive error is only reported after
/// the bytes matched the pin (extract_stream): it is what the pinned
/// bundle really holds, every mirror would serve the same, so it stops.
fn verdict(error: &Error, pinned: bool) -> Verdict {
    match error {
        Error::CutShort { .. } => Verdict::CutShort,
        Error::ContentChanged { .. } => Verdict::Changed,
        Error::Manifest { .. } | Error::Checksum { .. } | Error::Pin { .. } => Verdict::Bad,
        Error::Archive { source, .. } if source.cut_short() => Verdict::CutShort,
        Error::Archive { .. } if pinned => Verdict::Stop,
        Error::Archive { source, .. } => match source.class() {
            tarmac_model::ExitClass::Invalid | tarmac_model::ExitClass::Integrity => Verdict::Bad,
            _ => Verdict::Stop,
        },
        _ => Verdict::Stop,
    }
}

/// Runs `attempt` (one download and the checks of what it delivered;
/// it must leave nothing behind when it fails) until it succeeds or no
/// new download can help ([`verdict`]):
///
/// - bad content: the mirror that delivered it is dropped for the run and
///   the next is tried at once. Blame needs one culprit: when the bytes
///   came from several mirrors (a resume on another mirror, or a package
///   archive that disagrees with a manifest from another mirror), none is
///   dropped, because the good one would be dropped with the bad; the file
///   is simply downloaded again (usually whole from one mirror, which then
///   takes the blame if it is bad). The request budget bounds this.
/// - cut short: the next download starts on the next mirror after the
///   usual full-jitter backoff, within the run's deadline;
/// - changed: started again at once (the download dropped the mirror if
///   it was its second change).
///
/// When no mirror is left, the run's list of every mirror and what it did
/// (exit 4 when every mirror served bad content). Every download counts
/// against `--max-requests`, so the loop always ends.
fn refetching<T>(
    run: &Run,
    reporter: &dyn Reporter,
    pinned: bool,
    mut attempt: impl FnMut() -> Result<T, Error>,
) -> Result<T, Error> {
    let mut random = Random::new();
    let mut short = 0u32;
    loop {
        run.begin();
        let error = match attempt() {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        run.note_failure(error.to_string());
        match verdict(&error, pinned) {
            Verdict::Stop => return Err(error),
            Verdict::Bad => {
                let served = run.served();
                match served.iter().next() {
                    Some(&index) if served.len() == 1 => {
                        reporter.note(&format!(
                            "{error}; {} dropped for this run",
                            run.name(index)
                        ));
                        run.drop_bad(index, error.to_string());
                    }
                    _ => {
                        let names: Vec<&str> = served.iter().map(|&i| run.name(i)).collect();
                        reporter.note(&format!(
                            "{error}; delivered by {}: downloading again",
                            names.join(", ")
                        ));
                    }
                }
            }
            Verdict::Changed => reporter.note(&format!("{error}; starting again from byte 0")),
            Verdict::CutShort => {
                short += 1;
                run.rotate();
                let wait = backoff(run.options(), short, &mut random);
                if Instant::now() + wait >= run.deadline() {
                    return Err(Error::TimedOut {
                        url: content_url(&error).unwrap_or_default().to_string(),
                        limit: run.options().total_timeout,
                        last: error.to_string(),
                    });
                }
                reporter.note(&format!(
                    "{error}; downloading again in {} ms",
                    wait.as_millis()
                ));
                std::thread::sleep(wait);
            }
        }
        if !run.any_usable() {
            return Err(run.no_mirror(&[]));
        }
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
        Error::CutShort { url, .. }
        | Error::Manifest { url, .. }
        | Error::Pin { url, .. }
        | Error::Checksum { url, .. }
        | Error::ContentChanged { url, .. }
        | Error::Archive { url, .. } => Some(url),
        _ => None,
    }
}

pub(crate) fn read_local_manifest(
    host: &HostPaths,
    id: &PackageId,
) -> Result<Option<PackageManifest>, Error> {
    let path = host.manifest(id);
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
pub(crate) fn check_space(
    dir: &Path,
    bytes: u64,
    files: u64,
    settings: &Settings,
) -> Result<(), Error> {
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
        let path = host.manifest(&manifest.id);
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
                raw_bytes_pinned: pin.is_some(),
            },
            Some(check),
            Some(space),
        ),
        Limits::Package(manifest) => (
            tarmac_archive::ExtractOptions {
                expect: tarmac_archive::Expect::Package(manifest.clone()),
                raw_bytes_pinned: pin.is_some(),
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
            if source.cut_short() {
                // The server announced the body complete, yet the archive
                // stops mid-way: a short body, not a bad one.
                return Err(Error::CutShort {
                    url: download.url(),
                    reason: source.to_string(),
                });
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
