//! Build sources: how each kind is pinned (for the version hash, with no
//! network) and how it is checked out into `/pkg/src/<name>`.
//!
//! Kinds (pkgpanda's): `url` (a file copied as is), `url_extract` (an archive
//! extracted with its single top directory stripped), `git` (a commit of a
//! remote repository, fetched into a bare mirror under the cache), and
//! `git_local` (a local git work tree at its HEAD commit, which must be
//! clean; or, when the directory is not the top of a git work tree, its
//! content, pinned by tree hash).
//!
//! Invariants: a downloaded file is used only after its declared checksum
//! matched; a file that does not match is renamed to `<file>.corrupt` (kept
//! for inspection, never used) and the build fails with exit 4. Downloads are
//! cached by checksum, so the same file is fetched once for every package
//! and every run.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};
use sha1::Digest;
use tarmac_fs::Context;
use tarmac_model::{Reporter, Source as SourceSpec};

use crate::error::Error;
use crate::tree_hash::tree_hash;

/// A source with what pins it, resolved without network.
#[derive(Debug, Clone)]
pub struct PinnedSource {
    pub name: String,
    pub spec: SourceSpec,
    /// What enters the version hash.
    pub pin: Value,
    /// For git_local: the absolute directory.
    pub local_dir: Option<PathBuf>,
    /// The package directory: relative `file://` URLs start there (pkgpanda).
    pub package_dir: PathBuf,
}

/// Resolves what pins a source. Network is never used: url sources are
/// pinned by their declared checksums, git by the declared commit, git_local
/// by the local HEAD (or content).
pub fn pin(name: &str, spec: &SourceSpec, package_dir: &Path) -> Result<PinnedSource, Error> {
    let (pin, local_dir) = match spec {
        SourceSpec::Url {
            sha1,
            sha256,
            extract,
            ..
        } => {
            let mut pin = serde_json::Map::new();
            let kind = if *extract { "url_extract" } else { "url" };
            pin.insert("kind".into(), json!(kind));
            if let Some(sha1) = sha1 {
                pin.insert("sha1".into(), json!(sha1.to_ascii_lowercase()));
            }
            if let Some(sha256) = sha256 {
                pin.insert("sha256".into(), json!(sha256.to_ascii_lowercase()));
            }
            (Value::Object(pin), None)
        }
        SourceSpec::Git { reference, .. } => (json!({"kind": "git", "commit": reference}), None),
        SourceSpec::GitLocal { rel_path } => {
            let dir = normalize(&package_dir.join(rel_path));
            if !dir.is_dir() {
                return Err(Error::Source {
                    package: package_dir.to_path_buf(),
                    source_name: name.to_string(),
                    reason: format!(
                        "git_local rel_path {rel_path:?}: {} is not a directory",
                        dir.display()
                    ),
                });
            }
            let pin = if is_git_top(&dir) {
                let status = git(&dir, &["status", "--porcelain", "-uno", "-z"])?;
                if !status.is_empty() {
                    return Err(Error::GitDirty {
                        dir,
                        status: status.replace('\0', " ").trim().to_string(),
                    });
                }
                let commit = git(&dir, &["rev-parse", "HEAD^{commit}"])?;
                json!({"kind": "git_local", "commit": commit.trim()})
            } else {
                json!({"kind": "git_local", "tree": tree_hash(&dir, &[".git"])?})
            };
            (pin, Some(dir))
        }
    };
    Ok(PinnedSource {
        name: name.to_string(),
        spec: spec.clone(),
        pin,
        local_dir,
        package_dir: package_dir.to_path_buf(),
    })
}

/// Where downloads and git mirrors live, shared by all builds.
#[derive(Debug, Clone)]
pub struct SourceCache {
    pub dir: PathBuf,
}

