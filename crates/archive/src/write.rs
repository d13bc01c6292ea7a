//! The deterministic archive writer.
//!
//! Invariant: the same tree gives the same bytes. Entries are emitted in
//! one global order (a depth-first walk, names sorted by bytes; the writer
//! refuses anything added out of that order), every header has uid/gid 0,
//! no user or group names, mtime = the caller's SOURCE_DATE_EPOCH, mode
//! 0755 or 0644 from the exec bit (directories 0755). Names longer than a
//! ustar field use GNU long-name records. Compression is zstd with at
//! least one worker thread: zstd's multithreaded output does not depend on
//! the number of workers, so `--threads` never changes the bytes.
//! (pkgpanda packs with Python's tarfile, keeping mtimes and user names:
//! two builds of the same tree differ.)

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tarmac_fs::Context;
use tarmac_model::{PackageId, PackageManifest};

use crate::container::{self, SourceFailure};
use crate::error::{Error, Result};
use crate::extract::{classify, resolve, Kind};
use crate::name::{self, sort_key, SortKey};
use crate::tar_read::TarReader;
use crate::tree::{file_mode, is_exec, walk, Node, TreeDigest, TreeHasher, Walked};

const BLOCK: usize = 512;

/// The highest zstd level: levels above 19 need a decoder window larger
/// than the extractor accepts (see the container module).
pub const MAX_LEVEL: i32 = 19;

/// The zstd window every archive is written with: 2^24 = 16 MiB, the
/// most the extractor accepts (`container::ZSTD_WINDOW_LOG_MAX`), so
/// matches up to 16 MiB back are found whatever the level (level 9 alone
/// would use 4 MiB); long-distance matching finds the long ones cheaply.
pub const WINDOW_LOG: u32 = container::ZSTD_WINDOW_LOG_MAX;

/// How to write an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// zstd level (1..=19; 9 by default). Every level is written with the
    /// largest window the extractor accepts (16 MiB, [`WINDOW_LOG`]) and
    /// long-distance matching: at level 9 that brings the scale-1 bench
    /// bundle from 703 to 640 MB (xz -6: 619 MB) at no cost in time
    /// (docs/performance.md § Bundle: level, window, long matching).
    pub level: i32,
    /// zstd worker threads; 0 means one per available core. Never changes
    /// the output bytes.
    pub threads: u32,
    /// The mtime of every entry: SOURCE_DATE_EPOCH, passed in by the caller.
    pub mtime: u64,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            level: 9,
            threads: 0,
            mtime: 0,
        }
    }
}

enum Sink<W: Write> {
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Plain(W),
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Zstd(w) => w.write(buf),
            Sink::Plain(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Zstd(w) => w.flush(),
            Sink::Plain(w) => w.flush(),
        }
    }
}

/// Writes a deterministic tar (zstd-compressed unless made with
/// [`ArchiveWriter::uncompressed`]) to `W`. Add entries in sorted order:
/// `add_bytes("bundle.json", ..)` then `add_tree("packages/<id>", dir)` for
/// ids in sorted order, or one `add_tree("", dir)` for a package.
pub struct ArchiveWriter<W: Write> {
    sink: Sink<W>,
    mtime: u64,
    /// Sort key of the last entry written: every new one must be greater.
    last: Option<SortKey>,
    /// Directories written so far, so parents of a prefix are written once.
    dirs: BTreeSet<String>,
    /// Where the package will live on a host: absolute symlinks into it
    /// are written as relative ones (see [`ArchiveWriter::relocate_links`]).
    install_path: Option<String>,
    buf: Vec<u8>,
}

