//! Writing `genconf/serve/`: the directory any HTTP server publishes at
//! `bootstrap_url` and every host installs from.
//!
//! Layout: `bootstrap/` (the bundle and its active list), `packages/` (the
//! bundle's packages and the config packages `<pkg>--setup_<configid>`,
//! each with its `<id>.json` manifest), `cluster-packages.json`,
//! `config.json`, `ip-detect` (+ `ip-detect-public`), `bin/` (host tools and
//! `SHA256SUMS`) and `dcos_install.sh`. With `--upgrade-from` a previous
//! serve tree, also the deltas from its packages to these
//! (`<id>.from-<old id>.delta` and `<id>.deltas.json`, [`write_deltas`]).
//!
//! Invariant: the tree is built in a sibling staging directory and swapped
//! in by rename, so `serve/` is always the complete old or new tree, and the
//! same inputs give the same bytes (deterministic archives, sorted JSON).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use tarmac_fs::{Context, FsError};
use tarmac_model::layout::{repository, serve};
use tarmac_model::{
    ActiveList, BundleManifest, ClusterPackages, DeltaIndex, DeltaRecord, PackageId,
    PackageManifest, DELTA_FORMAT,
};

use crate::generate::{validate, Error, GenOptions, Generated, Validated};
use crate::install_script::{self, ScriptValues};

/// The host tools dcos_install.sh downloads from `bin/`.
pub const HOST_TOOLS: [&str; 3] = ["host-extract", "ip-detect-run", "pkg-activate"];

/// The config package that carries `bin/detect_ip` (created if no template
/// directory has that name), as in DC/OS.
pub const IP_DETECT_PACKAGE: &str = "dcos-config";

/// The bundle cfg-gen serves.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub id: String,
    pub archive: PathBuf,
    pub active_json: PathBuf,
    pub active: ActiveList,
}

/// Finds the bundle in `dist/bootstrap/` (the one named, or the only one).
pub fn find_bundle(dist: &Path, wanted: Option<&str>) -> Result<Bundle, Error> {
    let dir = serve::bootstrap_dir(dist);
    if !dir.is_dir() {
        return Err(Error::Input {
            path: dir,
            reason: "no bundle directory here: --dist names pkg-bundle's output directory".into(),
        });
    }
    let id = match wanted {
        Some(id) => id.to_string(),
        None => {
            let mut ids = Vec::new();
            for entry in fs::read_dir(&dir).with_path("read directory", &dir)? {
                let name = entry.with_path("read directory", &dir)?.file_name();
                if let Some(id) = serve::bundle_id(&name.to_string_lossy()) {
                    ids.push(id.to_string());
                }
            }
            ids.sort();
            match ids.len() {
                1 => ids.remove(0),
                0 => {
                    return Err(Error::Input {
                        path: dir,
                        reason: "no <bootstrap_id>.bootstrap.tar.zst here (run pkg-bundle)".into(),
                    })
                }
                _ => {
                    return Err(Error::Input {
                        path: dir,
                        reason: format!(
                            "several bundles ({}): choose one with --bootstrap-id",
                            ids.join(", ")
                        ),
                    })
                }
            }
        }
    };
    let archive = serve::bundle(dist, &id);
    let active_json = serve::active(dist, &id);
    if !archive.is_file() {
        return Err(Error::Input {
            path: archive,
            reason: "bundle not found".into(),
        });
    }
    let bytes = tarmac_fs::read(&active_json)?;
    let active = ActiveList::parse(&active_json.display().to_string(), &bytes).map_err(|e| {
        Error::Input {
            path: active_json.clone(),
            reason: e.to_string(),
        }
    })?;
    Ok(Bundle {
        id,
        archive,
        active_json,
        active,
    })
}

