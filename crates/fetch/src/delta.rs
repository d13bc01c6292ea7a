//! Installing a package from a delta against an older version on the host
//! (package mode; docs/upgrade-rollback.md § Deltas).
//!
//! The path: the repository's `<id>.deltas.json` lists deltas by base id;
//! one whose base is on the host (its manifest recorded) and whose window
//! is within `--max-delta-window` is chosen. The base's canonical tar
//! stream is regenerated from `packages/<base>/` into a temp file, hashing
//! the tree on the way (a modified base is caught here: its tree hash no
//! longer matches the recorded manifest) and the stream itself (its blake3
//! must be the one the delta was made against). The delta is downloaded to
//! a temp file and checked against its declared size and blake3, then
//! decoded in one pass into a third temp file, and that plain tar goes
//! through the strict extractor with the package's manifest, exactly like
//! an archive: the tree hash decides.
//!
//! Memory: the three temp files are mapped, never read into the heap, so
//! a 500 MB package costs page cache, not anonymous memory (a streaming
//! zstd decoder would hold a window as large as the package). Temp files
//! live in staging, which every run empties first, so a kill at any point
//! leaves nothing behind.
//!
//! Every failure here is returned as a reason, never an exit: the caller
//! says so and fetches the whole archive.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::num::NonZeroUsize;
use std::path::Path;
use std::ptr::NonNull;

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use tarmac_model::layout::repository;
use tarmac_model::{DeltaIndex, DeltaRecord, PackageId, PackageManifest, Reporter};

use crate::host::{check_space, read_local_manifest, HostPaths, Settings};
use crate::{Download, Error, Run, Source};

/// Largest `<id>.deltas.json` read into memory.
const MAX_INDEX_BYTES: u64 = 1 << 20;

/// Tries to install `manifest`'s package into `dir` (a staging directory
/// that must not exist) from a delta. `Ok(None)`: no delta applies (no
/// older version here, or none offered for one), nothing was said;
/// `Ok(Some(bytes))`: installed, `bytes` downloaded; `Err(reason)`: the
/// delta path failed and left nothing behind.
pub(crate) fn install(
    settings: &Settings,
    repositories: &[Source],
    manifest: &PackageManifest,
    dir: &Path,
    run: &Run,
    reporter: &dyn Reporter,
) -> Result<Option<u64>, String> {
    let host = &settings.host;
    let bases = present_versions(host, &manifest.id);
    if bases.is_empty() {
        return Ok(None);
    }
    let id = &manifest.id;
    let sources = |relative: String| -> Vec<Source> {
        repositories.iter().map(|r| r.join(&relative)).collect()
    };
    reporter.step(&format!("delta index {id}"));
    let index = fetch_index(sources(repository::deltas_relative(id)), id, run, reporter);
    reporter.finish_step();
    let (index, index_bytes) = match index {
        Ok(found) => found,
        Err(Error::NotFound { .. } | Error::Status { code: 404, .. }) => {
            reporter.note(&format!("{id}: the repository offers no delta index"));
            return Ok(None);
        }
        Err(error) => return Err(format!("delta index: {error}")),
    };
    let Some((record, base)) = index.deltas.iter().find_map(|r| {
        bases
            .iter()
            .find(|(b, _)| *b == r.base)
            .map(|(_, m)| (r, m))
    }) else {
        return Ok(None);
    };
    if record.window > settings.max_delta_window {
        return Err(format!(
            "the delta from {} needs a {} byte window, above --max-delta-window ({} bytes)",
            record.base, record.window, settings.max_delta_window
        ));
    }
    let temp = dir.with_file_name(format!(".delta-{id}"));
    let result = apply(
        settings,
        &sources(repository::delta_relative(id, &record.base)),
        manifest,
        &index,
        record,
        base,
        dir,
        &temp,
        run,
        reporter,
    );
    let _ = tarmac_fs::remove_all(&temp);
    if result.is_err() {
        let _ = tarmac_fs::remove_all(dir);
    }
    result.map(|bytes| Some(bytes + index_bytes))
}

