//! Executing a plan: each package whose archive is not in the repository is
//! built in its own work directory, dependencies first, up to `jobs` at once.
//!
//! Invariant: `<repo>/packages/<name>/<id>.tar.zst` and its `<id>.json`
//! appear only complete (written to a temp name, fsynced, renamed) and only
//! for a build that succeeded and passed the output checks. A package counts
//! as cached only when both files exist. A failed build keeps its work
//! directory (with `build.log`) for inspection; a successful one removes it.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use serde::Serialize;
use serde_json::{json, Value};
use tarmac_archive::{pack_dir_relocated, WriteOptions};
use tarmac_model::layout::host;
use tarmac_model::layout::repository::{archive as archive_path, manifest as manifest_path};
use tarmac_model::{PackageId, Reporter};

use crate::deps;
use crate::error::Error;
use crate::plan::{Plan, PlannedPackage};
use crate::sandbox::{self, Invocation, Sandbox, SandboxMode};
use crate::source::{self, SourceCache};

/// Unit names no package may ship (pkgpanda `RESERVED_UNIT_NAMES`): they
/// belong to the installer itself.
pub const RESERVED_UNIT_NAMES: &[&str] =
    &["dcos.target", "dcos-download.service", "dcos-setup.service"];

/// Files pkg-build writes into every package; a build script may not.
const GENERATED: &[&str] = &["pkginfo.json", "buildinfo.full.json"];

/// How to execute a plan.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The package repository (`packages/<name>/<id>.tar.zst`).
    pub repo: PathBuf,
    /// Downloads and git mirrors.
    pub cache: SourceCache,
    /// Where per-build work directories are made.
    pub work: PathBuf,
    /// Packages built at once.
    pub jobs: usize,
    pub sandbox: SandboxMode,
    /// mtime of every archive entry (SOURCE_DATE_EPOCH).
    pub source_date_epoch: u64,
    /// zstd level of package archives.
    pub level: i32,
    /// A repository to fetch prebuilt packages from by id before building
    /// (`<url>/packages/<name>/<id>.tar.zst` and `.json`).
    pub cache_url: Option<String>,
    /// Cores reported to build scripts as `$NUM_CORES`.
    pub num_cores: usize,
}

/// What happened to one package of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Its archive was already in the repository.
    Cached,
    /// Downloaded from `--cache-url` (verified against its manifest).
    Fetched,
    /// Built now.
    Built,
}

/// One package of a finished build (an element of `pkg-build --json`).
#[derive(Debug, Clone, Serialize)]
pub struct Built {
    pub id: PackageId,
    pub name: String,
    pub variant: Option<String>,
    pub status: Status,
    pub archive: PathBuf,
}

/// Whether the archive and manifest of `id` are both in the repository.
pub fn is_cached(repo: &Path, id: &PackageId) -> bool {
    archive_path(repo, id).is_file() && manifest_path(repo, id).is_file()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done,
}

struct Schedule {
    state: Vec<State>,
    results: Vec<Option<Status>>,
    error: Option<Error>,
}

/// Builds every package of `plan` that is not cached, dependencies first,
/// `opts.jobs` at once. Stops starting new builds at the first failure and
/// returns it once the running ones end.
pub fn build(
    plan: &Plan,
    opts: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<Vec<Built>, Error> {
    let count = plan.packages.len();
    let isolation = choose_isolation(plan, opts, reporter)?;
    // Two pkg-build runs sharing a cache would share work directories: the
    // second waits. Skipped when everything is cached (a no-op stays fast).
    let _lock = if plan.packages.iter().all(|p| is_cached(&opts.repo, &p.id)) {
        None
    } else {
        tarmac_fs::create_dir_all(&opts.work)?;
        Some(tarmac_fs::HostLock::acquire(
            &opts.work.join(".lock"),
            tarmac_fs::LockWait::Wait,
        )?)
    };
    let schedule = Mutex::new(Schedule {
        state: vec![State::Pending; count],
        results: vec![None; count],
        error: None,
    });
    let wake = Condvar::new();
    let worker = || loop {
        let mut guard = schedule.lock().expect("no panics while locked");
        let next = loop {
            if guard.error.is_some() {
                return;
            }
            let ready = (0..count).find(|&i| {
                guard.state[i] == State::Pending
                    && plan.packages[i]
                        .deps
                        .iter()
                        .all(|&d| guard.state[d] == State::Done)
            });
            match ready {
                Some(i) => break i,
                None if guard.state.iter().all(|s| *s != State::Pending) => return,
                None => guard = wake.wait(guard).expect("no panics while locked"),
            }
        };
        guard.state[next] = State::Running;
        drop(guard);
        let result = build_one(&plan.packages[next], opts, isolation, reporter);
        let mut guard = schedule.lock().expect("no panics while locked");
        match result {
            Ok(status) => {
                guard.state[next] = State::Done;
                guard.results[next] = Some(status);
            }
            Err(e) => {
                guard.state[next] = State::Done;
                if guard.error.is_none() {
                    guard.error = Some(e);
                }
            }
        }
        wake.notify_all();
    };
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1).min(count.max(1)) {
            scope.spawn(worker);
        }
    });
    let schedule = schedule.into_inner().expect("workers ended");
    if let Some(e) = schedule.error {
        return Err(e);
    }
    Ok(plan
        .packages
        .iter()
        .zip(schedule.results)
        .map(|(p, status)| Built {
            id: p.id.clone(),
            name: p.key.name.clone(),
            variant: p.key.variant.clone(),
            status: status.expect("every package ran"),
            archive: archive_path(&opts.repo, &p.id),
        })
        .collect())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    Namespace,
    Host,
}

