//! The three on-disk layouts, each one set of pure path functions: they
//! only join names (no I/O), so every crate and test spells a layout the
//! same way (docs/architecture.md § On-disk layouts).
//!
//! - [`repository`]: what pkg-build writes and pkg-bundle, cfg-gen,
//!   `--cache-url` and host-extract `--repository` read:
//!   `packages/<name>/<id>.tar.zst` beside its `<id>.json` manifest.
//! - [`serve`]: pkg-bundle's output and cfg-gen's serve tree: `bootstrap/`
//!   with the bundle, a repository's `packages/`, and cfg-gen's files.
//! - [`host`]: a host root (`/opt/mesosphere`): published packages and
//!   host-extract's records, pkg-activate's generations.
//!
//! Relative forms (`String`, `/`-separated) are for URLs and JSON entries;
//! the `Path` forms join them under a root.

/// The package repository: `packages/<name>/<id>.tar.zst` + `<id>.json`.
pub mod repository {
    use std::path::{Path, PathBuf};

    use crate::PackageId;

    /// The top directory of a repository (and of a serve tree).
    pub const PACKAGES: &str = "packages";
    /// A package archive's file name suffix.
    pub const ARCHIVE_SUFFIX: &str = ".tar.zst";
    /// A package manifest's file name suffix.
    pub const MANIFEST_SUFFIX: &str = ".json";

    /// `packages/<name>/<id>.tar.zst`, relative (a URL path, a
    /// `cluster-packages.json` filename).
    pub fn archive_relative(id: &PackageId) -> String {
        format!("{PACKAGES}/{}/{id}{ARCHIVE_SUFFIX}", id.name())
    }

    /// `packages/<name>/<id>.json`, relative.
    pub fn manifest_relative(id: &PackageId) -> String {
        format!("{PACKAGES}/{}/{id}{MANIFEST_SUFFIX}", id.name())
    }

    /// A delta index's file name suffix (`<id>.deltas.json`).
    pub const DELTAS_SUFFIX: &str = ".deltas.json";

    /// `packages/<name>/<id>.deltas.json`, relative: the deltas that
    /// produce `id` (cfg-gen `--upgrade-from`).
    pub fn deltas_relative(id: &PackageId) -> String {
        format!("{PACKAGES}/{}/{id}{DELTAS_SUFFIX}", id.name())
    }

    /// `packages/<name>/<id>.from-<base>.delta`, relative.
    pub fn delta_relative(id: &PackageId, base: &PackageId) -> String {
        format!("{PACKAGES}/{}/{id}.from-{base}.delta", id.name())
    }

    /// `<repo>/packages/<name>/<id>.deltas.json`
    pub fn deltas(repo: &Path, id: &PackageId) -> PathBuf {
        repo.join(deltas_relative(id))
    }

    /// `<repo>/packages/<name>/<id>.from-<base>.delta`
    pub fn delta(repo: &Path, id: &PackageId, base: &PackageId) -> PathBuf {
        repo.join(delta_relative(id, base))
    }

    /// `<repo>/packages/<name>`: every version of one package.
    pub fn package_dir(repo: &Path, name: &str) -> PathBuf {
        repo.join(PACKAGES).join(name)
    }

    /// `<repo>/packages/<name>/<id>.tar.zst`
    pub fn archive(repo: &Path, id: &PackageId) -> PathBuf {
        package_dir(repo, id.name()).join(format!("{id}{ARCHIVE_SUFFIX}"))
    }

    /// `<repo>/packages/<name>/<id>.json`
    pub fn manifest(repo: &Path, id: &PackageId) -> PathBuf {
        package_dir(repo, id.name()).join(format!("{id}{MANIFEST_SUFFIX}"))
    }

    /// The sidecar manifest of an archive file, wherever it lies:
    /// `<dir>/<stem>.tar.zst` -> `<dir>/<stem>.json`; `None` if the name
    /// does not end in `.tar.zst` (or is only that).
    pub fn manifest_beside(archive: &Path) -> Option<PathBuf> {
        let name = archive.file_name()?.to_str()?;
        let stem = name.strip_suffix(ARCHIVE_SUFFIX)?;
        (!stem.is_empty()).then(|| archive.with_file_name(format!("{stem}{MANIFEST_SUFFIX}")))
    }
}

/// pkg-bundle's output and cfg-gen's serve tree (`--dist`, `--out`):
/// `bootstrap/<bootstrap_id>.bootstrap.tar.zst` and `.active.json`, the
/// repository's `packages/`, and cfg-gen's top-level files.
pub mod serve {
    use std::path::{Path, PathBuf};

    /// The directory holding bundles.
    pub const BOOTSTRAP: &str = "bootstrap";
    /// A bundle's file name suffix.
    pub const BUNDLE_SUFFIX: &str = ".bootstrap.tar.zst";
    /// A bundle's active list's file name suffix.
    pub const ACTIVE_SUFFIX: &str = ".active.json";
    /// cfg-gen's `cluster-packages.json`.
    pub const CLUSTER_PACKAGES: &str = "cluster-packages.json";
    /// cfg-gen's `config.json`.
    pub const CONFIG_JSON: &str = "config.json";

    /// `<root>/bootstrap`
    pub fn bootstrap_dir(root: &Path) -> PathBuf {
        root.join(BOOTSTRAP)
    }

    /// `<bootstrap_id>.bootstrap.tar.zst`: a bundle's file name.
    pub fn bundle_name(bootstrap_id: &str) -> String {
        format!("{bootstrap_id}{BUNDLE_SUFFIX}")
    }

    /// `bootstrap/<bootstrap_id>.bootstrap.tar.zst`, relative.
    pub fn bundle_relative(bootstrap_id: &str) -> String {
        format!("{BOOTSTRAP}/{}", bundle_name(bootstrap_id))
    }