/// Checks a source out into `dest` (an existing empty directory).
pub fn checkout(
    source: &PinnedSource,
    cache: &SourceCache,
    dest: &Path,
    reporter: &dyn Reporter,
) -> Result<(), Error> {
    match &source.spec {
        SourceSpec::Url {
            url,
            sha1,
            sha256,
            extract,
        } => {
            let file = fetch_url(
                url,
                sha1.as_deref(),
                sha256.as_deref(),
                &source.package_dir,
                cache,
                reporter,
            )?;
            if *extract {
                crate::extract::extract_stripped(&file, url, dest)
            } else {
                let target = dest.join(url_basename(url));
                fs::copy(&file, &target).with_path("copy", &target)?;
                Ok(())
            }
        }
        SourceSpec::Git {
            git: url,
            reference: commit,
            ref_origin,
        } => {
            let mirror = git_mirror(url, commit, cache, reporter)?;
            match git(&mirror, &["rev-parse", "--verify", "-q", &format!("{ref_origin}^{{commit}}")]) {
                Ok(origin) if origin.trim() != commit => reporter.note(&format!(
                    "{url}: ref {commit} is not ref_origin {ref_origin} ({}); consider updating the ref",
                    origin.trim()
                )),
                Ok(_) => {}
                Err(_) => reporter.note(&format!("{url}: ref_origin {ref_origin} not found")),
            }
            clone_at(&mirror, commit, dest)
        }
        SourceSpec::GitLocal { .. } => {
            let dir = source
                .local_dir
                .as_ref()
                .expect("pinned git_local has a dir");
            match source.pin.get("commit").and_then(Value::as_str) {
                Some(commit) => clone_at(dir, commit, dest),
                None => copy_tree(dir, dest, &[".git"]),
            }
        }
    }
}

/// The last path component of a URL (pkgpanda names the file after it).
pub fn url_basename(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    let name = without_query.rsplit('/').next().unwrap_or("");
    if name.is_empty() {
        "source".to_string()
    } else {
        name.to_string()
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_suffix() -> String {
    format!(
        "{}.{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Returns the cached, verified file for a url source, downloading it first
/// if needed.
fn fetch_url(
    url: &str,
    sha1: Option<&str>,
    sha256: Option<&str>,
    package_dir: &Path,
    cache: &SourceCache,
    reporter: &dyn Reporter,
) -> Result<PathBuf, Error> {
    let key = sha256.or(sha1).unwrap_or("unpinned").to_ascii_lowercase();
    let dir = cache.dir.join("sources").join(&key);
    tarmac_fs::create_dir_all(&dir)?;
    let file = dir.join(url_basename(url));
    if file.exists() {
        match verify(&file, url, sha1, sha256) {
            Ok(()) => return Ok(file),
            Err(Error::Checksum { .. }) => {
                reporter.note(&format!(
                    "{}: cached file does not match its checksum; moved aside, downloading again",
                    file.display()
                ));
                let corrupt = corrupt_name(&file);
                tarmac_fs::rename(&file, &corrupt)?;
            }
            Err(other) => return Err(other),
        }
    }
    let part = dir.join(format!(".{}.part.{}", url_basename(url), unique_suffix()));
    reporter.note(&format!("downloading {url}"));
    let result = download(url, &part, package_dir, reporter);
    if let Err(e) = result {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    if let Err(e) = verify(&part, url, sha1, sha256) {
        let corrupt = corrupt_name(&file);
        tarmac_fs::rename(&part, &corrupt)?;
        return Err(match e {
            Error::Checksum {
                url,
                algorithm,
                expected,
                actual,
                ..
            } => Error::Checksum {
                url,
                algorithm,
                expected,
                actual,
                kept: corrupt,
            },
            other => other,
        });
    }
    tarmac_fs::rename(&part, &file)?;
    Ok(file)
}

fn corrupt_name(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".corrupt");
    PathBuf::from(name)
}

/// Checks a file against the declared checksums (every one given must match).
fn verify(file: &Path, url: &str, sha1: Option<&str>, sha256: Option<&str>) -> Result<(), Error> {
    let mut input = tarmac_fs::open(file)?;
    let mut h1 = sha1::Sha1::new();
    let mut h256 = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = input.read(&mut buf).with_path("read", file)?;
        if n == 0 {
            break;
        }
        if sha1.is_some() {
            h1.update(&buf[..n]);
        }
        if sha256.is_some() {
            h256.update(&buf[..n]);
        }
    }
    let checks = [
        ("sha1", sha1, hex::encode(h1.finalize())),
        ("sha256", sha256, hex::encode(h256.finalize())),
    ];
    for (algorithm, expected, actual) in checks {
        if let Some(expected) = expected {
            if !expected.eq_ignore_ascii_case(&actual) {
                return Err(Error::Checksum {
                    url: url.to_string(),
                    algorithm,
                    expected: expected.to_string(),
                    actual,
                    kept: file.to_path_buf(),
                });
            }
        }
    }
    Ok(())
}

/// Downloads `url` into `dest`: `file://` is a local copy (a relative path
/// starts at the package directory, as in pkgpanda, so a tree can ship its
/// own source tarballs), `http(s)://` goes through tarmac-fetch (retries
/// with backoff, `Range` resume, and its one transient/fatal classifier).
fn download(
    url: &str,
    dest: &Path,
    package_dir: &Path,
    reporter: &dyn Reporter,
) -> Result<(), Error> {
    if let Some(path) = url.strip_prefix("file://") {
        let path = package_dir.join(path);
        fs::copy(&path, dest).map_err(|e| Error::Download {
            url: url.to_string(),
            reason: e.to_string(),
            transient: false,
        })?;
        return Ok(());
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::Download {
            url: url.to_string(),
            reason: "unsupported URL scheme (file://, http://, https://)".into(),
            transient: false,
        });
    }
    crate::remote::fetch_to_file(url, dest, &NotesOnly(reporter))?;
    Ok(())
}

/// Passes tarmac-fetch's notes (retries, dropped mirrors) on, but not its
/// byte counts: a source download is not the build's progress.
struct NotesOnly<'a>(&'a dyn Reporter);

impl Reporter for NotesOnly<'_> {
    fn note(&self, message: &str) {
        self.0.note(message);
    }
}