/// Runs the whole of cfg-gen: validate, render, pack, write `serve/`,
/// naming each step to `reporter` (validate, tools, build, publish).
pub fn generate(
    options: &GenOptions,
    repo: &Path,
    bundle: &Bundle,
    reporter: &dyn tarmac_model::Reporter,
) -> Result<Generated, Error> {
    reporter.step("validate");
    let validated = validate(options, Some(&bundle.id))?;
    reporter.finish_step();
    for name in validated.templates.packages.keys() {
        if bundle.active.ids.iter().any(|id| id.name() == name) {
            return Err(Error::Package {
                package: name.clone(),
                reason: format!(
                    "{}: the bundle already has a package named {name}; a host cannot activate two",
                    options.templates_dir().join(name).display()
                ),
            });
        }
    }
    reporter.step("tools");
    let tools = find_tools(options)?;
    reporter.finish_step();
    let upgrade_from = match &options.upgrade_from {
        Some(path) => Some(previous_config_id(path)?),
        None => None,
    };

    let output = &options.output;
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    tarmac_fs::create_dir_all(&parent)?;
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "serve".into());
    // One cfg-gen per serve tree; under the lock, what a crashed run left
    // (staging or the aside copy of an old tree) can safely be removed.
    let lock_path = parent.join(format!(".{name}.lock"));
    let _lock = tarmac_fs::HostLock::acquire(&lock_path, tarmac_fs::LockWait::NoWait).map_err(
        |e| match e {
            tarmac_fs::LockError::Held { path } => Error::Busy { path },
            tarmac_fs::LockError::Fs(e) => Error::Fs(e),
        },
    )?;
    remove_leftovers(&parent, &name)?;
    let staging = parent.join(format!(".{name}.tmp.{}", std::process::id()));
    reporter.step("build");
    let result = build(
        options,
        repo,
        bundle,
        &validated,
        &tools,
        upgrade_from.as_deref(),
        &staging,
    );
    let generated = match result {
        Ok(generated) => generated,
        Err(e) => {
            let _ = tarmac_fs::remove_all(&staging);
            return Err(e);
        }
    };
    reporter.finish_step();
    reporter.step("publish");
    swap_in(&staging, output, &name)?;
    reporter.finish_step();
    Ok(generated)
}

/// Removes `.<name>.tmp.*` and `.<name>.old.*` left by interrupted runs.
fn remove_leftovers(parent: &Path, name: &str) -> Result<(), FsError> {
    let prefixes = [format!(".{name}.tmp."), format!(".{name}.old.")];
    for entry in fs::read_dir(parent).with_path("read directory", parent)? {
        let entry = entry.with_path("read directory", parent)?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if prefixes.iter().any(|p| file_name.starts_with(p.as_str())) {
            tarmac_fs::remove_all(&entry.path())?;
        }
    }
    Ok(())
}

/// A host tool to serve: its file and sha256.
#[derive(Debug, Clone)]
struct Tool {
    name: &'static str,
    path: PathBuf,
    sha256: String,
}

fn find_tools(options: &GenOptions) -> Result<Vec<Tool>, Error> {
    let dir = options.bin_dir.clone().ok_or_else(|| Error::Input {
        path: PathBuf::from("--bin-dir"),
        reason: "no directory of host tools given".into(),
    })?;
    let mut tools = Vec::new();
    for name in HOST_TOOLS {
        let path = dir.join(name);
        if !path.is_file() {
            return Err(Error::Input {
                path,
                reason: "host tool missing from the --bin-dir directory".into(),
            });
        }
        let sha256 = sha256_file(&path)?;
        tools.push(Tool { name, path, sha256 });
    }
    Ok(tools)
}

fn sha256_file(path: &Path) -> Result<String, FsError> {
    let mut file = tarmac_fs::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer).with_path("read", path)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn blake3_file(path: &Path) -> Result<String, FsError> {
    let mut hasher = blake3::Hasher::new();
    let file = tarmac_fs::open(path)?;
    hasher.update_reader(file).with_path("read", path)?;
    Ok(hasher.finalize().to_hex().to_string())
}

