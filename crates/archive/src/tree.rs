//! The tree hash: one digest for the content of a directory tree, computed
//! the same way from a directory on disk ([`tree_hash`]), while writing an
//! archive and while extracting one (one pass, no re-read).
//!
//! Definition (format "tarmac-tree-v1"): blake3 over the tag
//! `tarmac-tree-v1\0` followed by one record per entry below the root, in
//! the order of a depth-first walk whose directories list their names
//! sorted by bytes. A record is a type byte (`d` directory, `f` file, `x`
//! executable file, `l` symlink), the relative path (`/`-separated) as a
//! little-endian u64 length and bytes, then for a file its size (u64 LE)
//! and the 32-byte blake3 of its content, for a symlink its target (u64 LE
//! length and bytes). Nothing else: mtimes, owners and permission bits
//! other than "executable" are not part of a package. `files` counts the
//! records, `bytes` sums the file sizes (a hardlink counts as the file it
//! names, as a walk of the extracted tree sees it).

use std::fs::{self, File, Metadata};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use tarmac_fs::Context;

use crate::error::{Error, Result};
use crate::name;

const TAG: &[u8] = b"tarmac-tree-v1\0";

/// The tree hash of a directory tree with its entry count and byte total:
/// the `tree_hash`, `files` and `bytes` of a `PackageManifest`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TreeDigest {
    /// 64 hex digits.
    pub hash: String,
    /// Entries below the root: directories, files and symlinks.
    pub files: u64,
    /// Sum of regular file sizes.
    pub bytes: u64,
}

/// What one entry of a tree is, as far as the tree hash cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Dir,
    File {
        exec: bool,
        size: u64,
        hash: [u8; 32],
    },
    Symlink {
        target: Box<str>,
    },
}

/// Accumulates records in walk order.
pub(crate) struct TreeHasher {
    hasher: blake3::Hasher,
    files: u64,
    bytes: u64,
}

impl TreeHasher {
    pub fn new() -> TreeHasher {
        let mut hasher = blake3::Hasher::new();
        hasher.update(TAG);
        TreeHasher {
            hasher,
            files: 0,
            bytes: 0,
        }
    }

    /// Adds the record of `path` (relative, `/`-separated). The caller keeps
    /// the walk order.
    pub fn add(&mut self, path: &str, node: &Node) {
        let tag = match node {
            Node::Dir => b'd',
            Node::File { exec: false, .. } => b'f',
            Node::File { exec: true, .. } => b'x',
            Node::Symlink { .. } => b'l',
        };
        self.hasher.update(&[tag]);
        self.hasher.update(&(path.len() as u64).to_le_bytes());
        self.hasher.update(path.as_bytes());
        match node {
            Node::Dir => {}
            Node::File { size, hash, .. } => {
                self.hasher.update(&size.to_le_bytes());
                self.hasher.update(hash);
                self.bytes += size;
            }
            Node::Symlink { target } => {
                self.hasher.update(&(target.len() as u64).to_le_bytes());
                self.hasher.update(target.as_bytes());
            }
        }
        self.files += 1;
    }

    pub fn finish(self) -> TreeDigest {
        TreeDigest {
            hash: self.hasher.finalize().to_hex().to_string(),
            files: self.files,
            bytes: self.bytes,
        }
    }
}

/// Whether a mode counts as executable: any execute bit.
pub(crate) fn is_exec(mode: u32) -> bool {
    mode & 0o111 != 0
}

/// The normalized mode of a file: 0755 if executable, else 0644.
pub(crate) fn file_mode(exec: bool) -> u32 {
    if exec {
        0o755
    } else {
        0o644
    }
}

/// One entry met by [`walk`].
pub(crate) enum Walked<'a> {
    Dir,
    File { file: File, meta: &'a Metadata },
    Symlink { target: String },
}

/// Walks `root` depth-first, each directory's names sorted by bytes, and
/// calls `visit(relative_path, full_path, entry)` for every entry below the
/// root. Refuses names an archive cannot carry and anything that is not a
/// directory, regular file or symlink.
pub(crate) fn walk(
    root: &Path,
    visit: &mut dyn FnMut(&str, &Path, Walked<'_>) -> Result<()>,
) -> Result<()> {
    let meta = fs::symlink_metadata(root).with_path("stat", root)?;
    if !meta.is_dir() {
        return Err(Error::Unsupported {
            path: root.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    walk_dir(root, "", visit)
}

fn walk_dir(
    dir: &Path,
    prefix: &str,
    visit: &mut dyn FnMut(&str, &Path, Walked<'_>) -> Result<()>,
) -> Result<()> {
    let mut names: Vec<Vec<u8>> = Vec::new();
    for entry in fs::read_dir(dir).with_path("read directory", dir)? {
        let entry = entry.with_path("read directory", dir)?;
        names.push(entry.file_name().as_bytes().to_vec());
    }
    names.sort();
    for raw in names {
        let full = dir.join(std::ffi::OsStr::from_bytes(&raw));
        let unsupported = |reason: String| Error::Unsupported {
            path: full.clone(),
            reason,
        };
        let name = String::from_utf8(raw).map_err(|_| unsupported("name is not UTF-8".into()))?;
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        name::check_relative_path(&rel).map_err(unsupported)?;
        let meta = fs::symlink_metadata(&full).with_path("stat", &full)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            visit(&rel, &full, Walked::Dir)?;
            walk_dir(&full, &rel, visit)?;
        } else if kind.is_file() {
            if meta.permissions().mode() & 0o7000 != 0 {
                return Err(unsupported("setuid, setgid or sticky bit set".into()));
            }
            let file = File::open(&full).with_path("open", &full)?;
            visit(&rel, &full, Walked::File { file, meta: &meta })?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&full).with_path("read link", &full)?;
            // The visitor checks the target: the writer may first relocate
            // an absolute one.
            let target = target
                .to_str()
                .ok_or_else(|| unsupported("symlink target is not UTF-8".into()))?;
            visit(
                &rel,
                &full,
                Walked::Symlink {
                    target: target.to_string(),
                },
            )?;
        } else {
            let what = if kind.is_fifo() {
                "a FIFO"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "a device node"
            };
            return Err(unsupported(format!(
                "is {what}: only directories, regular files and symlinks can be archived"
            )));
        }
    }
    Ok(())
}

/// Streams `reader` into blake3, returning (size, hash).
pub(crate) fn hash_reader(mut reader: impl Read, path: &Path) -> Result<(u64, [u8; 32])> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(tarmac_fs::FsError::new("read", path, e).into()),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, *hasher.finalize().as_bytes()))
}

/// The tree hash of the directory `dir` (see the module doc for the
/// definition). Equal to what [`crate::pack_dir`] records and what
/// [`crate::extract`] computes for the extracted tree.
pub fn tree_hash(dir: &Path) -> Result<TreeDigest> {
    let mut hasher = TreeHasher::new();
    walk(dir, &mut |rel, full, entry| {
        let node = match entry {
            Walked::Dir => Node::Dir,
            Walked::File { file, meta } => {
                let (size, hash) = hash_reader(file, full)?;
                Node::File {
                    exec: is_exec(meta.permissions().mode()),
                    size,
                    hash,
                }
            }
            Walked::Symlink { target } => {
                name::check_link_target(target.as_bytes()).map_err(|reason| {
                    Error::Unsupported {
                        path: full.to_path_buf(),
                        reason,
                    }
                })?;
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