/// Makes sure the bare mirror of `url` holds `commit`, fetching only when it
/// does not (so a warm cache builds offline). Returns the mirror's path.
fn git_mirror(
    url: &str,
    commit: &str,
    cache: &SourceCache,
    reporter: &dyn Reporter,
) -> Result<PathBuf, Error> {
    let key = &blake3::hash(url.as_bytes()).to_hex()[..16];
    let git_dir = cache.dir.join("git");
    tarmac_fs::create_dir_all(&git_dir)?;
    let mirror = git_dir.join(format!("{key}.git"));
    let has_commit =
        |mirror: &Path| git(mirror, &["cat-file", "-e", &format!("{commit}^{{commit}}")]).is_ok();
    if mirror.is_dir() {
        if has_commit(&mirror) {
            return Ok(mirror);
        }
        reporter.note(&format!("fetching {url}"));
        git(&mirror, &["remote", "set-url", "origin", url])?;
        git(&mirror, &["fetch", "-q", "--prune", "origin"])?;
    } else {
        reporter.note(&format!("cloning {url}"));
        let temp = git_dir.join(format!(".{key}.git.{}", unique_suffix()));
        let status = Command::new("git")
            .args(["clone", "-q", "--mirror", url])
            .arg(&temp)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(|e| git_error(&git_dir, "clone --mirror", e.to_string()))?;
        if !status.status.success() {
            let _ = tarmac_fs::remove_all(&temp);
            return Err(Error::Download {
                url: url.to_string(),
                reason: format!(
                    "git clone: {}",
                    String::from_utf8_lossy(&status.stderr).trim()
                ),
                transient: true,
            });
        }
        if fs::rename(&temp, &mirror).is_err() {
            // Another build cloned it meanwhile: use theirs.
            let _ = tarmac_fs::remove_all(&temp);
        }
    }
    if !has_commit(&mirror) {
        return Err(Error::Source {
            package: PathBuf::from(url),
            source_name: commit.to_string(),
            reason: "commit not found in the repository".into(),
        });
    }
    Ok(mirror)
}