fn build(
    options: &GenOptions,
    repo: &Path,
    bundle: &Bundle,
    validated: &Validated,
    tools: &[Tool],
    upgrade_from: Option<&str>,
    staging: &Path,
) -> Result<Generated, Error> {
    let config_id = &validated.config_id;
    let templates_dir = options.templates_dir();
    let rendered = validated
        .templates
        .render(&templates_dir, &validated.resolved)
        .map_err(|problems| Error::Invalid {
            file: options.config_file(),
            problems: problems.into_iter().map(Into::into).collect(),
            warnings: validated.resolved.warnings.clone(),
        })?;
    let packages = with_ip_detect(rendered, validated)?;

    // bootstrap/
    let bootstrap = serve::bootstrap_dir(staging);
    tarmac_fs::create_dir_all(&bootstrap)?;
    link_or_copy(&bundle.archive, &bootstrap.join(file_name(&bundle.archive)))?;
    link_or_copy(
        &bundle.active_json,
        &bootstrap.join(file_name(&bundle.active_json)),
    )?;

    // packages/: the bundle's, then the config packages. Each is pinned in
    // dcos_install.sh by the tree hash bundle.json gives it (the served
    // manifest must agree) and each config package by its own.
    let bundled = bundle_tree_hashes(bundle)?;
    let mut pins: Vec<(String, String)> = Vec::new();
    let mut install_bytes: u64 = 0;
    for id in &bundle.active.ids {
        let target = repository::package_dir(staging, id.name());
        tarmac_fs::create_dir_all(&target)?;
        let archive = repository::archive(repo, id);
        let manifest_path = repository::manifest(repo, id);
        if !archive.is_file() || !manifest_path.is_file() {
            return Err(Error::Input {
                path: archive,
                reason: format!(
                    "package {id} of bundle {} is not in the repository (with its .json manifest)",
                    bundle.id
                ),
            });
        }
        let manifest: PackageManifest = serde_json::from_slice(&tarmac_fs::read(&manifest_path)?)
            .map_err(|e| Error::Input {
            path: manifest_path.clone(),
            reason: format!("not a package manifest: {e}"),
        })?;
        match bundled.get(id) {
            Some(hash) if *hash == manifest.tree_hash => {}
            other => {
                return Err(Error::Input {
                    path: manifest_path,
                    reason: format!(
                        "tree hash {} disagrees with bundle {}'s bundle.json ({}): the repository does not hold the bundled package",
                        manifest.tree_hash,
                        bundle.id,
                        other.map_or("no entry", String::as_str)
                    ),
                })
            }
        }
        pins.push((id.to_string(), manifest.tree_hash.clone()));
        install_bytes += manifest.bytes;
        link_or_copy(&archive, &target.join(file_name(&archive)))?;
        link_or_copy(&manifest_path, &target.join(file_name(&manifest_path)))?;
    }
    let pack_root = staging.join(".render");
    let mut config_ids = Vec::new();
    for (name, files) in &packages {
        let id = PackageId::parse(&format!("{name}--setup_{config_id}")).map_err(|e| {
            Error::Package {
                package: name.clone(),
                reason: e.to_string(),
            }
        })?;
        let tree = pack_root.join(name);
        write_tree(&tree, files)?;
        tarmac_fs::create_dir_all(&repository::package_dir(staging, name))?;
        let archive = repository::archive(staging, &id);
        let manifest =
            tarmac_archive::pack_dir(&id, &tree, &archive, Default::default()).map_err(|e| {
                Error::Package {
                    package: name.clone(),
                    reason: e.to_string(),
                }
            })?;
        install_bytes += manifest.bytes;
        pins.push((id.to_string(), manifest.tree_hash.clone()));
        write_json(&repository::manifest(staging, &id), &manifest)?;
        config_ids.push(id);
    }
    tarmac_fs::remove_all(&pack_root)?;
    if let Some(old) = options.upgrade_from.as_deref().filter(|p| p.is_dir()) {
        let ids: Vec<PackageId> = bundle
            .active
            .ids
            .iter()
            .chain(&config_ids)
            .cloned()
            .collect();
        write_deltas(staging, old, &ids)?;
    }

    let cluster =
        ClusterPackages::new("cluster-packages.json", config_ids.clone()).map_err(|e| {
            Error::Package {
                package: "cluster-packages.json".into(),
                reason: e.to_string(),
            }
        })?;
    let cluster_json = pretty(&cluster.to_json());
    write_bytes(
        &serve::cluster_packages(staging),
        cluster_json.as_bytes(),
        false,
    )?;
    write_json(&serve::config_json(staging), &validated.config_document())?;

    // ip-detect scripts, served for dcos_install.sh (which runs it before
    // any package is extracted).
    let ip_detect = validated
        .resolved
        .get("ip_detect_contents")
        .unwrap_or_default();
    write_bytes(&staging.join("ip-detect"), ip_detect.as_bytes(), true)?;
    if let Some(public) = validated.resolved.get("ip_detect_public_contents") {
        write_bytes(&staging.join("ip-detect-public"), public.as_bytes(), true)?;
    }

    // bin/
    let bin = staging.join("bin");
    tarmac_fs::create_dir_all(&bin)?;
    let mut sums = String::new();
    for tool in tools {
        let target = bin.join(tool.name);
        fs::copy(&tool.path, &target).with_path("copy", &tool.path)?;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
            .with_path("chmod", &target)?;
        sums.push_str(&format!("{}  {}\n", tool.sha256, tool.name));
    }
    write_bytes(&bin.join("SHA256SUMS"), sums.as_bytes(), false)?;

    let mut cluster_ids: Vec<String> = config_ids.iter().map(ToString::to_string).collect();
    cluster_ids.sort();
    let mut values = ScriptValues {
        mode: "install",
        upgrade_from: String::new(),
        bootstrap_url: validated
            .resolved
            .get("bootstrap_url")
            .unwrap_or_default()
            .to_string(),
        bootstrap_mirrors: validated
            .resolved
            .get("bootstrap_mirrors")
            .map(|v| crate::checks::json_list(v).unwrap_or_default())
            .unwrap_or_default(),
        bootstrap_id: bundle.id.clone(),
        bundle_blake3: blake3_file(&bundle.archive)?,
        config_id: config_id.clone(),
        bundle_packages: bundle.active.ids.iter().map(ToString::to_string).collect(),
        cluster_packages: cluster_ids.clone(),
        package_pins: pins,
        cluster_packages_json: cluster_json.trim_end().to_string(),
        install_bytes,
        tools: tools
            .iter()
            .map(|t| (t.sha256.clone(), t.name.to_string()))
            .collect(),
        ip_detect_sha256: hex::encode(Sha256::digest(ip_detect.as_bytes())),
    };
    let script = install_script::render(&values);
    write_bytes(&staging.join("dcos_install.sh"), script.as_bytes(), true)?;
    let upgrade_script = match upgrade_from {
        Some(old) => {
            values.mode = "upgrade";
            values.upgrade_from = old.to_string();
            let relative = PathBuf::from(format!("upgrade/{old}/dcos_node_upgrade.sh"));
            let path = staging.join(&relative);
            tarmac_fs::create_dir_all(path.parent().expect("has a parent"))?;
            write_bytes(&path, install_script::render(&values).as_bytes(), true)?;
            Some(relative)
        }
        None => None,
    };
    tarmac_fs::syncfs(staging)?;

    Ok(Generated {
        format: 1,
        config_id: config_id.clone(),
        bootstrap_id: bundle.id.clone(),
        output: options.output.clone(),
        cluster_packages: cluster_ids,
        upgrade_script,
        warnings: validated.resolved.warnings.clone(),
        warning_lines: validated.warning_lines(),
    })
}

