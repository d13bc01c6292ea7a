//! The hash of a source directory (`extra/`, a git_local tree) as a build
//! input: relative paths, entry kinds, the exec bit, file contents and
//! symlink targets, walked in sorted order. Nothing else (mtimes, owners,
//! the directory's own location) counts, so the same content anywhere gives
//! the same hash.
//!
//! Why not `tarmac_archive::tree_hash` (a near twin): that one hashes a
//! *package* tree and refuses what an archive cannot carry (non-UTF-8
//! names, absolute or escaping symlinks, setuid bits, FIFOs), while a
//! source tree is third-party input that may hold all of these (a git
//! checkout's absolute symlinks; FIFOs and sockets are skipped here). This
//! one also skips named top-level entries (`.git`), records no file sizes
//! and has its own tag: swapping one for the other would change every
//! package id (the version hashes this), so the two stay separate on purpose.

use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tarmac_fs::Context;

use crate::error::Error;

/// 64 hex digits of blake3 over the records of every entry below `dir`,
/// skipping top-level names in `skip` (e.g. `.git`).
pub fn tree_hash(dir: &Path, skip: &[&str]) -> Result<String, Error> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"tarmac-input-tree-v1\0");
    walk(dir, "", skip, &mut hasher)?;
    Ok(hasher.finalize().to_hex().to_string())
}

fn walk(dir: &Path, prefix: &str, skip: &[&str], hasher: &mut blake3::Hasher) -> Result<(), Error> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).with_path("read directory", dir)? {
        let entry = entry.with_path("read directory", dir)?;
        names.push(entry.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let path = dir.join(&name);
        let rel = format!("{prefix}{}", name.to_string_lossy());
        let meta = fs::symlink_metadata(&path).with_path("stat", &path)?;
        let record = |hasher: &mut blake3::Hasher, tag: u8, data: &[u8]| {
            hasher.update(&[tag]);
            hasher.update(&(rel.len() as u64).to_le_bytes());
            hasher.update(rel.as_bytes());
            hasher.update(&(data.len() as u64).to_le_bytes());
            hasher.update(data);
        };
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).with_path("readlink", &path)?;
            record(hasher, b'l', target.as_os_str().as_bytes());
        } else if meta.is_dir() {
            record(hasher, b'd', b"");
            walk(&path, &format!("{rel}/"), &[], hasher)?;
        } else if meta.is_file() {
            let mut content = blake3::Hasher::new();
            let mut file = tarmac_fs::open(&path)?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = file.read(&mut buf).with_path("read", &path)?;
                if n == 0 {
                    break;
                }
                content.update(&buf[..n]);
            }
            let tag = if meta.permissions().mode() & 0o111 != 0 {
                b'x'
            } else {
                b'f'
            };
            record(hasher, tag, content.finalize().as_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_elsewhere_same_hash_and_content_counts() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for root in [a.path(), b.path()] {
            fs::create_dir_all(root.join("d/e")).unwrap();
            fs::write(root.join("d/f"), b"x").unwrap();
        }
        assert_eq!(
            tree_hash(a.path(), &[]).unwrap(),
            tree_hash(b.path(), &[]).unwrap()
        );
        fs::write(b.path().join("d/f"), b"y").unwrap();
        assert_ne!(
            tree_hash(a.path(), &[]).unwrap(),
            tree_hash(b.path(), &[]).unwrap()
        );
        fs::create_dir(a.path().join(".git")).unwrap();
        let with_git = tree_hash(a.path(), &[]).unwrap();
        assert_ne!(with_git, tree_hash(a.path(), &[".git"]).unwrap());
    }
}