    /// `<root>/bootstrap/<bootstrap_id>.bootstrap.tar.zst`
    pub fn bundle(root: &Path, bootstrap_id: &str) -> PathBuf {
        bootstrap_dir(root).join(bundle_name(bootstrap_id))
    }

    /// `<root>/bootstrap/<bootstrap_id>.active.json`
    pub fn active(root: &Path, bootstrap_id: &str) -> PathBuf {
        bootstrap_dir(root).join(format!("{bootstrap_id}{ACTIVE_SUFFIX}"))
    }

    /// The bootstrap id a file name under `bootstrap/` names as a bundle.
    pub fn bundle_id(file_name: &str) -> Option<&str> {
        file_name.strip_suffix(BUNDLE_SUFFIX)
    }

    /// `<root>/cluster-packages.json`
    pub fn cluster_packages(root: &Path) -> PathBuf {
        root.join(CLUSTER_PACKAGES)
    }

    /// `<root>/config.json`
    pub fn config_json(root: &Path) -> PathBuf {
        root.join(CONFIG_JSON)
    }
}

/// A host root (`--root`, `/opt/mesosphere`): `packages/<id>/` published by
/// host-extract (with its `.staging/`, `.manifests/` and `.bundles/`), and
/// pkg-activate's `generations/`, `current` and records.
pub mod host {
    use std::path::{Path, PathBuf};

    /// `<root>/packages`
    pub fn packages(root: &Path) -> PathBuf {
        root.join(super::repository::PACKAGES)
    }

    /// `<root>/packages/<id>`: one published package (`id` as a string, so
    /// directory names read back from disk need no parsing).
    pub fn package(root: &Path, id: &str) -> PathBuf {
        packages(root).join(id)
    }

    /// `<root>/packages/.staging`: extraction before publishing.
    pub fn staging(root: &Path) -> PathBuf {
        packages(root).join(".staging")
    }

    /// `<root>/packages/.manifests`: the manifest each package was verified
    /// against.
    pub fn manifests(root: &Path) -> PathBuf {
        packages(root).join(".manifests")
    }

    /// `<root>/packages/.manifests/<id>.json`
    pub fn manifest(root: &Path, id: &str) -> PathBuf {
        manifests(root).join(format!("{id}.json"))
    }

    /// `<root>/packages/.bundles`: `bundle.json` of every bundle published,
    /// by blake3.
    pub fn bundles(root: &Path) -> PathBuf {
        packages(root).join(".bundles")
    }

    /// `<root>/packages/.bundles/<blake3>.json`
    pub fn bundle_record(root: &Path, blake3: &str) -> PathBuf {
        bundles(root).join(format!("{blake3}.json"))
    }

    /// `<root>/.lock`: the host lock.
    pub fn lock(root: &Path) -> PathBuf {
        root.join(".lock")
    }

    /// `<root>/generations`
    pub fn generations(root: &Path) -> PathBuf {
        root.join("generations")
    }

    /// `<root>/generations/<n>`
    pub fn generation(root: &Path, n: u64) -> PathBuf {
        generations(root).join(n.to_string())
    }

    /// `<root>/current`: the link to the active generation.
    pub fn current(root: &Path) -> PathBuf {
        root.join("current")
    }

    /// `<root>/installed-units.json`: the unit files pkg-activate installed.
    pub fn installed_units(root: &Path) -> PathBuf {
        root.join("installed-units.json")
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::PackageId;

    #[test]
    fn repository_paths() {
        let id = PackageId::parse("mesos--1.2").unwrap();
        let repo = Path::new("/r");
        assert_eq!(
            repository::archive(repo, &id),
            PathBuf::from("/r/packages/mesos/mesos--1.2.tar.zst")
        );
        assert_eq!(
            repository::manifest(repo, &id),
            PathBuf::from("/r/packages/mesos/mesos--1.2.json")
        );
        assert_eq!(
            repository::archive_relative(&id),
            "packages/mesos/mesos--1.2.tar.zst"
        );
        assert_eq!(
            repository::manifest_relative(&id),
            "packages/mesos/mesos--1.2.json"
        );
        assert_eq!(
            repository::manifest_beside(Path::new("/x/a--1.tar.zst")),
            Some(PathBuf::from("/x/a--1.json"))
        );
        assert_eq!(repository::manifest_beside(Path::new("/x/.tar.zst")), None);
        assert_eq!(repository::manifest_beside(Path::new("/x/a--1.tar")), None);
    }

    #[test]
    fn serve_paths() {
        let root = Path::new("/d");
        assert_eq!(
            serve::bundle(root, "b1"),
            PathBuf::from("/d/bootstrap/b1.bootstrap.tar.zst")
        );
        assert_eq!(
            serve::bundle_relative("b1"),
            "bootstrap/b1.bootstrap.tar.zst"
        );
        assert_eq!(
            serve::active(root, "b1"),
            PathBuf::from("/d/bootstrap/b1.active.json")
        );
        assert_eq!(serve::bundle_id("b1.bootstrap.tar.zst"), Some("b1"));
        assert_eq!(serve::bundle_id("b1.active.json"), None);
    }

    #[test]
    fn host_paths() {
        let root = Path::new("/opt/mesosphere");
        assert_eq!(
            host::package(root, "a--1"),
            PathBuf::from("/opt/mesosphere/packages/a--1")
        );
        assert_eq!(
            host::manifest(root, "a--1"),
            PathBuf::from("/opt/mesosphere/packages/.manifests/a--1.json")
        );
        assert_eq!(
            host::generation(root, 3),
            PathBuf::from("/opt/mesosphere/generations/3")
        );
    }
}
