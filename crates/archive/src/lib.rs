//! tarmac-archive: the package archive format, its deterministic writer, the
//! tree hash, and the strict streaming extractor.
//!
//! What it is for: turning a package tree into `<id>.tar.zst` (same tree,
//! same bytes), and turning an untrusted archive stream back into a tree
//! without ever writing outside a fresh staging directory. What it is not:
//! it does not download, does not verify the hash of the raw stream (the
//! fetch crate does, over the same bytes), does not fsync each file (the
//! caller runs one syncfs) and does not publish anything: the caller renames
//! the staging directory into place.
//!
//! # The extraction policy, and why
//!
//! pkgpanda extracts with GNU `tar -xf` straight into the final package
//! directory (pkgpanda/util.py `extract_tarball`; its own TODO notes that a
//! partial extraction can be left lying around), and GNU tar repairs rather
//! than refuses: it strips a leading `/` and still exits 0, so an absolute
//! member lands somewhere other than declared. Most Rust code uses the `tar`
//! crate's `Archive::unpack`, which silently re-roots absolute paths and
//! *skips* entries containing `..`, so a hostile or broken archive
//! "succeeds" with files missing. tarmac refuses instead of repairing, and
//! refuses the whole archive, extracting into a staging directory that it
//! removes on refusal, so what is installed is exactly what was built or
//! nothing (COMPAT.md § Archives):
//!
//! - container by magic bytes (zstd, gzip incl. multi-member, xz, plain tar);
//!   bytes after the last frame, or non-zero bytes after the tar end marker,
//!   are refused; so is a stream that ends early (truncated), an end
//!   marker of one zero block, or a stream with no entry at all;
//! - framing two tar readers could read differently: a header without the
//!   `ustar` magic, a base-256 number beyond 64 bits or negative, a NUL
//!   inside a GNU long name before its last byte, PAX and GNU records
//!   before one entry; PAX xattrs/ACLs (which would be dropped) too;
//! - names: relative UTF-8, no control characters or backslashes, no empty,
//!   `.` or `..` component (`./` prefix and `.` root allowed); names are
//!   never normalized; effective name = PAX `path` > GNU long name > ustar;
//!   PAX `size` overrides the header size;
//! - types: regular files, directories, symlinks whose target stays inside
//!   the package (also through the archive's own symlinks), and hardlinks to
//!   an earlier regular file; devices, FIFOs, sparse files, PAX global
//!   headers and setuid/setgid/sticky bits are refused; modes become
//!   0755/0644 by the exec bit;
//! - each path once, nothing under a file or symlink of the same archive;
//! - limits: entry count and content bytes, from the manifest when there is
//!   one (`bundle.json` first, or the package's `<id>.json`), checked as the
//!   stream goes, so an outgrowing stream stops at once;
//! - a refusal is exit 3 (4 for a tree hash mismatch), and the staging
//!   directory is removed.
//!
//! See docs/archive-format.md for the format and the policy table.

mod container;
mod delta;
mod error;
mod extract;
mod member;
mod name;
mod nodes;
mod tar_read;
mod tree;
mod write;
mod writers;

pub use container::Container;
pub use delta::{
    canonical_tar, canonical_tar_of_archive, decode_delta, delta_window, encode_delta, DELTA_LEVEL,
};
pub use error::{Error, Result};
pub use extract::{
    extract, extract_with, extract_with_writers, Expect, ExtractOptions, Extracted, Rejected,
};
pub use member::read_member;
pub use tree::{tree_hash, TreeDigest};
pub use write::{pack_dir, pack_dir_relocated, ArchiveWriter, WriteOptions, MAX_LEVEL, WINDOW_LOG};
