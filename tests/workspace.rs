//! The checkout and the tools cargo built for this test run, as the
//! integration tests see them: the repository root, the directory holding
//! the six binaries, and a recursive copy that gives a test its own copy of
//! `packages/` or `genconf/` to edit. One definition, so every module copies
//! the example tree the same way (symlinks stay symlinks).

use std::path::{Path, PathBuf};

/// The repository root (the root package's manifest directory).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the six tools built for this test run.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_pkg-activate"))
        .parent()
        .expect("binary has a parent directory")
        .to_path_buf()
}

/// Copies the tree `from` into `to` (created): directories recursively,
/// symlinks as symlinks, everything else by content.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