/// A delta is written only when it is at most this fraction (1/N) of the
/// package's archive: a larger one saves too little to be worth a host
/// regenerating and decoding (docs/archive-format.md § Deltas).
const MAX_DELTA_FRACTION: u64 = 2;

/// Writes, for every package of `ids` whose name the previous serve tree
/// `old` also serves under another id, `<id>.from-<old id>.delta` (when
/// small enough) and `<id>.deltas.json` listing them (empty when none was
/// worth it), so a host holding the old version fetches the delta
/// instead of the archive (docs/upgrade-rollback.md § Deltas).
fn write_deltas(staging: &Path, old: &Path, ids: &[PackageId]) -> Result<(), Error> {
    let package_error = |id: &PackageId, reason: String| Error::Package {
        package: id.to_string(),
        reason,
    };
    for id in ids {
        let bases = previous_versions(old, id)?;
        if bases.is_empty() {
            continue;
        }
        let manifest = read_served_manifest(staging, id)?;
        let archive = repository::archive(staging, id);
        let archive_bytes = fs::metadata(&archive).with_path("stat", &archive)?.len();
        let target = tarmac_archive::canonical_tar_of_archive(
            tarmac_fs::open(&archive)?,
            &manifest,
            Vec::new(),
        )
        .map_err(|e| package_error(id, format!("{}: {e}", archive.display())))?;
        let mut deltas = Vec::new();
        for base in bases {
            let base_archive = repository::archive(old, &base);
            let base_tar = tarmac_archive::canonical_tar_of_archive(
                tarmac_fs::open(&base_archive)?,
                &read_served_manifest(old, &base)?,
                Vec::new(),
            )
            .map_err(|e| package_error(id, format!("{}: {e}", base_archive.display())))?;
            let frame =
                tarmac_archive::encode_delta(&base_tar, &target, tarmac_archive::DELTA_LEVEL)
                    .map_err(|e| package_error(id, format!("from {base}: {e}")))?;
            if frame.len() as u64 * MAX_DELTA_FRACTION > archive_bytes {
                continue;
            }
            let (window, _) = tarmac_archive::delta_window(&frame)
                .ok_or_else(|| package_error(id, "the encoder wrote no frame header".into()))?;
            write_bytes(&repository::delta(staging, id, &base), &frame, false)?;
            deltas.push(DeltaRecord {
                bytes: frame.len() as u64,
                blake3: blake3::hash(&frame).to_hex().to_string(),
                base_tar_bytes: base_tar.len() as u64,
                base_tar_blake3: blake3::hash(&base_tar).to_hex().to_string(),
                base,
                window,
            });
        }
        let index = DeltaIndex {
            format: DELTA_FORMAT,
            id: id.clone(),
            tar_bytes: target.len() as u64,
            deltas,
        };
        write_json(&repository::deltas(staging, id), &index.to_json())?;
    }
    Ok(())
}

