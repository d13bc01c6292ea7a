//! Writing one generation into `generations/.staging-<n>/`: the symlink
//! farm (folded or pkgpanda's per-file layout), `active/`, the environment
//! files, `active.buildinfo.full.json`, `etc/dcos-service-configuration.json`
//! and `generation.json` (written last).
//!
//! Tree folding: a directory below the top-level well-known dirs whose whole
//! content comes from ONE package directory becomes a single symlink to it.
//! The plan has already checked the full per-file map for conflicts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::failpoint;
use crate::generation::{GenerationRecord, GENERATION_FORMAT, RECORD_FILE};
use crate::plan::{Plan, SERVICE_CONFIG, UNIT_DIR, WELL_KNOWN};

/// Reads every package's `buildinfo.full.json` (null when absent, as
/// pkgpanda does for setup packages), keyed by package name.
pub fn collect_buildinfo(plan: &Plan) -> Result<Value> {
    let mut map = serde_json::Map::new();
    let mut sorted: Vec<_> = plan.packages.iter().collect();
    sorted.sort_by(|a, b| a.id.name().cmp(b.id.name()));
    for package in sorted {
        let file = package.dir.join("buildinfo.full.json");
        let value = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Json {
                file: file.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
            Err(e) => return Err(tarmac_fs::FsError::new("read", &file, e).into()),
        };
        map.insert(package.id.name().to_string(), value);
    }
    Ok(Value::Object(map))
}

/// The `environment` and `environment.export` texts, in pkgpanda's format:
/// the PATH/LD_LIBRARY_PATH header, then one block per package in id order.
pub fn environment_files(plan: &Plan, root: &Path) -> (String, String) {
    let root = root.display();
    let mut env = format!(
        "# Pkgpanda provided environment variables\nLD_LIBRARY_PATH={root}/lib\nPATH={root}/bin:/usr/bin:/bin:/sbin\n\n"
    );
    let mut export = format!(
        "# Pkgpanda provided environment variables\nexport LD_LIBRARY_PATH={root}/lib\nexport PATH=\"{root}/bin:$PATH\"\n\n"
    );
    for package in &plan.packages {
        env.push_str(&format!("# package: {}\n", package.id));
        export.push_str(&format!("# package: {}\n", package.id));
        for (key, value) in &package.meta.environment {
            env.push_str(&format!("{key}={value}\n"));
            export.push_str(&format!("export {key}={value}\n"));
        }
        env.push('\n');
        export.push('\n');
    }
    (env, export)
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    text.push('\n');
    text
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| tarmac_fs::FsError::new("write", path, e))?;
    Ok(())
}

fn mkdir(path: &Path) -> Result<()> {
    std::fs::create_dir(path).map_err(|e| tarmac_fs::FsError::new("create directory", path, e))?;
    Ok(())
}

/// Writes generation `n` of `plan` into `staging` (which must not exist).
/// Durability is the caller's job (one syncfs for the whole tree).
pub fn build(
    plan: &Plan,
    root: &Path,
    staging: &Path,
    n: u64,
    fold: bool,
    buildinfo: &Value,
) -> Result<GenerationRecord> {
    mkdir(staging)?;
    for dir in WELL_KNOWN {
        mkdir(&staging.join(dir))?;
    }
    let links = write_links(plan, staging, fold)?;

    let active = staging.join("active");
    mkdir(&active)?;
    for package in &plan.packages {
        tarmac_fs::symlink(&package.dir, &active.join(package.id.name()))?;
    }

    let (env, export) = environment_files(plan, root);
    let mut files = BTreeMap::new();
    let mut put = |rel: &str, bytes: &[u8]| -> Result<()> {
        write(&staging.join(rel), bytes)?;
        files.insert(rel.to_string(), blake3::hash(bytes).to_hex().to_string());
        Ok(())
    };
    put("environment", env.as_bytes())?;
    put("environment.export", export.as_bytes())?;
    put("active.buildinfo.full.json", pretty(buildinfo).as_bytes())?;
    put(SERVICE_CONFIG, pretty(&plan.service_config).as_bytes())?;

    let record = GenerationRecord {
        format: GENERATION_FORMAT,
        generation: n,
        packages: plan.packages.iter().map(|p| p.id.clone()).collect(),
        roles: plan.roles.clone(),
        folded: fold,
        links,
        units: plan.units.clone(),
        files,
        listings: plan.listings.clone(),
    };
    let json = serde_json::to_value(&record).expect("record serializes");
    write(&staging.join(RECORD_FILE), pretty(&json).as_bytes())?;
    Ok(record)
}

fn write_links(plan: &Plan, staging: &Path, fold: bool) -> Result<u64> {
    let mut links = 0u64;
    let half = plan.nodes.len() / 2;
    let mut folded_at: Option<&PathBuf> = None;
    for (index, (rel, node)) in plan.nodes.iter().enumerate() {
        if index == half {
            failpoint::hit("farm-half");
        }
        if let Some(prefix) = folded_at {
            if rel.starts_with(prefix) {
                continue;
            }
            folded_at = None;
        }
        let link = staging.join(rel);
        if node.dir {
            let foldable = fold
                && node.sources.len() == 1
                && !rel.starts_with(UNIT_DIR)
                && rel.components().count() > 1;
            if foldable {
                tarmac_fs::symlink(&plan.source_path(rel, node.sources[0]), &link)?;
                links += 1;
                folded_at = Some(rel);
            } else {
                mkdir(&link)?;
            }
        } else {
            tarmac_fs::symlink(&plan.source_path(rel, node.sources[0]), &link)?;
            links += 1;
        }
    }
    Ok(links)
}