/// The older versions of `id`'s package on the host with a recorded
/// manifest, sorted by id.
fn present_versions(host: &HostPaths, id: &PackageId) -> Vec<(PackageId, PackageManifest)> {
    let Ok(entries) = std::fs::read_dir(host.packages()) else {
        return Vec::new();
    };
    let mut found: Vec<(PackageId, PackageManifest)> = entries
        .flatten()
        .filter_map(|entry| PackageId::parse(&entry.file_name().to_string_lossy()).ok())
        .filter(|base| base.name() == id.name() && base != id)
        .filter_map(|base| match read_local_manifest(host, &base) {
            Ok(Some(manifest)) if manifest.id == base => Some((base, manifest)),
            _ => None,
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn fetch_index(
    sources: Vec<Source>,
    id: &PackageId,
    run: &Run,
    reporter: &dyn Reporter,
) -> Result<(DeltaIndex, u64), Error> {
    let (bytes, fetched) =
        crate::download::fetch_small(sources, run, reporter, MAX_INDEX_BYTES, "delta index")?;
    let index = DeltaIndex::parse(&fetched.url, &bytes).map_err(|e| Error::Manifest {
        url: fetched.url.clone(),
        reason: e.to_string(),
    })?;
    if index.id != *id {
        return Err(Error::Manifest {
            url: fetched.url,
            reason: format!("lists deltas to {} instead of {id}", index.id),
        });
    }
    Ok((index, fetched.bytes))
}

/// Regenerate, download, decode, extract; see the module doc.
#[allow(clippy::too_many_arguments)]
fn apply(
    settings: &Settings,
    delta_sources: &[Source],
    manifest: &PackageManifest,
    index: &DeltaIndex,
    record: &DeltaRecord,
    base: &PackageManifest,
    dir: &Path,
    temp: &Path,
    run: &Run,
    reporter: &dyn Reporter,
) -> Result<u64, String> {
    let host = &settings.host;
    let id = &manifest.id;
    let fs_error = |e: tarmac_fs::FsError| e.to_string();
    // The temp files come on top of the package itself.
    check_space(
        &host.packages(),
        manifest.bytes + record.base_tar_bytes + index.tar_bytes + record.bytes,
        manifest.files + 3,
        settings,
    )
    .map_err(|e| e.to_string())?;
    tarmac_fs::create_dir_all(temp).map_err(fs_error)?;

    reporter.step(&format!("regenerate {}", base.id));
    let base_path = temp.join("base.tar");
    let file = File::create(&base_path).map_err(|e| format!("{}: {e}", base_path.display()))?;
    let hashing = Hashing {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: blake3::Hasher::new(),
        bytes: 0,
    };
    let (hashing, digest) = tarmac_archive::canonical_tar(&host.package(&base.id), hashing)
        .map_err(|e| format!("regenerating {}: {e}", base.id))?;
    reporter.finish_step();
    if digest.hash != base.tree_hash {
        return Err(format!(
            "{} was modified on this host (tree hash {}, recorded {})",
            host.package(&base.id).display(),
            digest.hash,
            base.tree_hash
        ));
    }
    let stream_hash = hashing.hasher.finalize().to_hex().to_string();
    if hashing.bytes != record.base_tar_bytes || stream_hash != record.base_tar_blake3 {
        return Err(format!(
            "the regenerated stream of {} ({} bytes, blake3 {stream_hash}) is not the one the delta was made against ({} bytes, blake3 {})",
            base.id, hashing.bytes, record.base_tar_bytes, record.base_tar_blake3
        ));
    }
    hashing
        .inner
        .into_inner()
        .map_err(|e| format!("{}: {}", base_path.display(), e.error()))?;

    reporter.step(&format!("download delta {id}"));
    let delta_path = temp.join("delta.zst");
    let fetched = download_to(delta_sources, &delta_path, record.bytes, run, reporter)
        .map_err(|e| format!("delta: {e}"))?;
    reporter.finish_step();
    if fetched.bytes != record.bytes || fetched.blake3 != record.blake3 {
        return Err(format!(
            "{}: {} bytes with blake3 {}, the index declares {} bytes with blake3 {}",
            fetched.url, fetched.bytes, fetched.blake3, record.bytes, record.blake3
        ));
    }

    reporter.step(&format!("decode {id}"));
    let out_path = temp.join("package.tar");
    {
        let base_map = Mapped::open(&base_path, false, None)?;
        let delta_map = Mapped::open(&delta_path, false, None)?;
        let mut out_map = Mapped::open(&out_path, true, Some(index.tar_bytes))?;
        tarmac_archive::decode_delta(
            base_map.bytes(),
            delta_map.bytes(),
            out_map.bytes_mut(),
            settings.max_delta_window,
        )
        .map_err(|e| format!("{}: {e}", fetched.url))?;
    }
    // The reference is no longer needed: free its page cache before extracting.
    let _ = std::fs::remove_file(&base_path);
    let _ = std::fs::remove_file(&delta_path);
    reporter.finish_step();

    reporter.step(&format!("extract {id}"));
    let out_map = Mapped::open(&out_path, false, None)?;
    let options = tarmac_archive::ExtractOptions {
        expect: tarmac_archive::Expect::Package(manifest.clone()),
        ..tarmac_archive::ExtractOptions::default()
    };
    tarmac_archive::extract(out_map.bytes(), dir, &options)
        .map_err(|e| format!("{} decoded from {}: {e}", id, fetched.url))?;
    reporter.finish_step();
    Ok(fetched.bytes)
}

/// Downloads at most `limit` bytes (one more is an error) into `path`.
fn download_to(
    sources: &[Source],
    path: &Path,
    limit: u64,
    run: &Run,
    reporter: &dyn Reporter,
) -> Result<crate::Fetched, Error> {
    let mut download = Download::open(sources.to_vec(), run, reporter)?;
    let file = File::create(path).map_err(|e| tarmac_fs::FsError::new("create", path, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let copied = std::io::copy(&mut (&mut download).take(limit + 1), &mut out);
    let url = download.url();
    match copied {
        Ok(n) if n > limit => {
            return Err(Error::Manifest {
                url,
                reason: format!("longer than the {limit} bytes declared"),
            })
        }
        Ok(_) => {}
        Err(e) => {
            return Err(download.take_error().unwrap_or(Error::Read {
                url,
                reason: e.to_string(),
            }))
        }
    }
    out.flush()
        .map_err(|e| tarmac_fs::FsError::new("write", path, e))?;
    download.finish()
}

/// A writer hashing and counting what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A whole file mapped shared: file-backed pages (page cache), never
/// anonymous memory.
struct Mapped {
    ptr: NonNull<std::ffi::c_void>,
    len: usize,
}

impl Mapped {
    /// Maps `path` read-only, or (`writable`) creates it with `size` bytes
    /// and maps it read-write.
    fn open(path: &Path, writable: bool, size: Option<u64>) -> Result<Mapped, String> {
        let name = |e: std::io::Error| format!("{}: {e}", path.display());
        let file = if writable {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(name)?;
            file.set_len(size.unwrap_or(0)).map_err(name)?;
            file
        } else {
            File::open(path).map_err(name)?
        };
        let len = file.metadata().map_err(name)?.len();
        let len =
            usize::try_from(len).map_err(|_| format!("{}: too large to map", path.display()))?;
        let Some(length) = NonZeroUsize::new(len) else {
            return Err(format!("{}: empty", path.display()));
        };
        let prot = if writable {
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE
        } else {
            ProtFlags::PROT_READ
        };
        // SAFETY: a fresh mapping of a private temp file in staging (under
        // the host lock; nothing else writes it while mapped), unmapped in
        // Drop; the slices borrow `self`.
        let ptr = unsafe { mmap(None, length, prot, MapFlags::MAP_SHARED, &file, 0) }
            .map_err(|e| format!("{}: mmap: {e}", path.display()))?;
        Ok(Mapped { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes mapped readable at `ptr` until Drop.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>(), self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: mapped writable by `open(.., true, ..)`, exclusively ours.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().cast::<u8>(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, unmapped once.
        let _ = unsafe { munmap(self.ptr, self.len) };
    }
}