impl<W: Write> ArchiveWriter<W> {
    /// A zstd-compressed archive writer.
    pub fn new(out: W, opts: WriteOptions) -> Result<ArchiveWriter<W>> {
        let threads = match opts.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            n => n,
        };
        if !(1..=MAX_LEVEL).contains(&opts.level) {
            return Err(Error::Level { level: opts.level });
        }
        let mut encoder =
            zstd::stream::write::Encoder::new(out, opts.level).map_err(Error::Output)?;
        encoder.multithread(threads).map_err(Error::Output)?;
        encoder.window_log(WINDOW_LOG).map_err(Error::Output)?;
        encoder
            .long_distance_matching(true)
            .map_err(Error::Output)?;
        encoder.include_checksum(true).map_err(Error::Output)?;
        Ok(Self::with_sink(Sink::Zstd(encoder), opts.mtime))
    }

    /// A plain (uncompressed) tar writer, for tests and for callers that
    /// compress themselves.
    pub fn uncompressed(out: W, mtime: u64) -> ArchiveWriter<W> {
        Self::with_sink(Sink::Plain(out), mtime)
    }

    fn with_sink(sink: Sink<W>, mtime: u64) -> ArchiveWriter<W> {
        ArchiveWriter {
            sink,
            mtime,
            last: None,
            dirs: BTreeSet::new(),
            install_path: None,
            buf: vec![0u8; 256 * 1024],
        }
    }

    /// Makes [`ArchiveWriter::add_tree`] write an absolute symlink whose
    /// target lies inside `install_path` as the equivalent relative link
    /// (DC/OS build scripts run `ln -s "$PKG_PATH/usr/java/bin/java"
    /// "$PKG_PATH/bin/java"`, with PKG_PATH the package's final location):
    /// `bin/java -> ../usr/java/bin/java`. It resolves to the same file
    /// once installed, and the archive policy (relative targets only)
    /// holds. Any other absolute symlink is still refused. The tree hash
    /// returned by `add_tree` is of the tree as archived.
    pub fn relocate_links(&mut self, install_path: &str) {
        self.install_path = Some(install_path.trim_end_matches('/').to_string());
    }

    /// Adds the tree `dir` under `prefix` ("" for the archive root, or e.g.
    /// `"packages/<id>"`, which is written as a directory entry with its
    /// missing parents). Returns the tree hash of `dir`, computed from the
    /// bytes written.
    pub fn add_tree(&mut self, prefix: &str, dir: &Path) -> Result<TreeDigest> {
        if !prefix.is_empty() {
            self.add_dir(prefix)?;
        }
        let mut hasher = TreeHasher::new();
        walk(dir, &mut |rel, full, entry| {
            let path = if prefix.is_empty() {
                rel.to_string()
            } else {
                format!("{prefix}/{rel}")
            };
            let node = match entry {
                Walked::Dir => {
                    self.add_dir(&path)?;
                    Node::Dir
                }
                Walked::File { file, meta } => {
                    let exec = is_exec(meta.permissions().mode());
                    let (size, hash) = self.add_file(&path, full, file, meta.len(), exec)?;
                    Node::File { exec, size, hash }
                }
                Walked::Symlink { target } => {
                    let target = match &self.install_path {
                        Some(install) if target.starts_with('/') => {
                            relocate(rel, &target, install).unwrap_or(target)
                        }
                        _ => target,
                    };
                    name::check_link_target(target.as_bytes()).map_err(|reason| {
                        Error::Unsupported {
                            path: full.to_path_buf(),
                            reason,
                        }
                    })?;
                    self.add_symlink(&path, &target)?;
                    Node::Symlink {
                        target: target.into(),
                    }
                }
            };
            hasher.add(rel, &node);
            Ok(())
        })?;
        Ok(hasher.finish())
    }

    /// Copies a package archive written by this writer (any container the
    /// extractor reads) into this one under `prefix`, without extracting it:
    /// the bytes written are exactly those `add_tree(prefix, dir)` writes for
    /// the extracted tree. The archive is checked on the way with the
    /// extraction policy, must be in this writer's canonical order with
    /// every parent directory present (a tarmac archive is), may not outgrow
    /// `expect`'s counts (exit 3, at once), and its tree hash must equal
    /// `expect.tree_hash` (exit 4). On error the output is unusable: callers
    /// write to a temp file (as [`pack_dir`] does) and discard it.
    pub fn add_archive<R: Read + Send>(
        &mut self,
        prefix: &str,
        reader: R,
        expect: &PackageManifest,
    ) -> Result<TreeDigest> {
        if !prefix.is_empty() {
            self.add_dir(prefix)?;
        }
        let failure = SourceFailure::default();
        let (container, decoded) = container::open(
            BufReader::new(reader),
            &failure,
            container::Checksums::Verify,
        )?;
        let digest = container::pipelined(decoded, container::DECODED_IN_FLIGHT, |decoded| {
            let mut tar = TarReader::new(decoded, container, failure);
            self.copy_entries(prefix, &mut tar, expect)
        })?;
        if digest.hash != expect.tree_hash
            || digest.files != expect.files
            || digest.bytes != expect.bytes
        {
            return Err(Error::Integrity {
                what: format!("{}.json", expect.id),
                expected: format!(
                    "{} ({} entries, {} bytes)",
                    expect.tree_hash, expect.files, expect.bytes
                ),
                actual: format!(
                    "{} ({} entries, {} bytes)",
                    digest.hash, digest.files, digest.bytes
                ),
            });
        }
        Ok(digest)
    }

    fn copy_entries<R: Read>(
        &mut self,
        prefix: &str,
        tar: &mut TarReader<R>,
        expect: &PackageManifest,
    ) -> Result<TreeDigest> {
        let mut hasher = TreeHasher::new();
        // Key and kind of the previous entry: canonical order makes
        // "duplicate" and "under a file" checks local.
        let mut last: Option<(SortKey, bool)> = None;
        // The directories enclosing the current entry, innermost last.
        let mut open_dirs: Vec<String> = Vec::new();
        let mut symlinks: BTreeMap<String, String> = BTreeMap::new();
        let (mut files, mut bytes) = (0u64, 0u64);
        let mut root_seen = false;
        while let Some(raw) = tar.next_entry()? {
            let (path, kind) = classify(&raw)?;
            let refuse = |rule: String| Error::policy(path.as_bytes(), rule);
            if path.is_empty() {
                if kind != Kind::Dir || root_seen {
                    return Err(refuse(
                        "the archive root \".\" must be one directory".into(),
                    ));
                }
                root_seen = true;
                continue;
            }
            let key = sort_key(&path);
            if let Some((last_key, last_is_dir)) = &last {
                if key <= *last_key {
                    return Err(refuse(format!(
                        "duplicate or out of canonical order after {:?} (not an archive written by tarmac)",
                        name::key_path(last_key)
                    )));
                }
                if !last_is_dir && key.starts_with(last_key) && key.get(last_key.len()) == Some(&0)
                {
                    return Err(refuse(format!(
                        "lies under the file or symlink {:?} of this archive",
                        name::key_path(last_key)
                    )));
                }
            }
            let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
            while let Some(top) = open_dirs.last() {
                if parent == top || parent.starts_with(&format!("{top}/")) {
                    break;
                }
                open_dirs.pop();
            }
            if !parent.is_empty() && open_dirs.last().map(String::as_str) != Some(parent) {
                return Err(refuse(format!(
                    "its directory {parent:?} has no entry of its own (not an archive written by tarmac)"
                )));
            }
            files += 1;
            if files > expect.files {
                return Err(Error::Limit {
                    entry: path,
                    what: format!("entry count declared in {}.json", expect.id),
                    limit: expect.files,
                });
            }
            let full = if prefix.is_empty() {
                path.clone()
            } else {
                format!("{prefix}/{path}")
            };
            let node = match kind {
                Kind::Dir => {
                    self.add_dir(&full)?;
                    open_dirs.push(path.clone());
                    Node::Dir
                }
                Kind::Symlink => {
                    let target = raw.link.as_deref().unwrap_or_default();
                    let target = name::check_link_target(target)
                        .map_err(&refuse)?
                        .to_string();
                    self.add_symlink(&full, &target)?;
                    symlinks.insert(path.clone(), target.clone());
                    Node::Symlink {
                        target: target.into(),
                    }
                }
                Kind::Hardlink => {
                    return Err(refuse(
                        "hardlink (archives written by tarmac have none)".into(),
                    ))
                }
                Kind::File => {
                    bytes = bytes.saturating_add(raw.size);
                    if bytes > expect.bytes {
                        return Err(Error::Limit {
                            entry: path,
                            what: format!("content size declared in {}.json", expect.id),
                            limit: expect.bytes,
                        });
                    }
                    let exec = is_exec(raw.mode);
                    self.check_order(&full)?;
                    self.header(&full, b'0', raw.size, file_mode(exec), None)?;
                    let mut content = blake3::Hasher::new();
                    loop {
                        let n = tar.read_data(&mut self.buf)?;
                        if n == 0 {
                            break;
                        }
                        content.update(&self.buf[..n]);
                        self.sink.write_all(&self.buf[..n]).map_err(Error::Output)?;
                    }
                    self.pad(raw.size)?;
                    Node::File {
                        exec,
                        size: raw.size,
                        hash: *content.finalize().as_bytes(),
                    }
                }
            };
            hasher.add(&path, &node);
            last = Some((key, kind == Kind::Dir));
        }
        tar.finish()?;
        let symlink_at = |path: &str| symlinks.get(path).cloned();
        for (path, target) in &symlinks {
            resolve(path, target, 0, &symlink_at).map_err(|rule| {
                Error::policy(path.as_bytes(), format!("symlink target {target:?} {rule}"))
            })?;
        }
        Ok(hasher.finish())
    }

    /// Adds a regular file with the given content; `mode` only decides the
    /// exec bit. Missing parent directories are written first.
    pub fn add_bytes(&mut self, path: &str, bytes: &[u8], mode: u32) -> Result<()> {
        self.add_parents(path)?;
        self.check_order(path)?;
        self.header(
            path,
            b'0',
            bytes.len() as u64,
            file_mode(is_exec(mode)),
            None,
        )?;
        self.sink.write_all(bytes).map_err(Error::Output)?;
        self.pad(bytes.len() as u64)
    }

    /// Adds a directory entry (and its missing parents).
    pub fn add_dir(&mut self, path: &str) -> Result<()> {
        if self.dirs.contains(path) {
            return Ok(());
        }
        self.add_parents(path)?;
        self.check_order(path)?;
        self.header(&format!("{path}/"), b'5', 0, 0o755, None)?;
        self.dirs.insert(path.to_string());
        Ok(())
    }

    /// Adds a symlink entry. The target is written as given.
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.add_parents(path)?;
        self.check_order(path)?;
        name::check_link_target(target.as_bytes()).map_err(|reason| Error::Order {
            path: path.to_string(),
            reason,
        })?;
        self.header(path, b'2', 0, 0o777, Some(target))
    }

    /// Writes the end-of-archive marker, finishes compression and returns
    /// the output.
    pub fn finish(mut self) -> Result<W> {
        self.sink
            .write_all(&[0u8; 2 * BLOCK])
            .map_err(Error::Output)?;
        match self.sink {
            Sink::Zstd(encoder) => encoder.finish().map_err(Error::Output),
            Sink::Plain(mut out) => {
                out.flush().map_err(Error::Output)?;
                Ok(out)
            }
        }
    }

    fn add_file(
        &mut self,
        path: &str,
        full: &Path,
        mut file: File,
        size: u64,
        exec: bool,
    ) -> Result<(u64, [u8; 32])> {
        self.check_order(path)?;
        self.header(path, b'0', size, file_mode(exec), None)?;
        let mut hasher = blake3::Hasher::new();
        let mut left = size;
        while left > 0 {
            let want = left.min(self.buf.len() as u64) as usize;
            let n = match file.read(&mut self.buf[..want]) {
                Ok(0) => {
                    return Err(Error::Unsupported {
                        path: full.to_path_buf(),
                        reason: "file shrank while it was being archived".into(),
                    })
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(tarmac_fs::FsError::new("read", full, e).into()),
            };
            hasher.update(&self.buf[..n]);
            self.sink.write_all(&self.buf[..n]).map_err(Error::Output)?;
            left -= n as u64;
        }
        let mut probe = [0u8; 1];
        if file.read(&mut probe).with_path("read", full)? != 0 {
            return Err(Error::Unsupported {
                path: full.to_path_buf(),
                reason: "file grew while it was being archived".into(),
            });
        }
        self.pad(size)?;
        Ok((size, *hasher.finalize().as_bytes()))
    }

    fn add_parents(&mut self, path: &str) -> Result<()> {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let parent = &path[..end + i];
            if !self.dirs.contains(parent) {
                self.check_order(parent)?;
                self.header(&format!("{parent}/"), b'5', 0, 0o755, None)?;
                self.dirs.insert(parent.to_string());
            }
            end += i + 1;
        }
        Ok(())
    }

    fn check_order(&mut self, path: &str) -> Result<()> {
        name::check_relative_path(path).map_err(|reason| Error::Order {
            path: path.to_string(),
            reason,
        })?;
        let key = sort_key(path);
        if let Some(last) = &self.last {
            if key <= *last {
                return Err(Error::Order {
                    path: path.to_string(),
                    reason: format!(
                        "added after {:?}: entries must be added once each, in sorted order",
                        name::key_path(last)
                    ),
                });
            }
        }
        self.last = Some(key);
        Ok(())
    }

    fn header(
        &mut self,
        name: &str,
        kind: u8,
        size: u64,
        mode: u32,
        link: Option<&str>,
    ) -> Result<()> {
        if name.len() > 100 {
            self.long_record(b'L', name.as_bytes())?;
        }
        if let Some(link) = link.filter(|l| l.len() > 100) {
            self.long_record(b'K', link.as_bytes())?;
        }
        let mut header = tar::Header::new_gnu();
        {
            let old = header.as_old_mut();
            let n = name.len().min(100);
            old.name[..n].copy_from_slice(&name.as_bytes()[..n]);
            if let Some(link) = link {
                let n = link.len().min(100);
                old.linkname[..n].copy_from_slice(&link.as_bytes()[..n]);
            }
        }
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(self.mtime);
        header.set_size(size);
        header.set_entry_type(tar::EntryType::new(kind));
        header.set_cksum();
        self.sink
            .write_all(header.as_bytes())
            .map_err(Error::Output)
    }

    /// A GNU `././@LongLink` record carrying a name or link target that does
    /// not fit the 100-byte header field.
    fn long_record(&mut self, kind: u8, value: &[u8]) -> Result<()> {
        let mut header = tar::Header::new_gnu();
        let tag = b"././@LongLink";
        header.as_old_mut().name[..tag.len()].copy_from_slice(tag);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        let size = value.len() as u64 + 1;
        header.set_size(size);
        header.set_entry_type(tar::EntryType::new(kind));
        header.set_cksum();
        self.sink
            .write_all(header.as_bytes())
            .map_err(Error::Output)?;
        self.sink.write_all(value).map_err(Error::Output)?;
        self.sink.write_all(&[0]).map_err(Error::Output)?;
        self.pad(size)
    }

    fn pad(&mut self, size: u64) -> Result<()> {
        let rem = (size % BLOCK as u64) as usize;
        if rem != 0 {
            self.sink
                .write_all(&[0u8; BLOCK][..BLOCK - rem])
                .map_err(Error::Output)?;
        }
        Ok(())
    }
}