/// `git clone` of a local repository, then a detached checkout of `commit`.
fn clone_at(repo: &Path, commit: &str, dest: &Path) -> Result<(), Error> {
    let output = Command::new("git")
        .args(["clone", "-q", "--no-checkout"])
        .arg(repo)
        .arg(dest)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| git_error(repo, "clone", e.to_string()))?;
    if !output.status.success() {
        return Err(git_error(
            repo,
            "clone",
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    git(
        dest,
        &[
            "-c",
            "advice.detachedHead=false",
            "checkout",
            "-q",
            "-f",
            commit,
        ],
    )?;
    Ok(())
}

/// Whether `dir` is the top directory of a git work tree.
fn is_git_top(dir: &Path) -> bool {
    if !dir.join(".git").exists() {
        return false;
    }
    match git(dir, &["rev-parse", "--show-toplevel"]) {
        Ok(top) => {
            let top = PathBuf::from(top.trim());
            match (top.canonicalize(), dir.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
        }
        Err(_) => false,
    }
}

/// Runs `git -C dir args...` and returns its stdout.
fn git(dir: &Path, args: &[&str]) -> Result<String, Error> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| git_error(dir, &args.join(" "), e.to_string()))?;
    if !output.status.success() {
        return Err(git_error(
            dir,
            &args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn git_error(dir: &Path, command: &str, reason: String) -> Error {
    Error::Git {
        dir: dir.to_path_buf(),
        command: command.to_string(),
        reason,
    }
}

/// Lexically normalizes a path (`a/b/../c` -> `a/c`), like pkgpanda's
/// `os.path.normpath`.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Copies a directory tree (files with their exec bit, symlinks as links),
/// skipping top-level names in `skip`.
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<(), Error> {
    tarmac_fs::create_dir_all(to)?;
    let mut entries: BTreeMap<std::ffi::OsString, fs::DirEntry> = BTreeMap::new();
    for entry in fs::read_dir(from).with_path("read directory", from)? {
        let entry = entry.with_path("read directory", from)?;
        entries.insert(entry.file_name(), entry);
    }
    for (name, entry) in entries {
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let source = entry.path();
        let target = to.join(&name);
        let kind = entry.file_type().with_path("stat", &source)?;
        if kind.is_symlink() {
            let link = fs::read_link(&source).with_path("readlink", &source)?;
            tarmac_fs::symlink(&link, &target)?;
        } else if kind.is_dir() {
            copy_tree(&source, &target, &[])?;
        } else if kind.is_file() {
            fs::copy(&source, &target).with_path("copy", &source)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_basename_takes_the_last_component() {
        assert_eq!(
            url_basename("https://x.org/a/b/Python-3.6.8.tgz"),
            "Python-3.6.8.tgz"
        );
        assert_eq!(url_basename("file:///tmp/x.tar.gz?y=1"), "x.tar.gz");
        assert_eq!(url_basename("https://x.org/"), "source");
    }

    #[test]
    fn normalize_resolves_parent_components() {
        assert_eq!(
            normalize(Path::new("/a/b/c/../../d")),
            PathBuf::from("/a/d")
        );
        assert_eq!(normalize(Path::new("/a/b/./")), PathBuf::from("/a/b"));
    }

    #[test]
    fn url_pins_use_declared_checksums_only() {
        let spec = SourceSpec::Url {
            url: "https://example.invalid/x.tgz".into(),
            sha1: Some("ABCD".into()),
            sha256: None,
            extract: true,
        };
        let pinned = pin("x", &spec, Path::new("/nonexistent")).unwrap();
        assert_eq!(pinned.pin, json!({"kind": "url_extract", "sha1": "abcd"}));
    }
}