/// Resolves `SandboxMode::Auto` for this machine: `Namespace` when a mount
/// namespace can be made here, else `None` plus the warning the caller must
/// show (a library never prints; the warning matters even with `--quiet`).
pub fn resolve_sandbox(opts: &BuildOptions) -> Result<(SandboxMode, Option<String>), Error> {
    if opts.sandbox != SandboxMode::Auto {
        return Ok((opts.sandbox, None));
    }
    tarmac_fs::create_dir_all(&opts.work)?;
    match sandbox::probe(&opts.work) {
        Ok(()) => Ok((SandboxMode::Namespace, None)),
        Err(e) => Ok((
            SandboxMode::None,
            Some(format!(
                "warning: mount namespaces are unavailable here ({e}); build scripts run UNSANDBOXED \
                 on the host: use $PKG_SRC, $PKG_EXTRA, $PKG_INSTALL_ROOT and $PKG_PATH instead of \
                 /pkg/src, /pkg/extra and /opt/mesosphere"
            )),
        )),
    }
}

/// Decides once per run whether builds get a namespace: probing costs one
/// fork, and is skipped when nothing needs building.
fn choose_isolation(
    plan: &Plan,
    opts: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<Isolation, Error> {
    if opts.sandbox == SandboxMode::None {
        return Ok(Isolation::Host);
    }
    if plan.packages.iter().all(|p| is_cached(&opts.repo, &p.id)) {
        return Ok(Isolation::Host);
    }
    tarmac_fs::create_dir_all(&opts.work)?;
    if opts.sandbox == SandboxMode::Auto {
        let (mode, warning) = resolve_sandbox(opts)?;
        if let Some(warning) = warning {
            reporter.note(&warning);
        }
        return Ok(match mode {
            SandboxMode::Namespace => Isolation::Namespace,
            _ => Isolation::Host,
        });
    }
    match sandbox::probe(&opts.work) {
        Ok(()) => Ok(Isolation::Namespace),
        Err(e) => Err(Error::Sandbox {
            reason: format!("mount namespace unavailable: {e}"),
        }),
    }
}

fn build_one(
    package: &PlannedPackage,
    opts: &BuildOptions,
    isolation: Isolation,
    reporter: &dyn Reporter,
) -> Result<Status, Error> {
    let id = &package.id;
    if is_cached(&opts.repo, id) {
        reporter.note(&format!("{id}: cached"));
        return Ok(Status::Cached);
    }
    if let Some(url) = &opts.cache_url {
        match crate::remote::fetch_package(url, &opts.repo, &opts.work, id) {
            Ok(true) => {
                reporter.note(&format!("{id}: fetched from {url}"));
                return Ok(Status::Fetched);
            }
            Ok(false) => {}
            // A bad or unreachable cache is no reason not to build.
            Err(e) => reporter.note(&format!("{id}: not fetched from {url}: {e}")),
        }
    }
    let script = package.build_script.clone().ok_or_else(|| Error::Tree {
        file: package.recipe.dir.join(
            package
                .recipe
                .info
                .build_script_path(package.key.variant.as_deref()),
        ),
        reason: "build script missing: the package can be planned but not built".into(),
    })?;
    let mode = tarmac_fs::open(&script)?
        .metadata()
        .map_err(|e| tarmac_fs::FsError::new("stat", &script, e))?
        .permissions()
        .mode();
    if mode & 0o111 == 0 {
        return Err(Error::Tree {
            file: script,
            reason: "build script is not executable (chmod +x it)".into(),
        });
    }
    reporter.note(&format!("{id}: building"));

    // Absolute: the unsandboxed script runs in another working directory.
    let work = absolute(&opts.work.join(id.to_string()))?;
    tarmac_fs::remove_all(&work)?;
    let root = work.join("root");
    let src = root.join("pkg").join("src");
    let install_root = root.join("opt").join("mesosphere");
    let out = host::package(&install_root, &id.to_string());
    tarmac_fs::create_dir_all(&src)?;
    for source in &package.sources {
        source::checkout(source, &opts.cache, &src.join(&source.name), reporter)?;
    }
    deps::prepare(&install_root, &opts.repo, &package.closure)?;
    tarmac_fs::create_dir_all(&out)?;
    let log = work.join("build.log");
    let script_rel = script
        .strip_prefix(&package.recipe.dir)
        .unwrap_or(&script)
        .to_path_buf();

    // $PKG_PATH as the script saw it: absolute links into it are archived
    // as relative ones (the package lives elsewhere on a host).
    let pkg_path_seen = match isolation {
        Isolation::Namespace => Path::new("/opt/mesosphere/packages").join(id.to_string()),
        Isolation::Host => out.clone(),
    };
    let status = match isolation {
        Isolation::Namespace => {
            let inside = |p: &Path| Path::new("/").join(p.strip_prefix(&root).expect("under root"));
            let mut binds = vec![(package.recipe.dir.clone(), PathBuf::from("/pkg/build"))];
            if let Some(extra) = &package.extra {
                binds.push((extra.clone(), PathBuf::from("/pkg/extra")));
            }
            let env = environment(
                package,
                opts,
                &inside(&src),
                &inside(&install_root),
                &inside(&out),
                Path::new("/tmp"),
            );
            let sandbox =
                Sandbox::prepare(&root, &[src.clone(), out.clone()], &binds).map_err(|e| {
                    Error::Sandbox {
                        reason: format!("{}: {e}", root.display()),
                    }
                })?;
            let script_inside = Path::new("/pkg/build").join(&script_rel);
            sandbox
                .run(&Invocation {
                    script: &script_inside,
                    env: &env,
                    log: &log,
                })
                .map_err(|e| Error::Sandbox {
                    reason: format!("running {}: {e}", script.display()),
                })?
        }
        Isolation::Host => {
            let tmp = work.join("tmp");
            tarmac_fs::create_dir_all(&tmp)?;
            let extra = package
                .extra
                .clone()
                .unwrap_or_else(|| root.join("pkg").join("extra"));
            let mut env = environment(package, opts, &src, &install_root, &out, &tmp);
            env.push(("PKG_EXTRA".into(), extra.display().to_string()));
            sandbox::run_unsandboxed(
                &Invocation {
                    script: &script,
                    env: &env,
                    log: &log,
                },
                &root.join("pkg"),
            )
            .map_err(|e| Error::Sandbox {
                reason: format!("running {}: {e}", script.display()),
            })?
        }
    };
    if !status.success() {
        return Err(Error::BuildFailed {
            package: id.to_string(),
            script,
            status: status.to_string(),
            tail: log_tail(&log, 20),
            log,
        });
    }

    check_output(id, &out)?;
    write_generated(package, &out)?;
    let archive = archive_path(&opts.repo, id);
    tarmac_fs::create_dir_all(archive.parent().expect("archive has a parent"))?;
    let options = WriteOptions {
        level: opts.level,
        threads: 0,
        mtime: opts.source_date_epoch,
    };
    let manifest = pack_dir_relocated(
        id,
        &out,
        &archive,
        options,
        &pkg_path_seen.display().to_string(),
    )?;
    let text =
        serde_json::to_string_pretty(&manifest.to_json()).expect("manifest serializes") + "\n";
    tarmac_fs::write_atomic(&manifest_path(&opts.repo, id), text.as_bytes())?;
    // The log outlives the work directory: `<work>/../logs/<id>.log`.
    let logs = opts.work.join("logs");
    tarmac_fs::create_dir_all(&logs)?;
    tarmac_fs::rename(&log, &logs.join(format!("{id}.log")))?;
    if let Err(e) = remove_work(&work) {
        reporter.note(&format!("warning: {e}"));
    }
    reporter.note(&format!("{id}: built"));
    Ok(Status::Built)
}

/// The environment of a build script. Paths are as the script sees them.
fn environment(
    package: &PlannedPackage,
    opts: &BuildOptions,
    src: &Path,
    install_root: &Path,
    out: &Path,
    tmp: &Path,
) -> Vec<(String, String)> {
    let id = &package.id;
    let mut env = vec![
        ("PKG_NAME".to_string(), id.name().to_string()),
        ("PKG_VERSION".to_string(), id.version().to_string()),
        ("PKG_ID".to_string(), id.to_string()),
        (
            "PKG_VARIANT".to_string(),
            package
                .key
                .variant
                .clone()
                .unwrap_or_else(|| "<default>".into()),
        ),
        ("PKG_PATH".to_string(), out.display().to_string()),
        ("PKG_SRC".to_string(), src.display().to_string()),
        (
            "PKG_INSTALL_ROOT".to_string(),
            install_root.display().to_string(),
        ),
        ("NUM_CORES".to_string(), opts.num_cores.to_string()),
        (
            "SOURCE_DATE_EPOCH".to_string(),
            opts.source_date_epoch.to_string(),
        ),
        (
            "PATH".to_string(),
            format!(
                "{}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                install_root.display()
            ),
        ),
        ("HOME".to_string(), tmp.display().to_string()),
        ("TMPDIR".to_string(), tmp.display().to_string()),
        ("LC_ALL".to_string(), "C".to_string()),
    ];
    if package.extra.is_some() && src.starts_with("/pkg") {
        env.push(("PKG_EXTRA".to_string(), "/pkg/extra".to_string()));
    }
    env
}

/// Refuses reserved unit names in `dcos.target.wants[_<role>]/` and files
/// the builder generates.
fn check_output(id: &PackageId, out: &Path) -> Result<(), Error> {
    for name in GENERATED {
        if std::fs::symlink_metadata(out.join(name)).is_ok() {
            return Err(Error::Output {
                package: id.to_string(),
                path: name.to_string(),
                reason:
                    "written by the build script, but pkg-build generates it from buildinfo.json"
                        .into(),
            });
        }
    }
    let mut entries: Vec<String> = std::fs::read_dir(out)
        .map_err(|e| tarmac_fs::FsError::new("read directory", out, e))?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    entries.sort();
    for dir in entries
        .iter()
        .filter(|n| *n == "dcos.target.wants" || n.starts_with("dcos.target.wants_"))
    {
        let path = out.join(dir);
        let mut units: Vec<String> = std::fs::read_dir(&path)
            .map_err(|e| tarmac_fs::FsError::new("read directory", &path, e))?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        units.sort();
        if let Some(unit) = units
            .iter()
            .find(|u| RESERVED_UNIT_NAMES.contains(&u.as_str()))
        {
            return Err(Error::Output {
                package: id.to_string(),
                path: format!("{dir}/{unit}"),
                reason: format!(
                    "reserved unit name (reserved: {})",
                    RESERVED_UNIT_NAMES.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// Writes `pkginfo.json` (what activation reads) and `buildinfo.full.json`
/// (everything that went into the version, for audit).
fn write_generated(package: &PlannedPackage, out: &Path) -> Result<(), Error> {
    let info = &package.recipe.info;
    let pkginfo = info.to_pkginfo(package.key.variant.as_deref());
    let mut sources = BTreeMap::new();
    for source in &package.sources {
        let mut declared = source.spec.to_json();
        if let (Value::Object(map), Value::Object(pin)) = (&mut declared, &source.pin) {
            for (k, v) in pin {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        sources.insert(source.name.clone(), declared);
    }
    let full = json!({
        "name": package.key.name,
        "variant": package.key.variant,
        "package_version": package.id.version(),
        "requires": info.requires.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "sources": sources,
        "build_ids": package.inputs.to_json(),
    });
    for (name, value) in [
        ("pkginfo.json", pkginfo.to_json()),
        ("buildinfo.full.json", full),
    ] {
        let text = serde_json::to_string_pretty(&value).expect("JSON serializes") + "\n";
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| tarmac_fs::FsError::new("write", &path, e))?;
    }
    Ok(())
}

fn absolute(path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path).map_err(|e| tarmac_fs::FsError::new("absolute path", path, e).into())
}

fn log_tail(log: &Path, lines: usize) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect()
}

/// Removes a work directory, making read-only directories writable first
/// (build tools like Go leave them behind).
fn remove_work(work: &Path) -> Result<(), Error> {
    if tarmac_fs::remove_all(work).is_ok() {
        return Ok(());
    }
    make_writable(work);
    Ok(tarmac_fs::remove_all(work)?)
}

fn make_writable(dir: &Path) {
    if let Ok(meta) = std::fs::symlink_metadata(dir) {
        if meta.is_dir() {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
            if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    make_writable(&entry.path());
                }
            }
        }
    }
}