/// The other versions of `id`'s package that the serve tree `old` holds
/// (archive and manifest), sorted.
fn previous_versions(old: &Path, id: &PackageId) -> Result<Vec<PackageId>, Error> {
    let dir = repository::package_dir(old, id.name());
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FsError::new("read directory", &dir, e).into()),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let name = entry.with_path("read directory", &dir)?.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(repository::DELTAS_SUFFIX) {
            continue;
        }
        let Some(stem) = name.strip_suffix(repository::MANIFEST_SUFFIX) else {
            continue;
        };
        match PackageId::parse(stem) {
            Ok(base)
                if base.name() == id.name()
                    && base != *id
                    && repository::archive(old, &base).is_file() =>
            {
                ids.push(base)
            }
            _ => {}
        }
    }
    ids.sort();
    Ok(ids)
}

fn read_served_manifest(root: &Path, id: &PackageId) -> Result<PackageManifest, Error> {
    let path = repository::manifest(root, id);
    let bytes = tarmac_fs::read(&path)?;
    PackageManifest::parse(&path.display().to_string(), &bytes).map_err(|e| Error::Input {
        path,
        reason: e.to_string(),
    })
}

/// id -> tree hash of each package in the bundle's `bundle.json`.
fn bundle_tree_hashes(bundle: &Bundle) -> Result<BTreeMap<PackageId, String>, Error> {
    let path = &bundle.archive;
    let file = tarmac_fs::open(path)?;
    let bytes = tarmac_archive::read_member(file, "bundle.json", 64 << 20)
        .map_err(|e| Error::Input {
            path: path.clone(),
            reason: format!("cannot read bundle.json: {e}"),
        })?
        .ok_or_else(|| Error::Input {
            path: path.clone(),
            reason: "no bundle.json in the bundle".into(),
        })?;
    let manifest =
        BundleManifest::parse(&path.display().to_string(), &bytes).map_err(|e| Error::Input {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    Ok(manifest
        .packages
        .into_iter()
        .map(|p| (p.id, p.tree_hash))
        .collect())
}

/// The config id of a previous cfg-gen run: `config.json` in `path` (a
/// serve directory) or `path` itself.
fn previous_config_id(path: &Path) -> Result<String, Error> {
    let file = if path.is_dir() {
        serve::config_json(path)
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&file).map_err(|e| Error::Input {
        path: file.clone(),
        reason: format!("cannot read the previous config.json: {e}"),
    })?;
    let document: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Input {
        path: file.clone(),
        reason: format!("not a cfg-gen config.json: {e}"),
    })?;
    match document["config_id"].as_str() {
        Some(id) if id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(id.to_string())
        }
        _ => Err(Error::Input {
            path: file,
            reason: "no 40-hex config_id: not a cfg-gen config.json".into(),
        }),
    }
}