/// The relative form of the absolute symlink `target` of the entry `link`
/// (relative to the archived tree), if `target` is `install` or lies inside
/// it without `.`/`..`/empty components; `None` otherwise.
fn relocate(link: &str, target: &str, install: &str) -> Option<String> {
    let inner = if target == install {
        ""
    } else {
        target.strip_prefix(install)?.strip_prefix('/')?
    };
    let inner: Vec<&str> = if inner.is_empty() {
        Vec::new()
    } else {
        inner.split('/').collect()
    };
    if inner.iter().any(|c| matches!(*c, "" | "." | "..")) {
        return None;
    }
    let mut dir: Vec<&str> = link.split('/').collect();
    dir.pop();
    let common = dir.iter().zip(&inner).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; dir.len() - common];
    parts.extend(&inner[common..]);
    Some(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// Packs the package tree `dir` into `out` (a `.tar.zst`) atomically: a
/// sibling temp file is written, fsynced and renamed into place, so `out`
/// is either absent/old or complete. Returns the package manifest (the
/// `<id>.json` sidecar content) computed while writing.
pub fn pack_dir(
    id: &PackageId,
    dir: &Path,
    out: &Path,
    opts: WriteOptions,
) -> Result<PackageManifest> {
    pack(id, dir, out, opts, None)
}

/// [`pack_dir`] for a tree built to live at `install_path` (e.g.
/// `/opt/mesosphere/packages/<id>`): absolute symlinks into it are archived
/// as relative ones ([`ArchiveWriter::relocate_links`]).
pub fn pack_dir_relocated(
    id: &PackageId,
    dir: &Path,
    out: &Path,
    opts: WriteOptions,
    install_path: &str,
) -> Result<PackageManifest> {
    pack(id, dir, out, opts, Some(install_path))
}

fn pack(
    id: &PackageId,
    dir: &Path,
    out: &Path,
    opts: WriteOptions,
    install_path: Option<&str>,
) -> Result<PackageManifest> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = out.file_name().unwrap_or_default().to_string_lossy();
    let temp = parent.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let result = (|| {
        let file = File::create(&temp).with_path("create", &temp)?;
        let mut writer = ArchiveWriter::new(BufWriter::with_capacity(1 << 20, file), opts)
            .map_err(|e| e.writing(&temp))?;
        if let Some(install_path) = install_path {
            writer.relocate_links(install_path);
        }
        let digest = writer.add_tree("", dir).map_err(|e| e.writing(&temp))?;
        let buffered = writer.finish().map_err(|e| e.writing(&temp))?;
        let file = buffered
            .into_inner()
            .map_err(|e| tarmac_fs::FsError::new("write", &temp, e.into_error()))?;
        file.sync_all().with_path("fsync", &temp)?;
        tarmac_fs::rename(&temp, out)?;
        tarmac_fs::fsync_dir(parent)?;
        Ok(PackageManifest {
            id: id.clone(),
            tree_hash: digest.hash,
            files: digest.files,
            bytes: digest.bytes,
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::relocate;

    #[test]
    fn absolute_links_into_the_package_become_relative() {
        let pkg = "/opt/mesosphere/packages/java--1";
        let cases = [
            (
                "bin/java",
                "/opt/mesosphere/packages/java--1/usr/java/bin/java",
                Some("../usr/java/bin/java"),
            ),
            (
                "usr/java/bin/x",
                "/opt/mesosphere/packages/java--1/usr/java/lib/y",
                Some("../lib/y"),
            ),
            (
                "top",
                "/opt/mesosphere/packages/java--1/bin/tool",
                Some("bin/tool"),
            ),
            ("bin/root", "/opt/mesosphere/packages/java--1", Some("..")),
            ("a/b", "/opt/mesosphere/packages/java--1/a", Some(".")),
            (
                "a/self",
                "/opt/mesosphere/packages/java--1/a/self",
                Some("self"),
            ),
            ("bin/x", "/opt/mesosphere/packages/java--10/bin/x", None),
            ("bin/x", "/opt/mesosphere/packages/java--1/../other/x", None),
            ("bin/x", "/etc/passwd", None),
        ];
        for (link, target, want) in cases {
            assert_eq!(
                relocate(link, target, pkg).as_deref(),
                want,
                "{link} -> {target}"
            );
        }
    }
}