/// Adds `bin/detect_ip` and `bin/detect_ip_public` (0755) to the config
/// package that carries them, and a `pkginfo.json` of `{}` to every package
/// that has none.
fn with_ip_detect(
    mut packages: BTreeMap<String, Vec<crate::templates::TemplateFile>>,
    validated: &Validated,
) -> Result<BTreeMap<String, Vec<crate::templates::TemplateFile>>, Error> {
    use crate::templates::TemplateFile;
    let resolved = &validated.resolved;
    let carrier = packages.entry(IP_DETECT_PACKAGE.to_string()).or_default();
    for (path, key) in [
        ("bin/detect_ip", "ip_detect_contents"),
        ("bin/detect_ip_public", "ip_detect_public_contents"),
    ] {
        if carrier.iter().any(|f| f.path == path) {
            return Err(Error::Package {
                package: IP_DETECT_PACKAGE.into(),
                reason: format!("templates/{IP_DETECT_PACKAGE}/{path}: cfg-gen writes this file from ip_detect_filename; remove it from the templates"),
            });
        }
        if let Some(text) = resolved.get(key) {
            carrier.push(TemplateFile {
                path: path.to_string(),
                bytes: text.as_bytes().to_vec(),
                executable: true,
            });
        }
    }
    for files in packages.values_mut() {
        if !files.iter().any(|f| f.path == "pkginfo.json") {
            files.push(TemplateFile {
                path: "pkginfo.json".into(),
                bytes: b"{}\n".to_vec(),
                executable: false,
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    Ok(packages)
}

fn write_tree(root: &Path, files: &[crate::templates::TemplateFile]) -> Result<(), FsError> {
    tarmac_fs::create_dir_all(root)?;
    for file in files {
        let path = root.join(&file.path);
        if let Some(parent) = path.parent() {
            tarmac_fs::create_dir_all(parent)?;
        }
        fs::write(&path, &file.bytes).with_path("write", &path)?;
        let mode = if file.executable { 0o755 } else { 0o644 };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).with_path("chmod", &path)?;
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Hard-links (same filesystem, no copy of a 700 MB bundle) or copies.
fn link_or_copy(from: &Path, to: &Path) -> Result<(), FsError> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(FsError::new("link", from, e)),
        Err(_) => fs::copy(from, to).map(|_| ()).with_path("copy", from),
    }
}

fn pretty<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON serializes");
    text.push('\n');
    text
}

fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), FsError> {
    write_bytes(path, pretty(value).as_bytes(), false)
}

fn write_bytes(path: &Path, bytes: &[u8], executable: bool) -> Result<(), FsError> {
    fs::write(path, bytes).with_path("write", path)?;
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).with_path("chmod", path)
}

/// Replaces `output` by `staging`: the old tree is moved aside first, so at
/// every instant one complete tree is at `output` or at the aside name.
fn swap_in(staging: &Path, output: &Path, name: &str) -> Result<(), FsError> {
    let parent = staging.parent().unwrap_or(Path::new("."));
    let old = parent.join(format!(".{name}.old.{}", std::process::id()));
    let had_old = output.exists();
    if had_old {
        tarmac_fs::rename(output, &old)?;
    }
    tarmac_fs::rename(staging, output)?;
    tarmac_fs::fsync_dir(parent)?;
    if had_old {
        tarmac_fs::remove_all(&old)?;
    }
    Ok(())
}
