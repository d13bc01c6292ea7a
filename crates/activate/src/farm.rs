//! Writing one generation into `generations/.staging-<n>/`: the symlink
//! farm (folded or pkgpanda's per-file layout), `active/`, the environment
//! files, `active.buildinfo.full.json`, `etc/dcos-service-configuration.json`
//! and `generation.json` (written last).
//!
//! Tree folding: a directory below the top-level well-known dirs whose whole
//! content comes from ONE package directory becomes a single symlink to it.
//! The plan has already checked the full per-file map for conflicts.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::failpoint;
use crate::generation::{GenerationRecord, GENERATION_FORMAT, RECORD_FILE};
use crate::plan::{FarmPath, Plan, Source, SERVICE_CONFIG, UNIT_DIR, WELL_KNOWN};

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

/// JSON as pkgpanda writes it (`json.dumps(sort_keys=True, indent=2,
/// separators=(',', ':'))`, ASCII only, no trailing newline), so the files
/// of a generation are byte-identical to pkgpanda's.
pub fn pkgpanda_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, 0, &mut out);
    out
}

fn write_json(value: &Value, indent: usize, out: &mut String) {
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, key) in keys.iter().enumerate() {
                pad(out, indent + 2);
                tarmac_model::write_python_string(key, out);
                out.push(':');
                write_json(&map[key.as_str()], indent + 2, out);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push('}');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(out, indent + 2);
                write_json(item, indent + 2, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push(']');
        }
        Value::String(s) => tarmac_model::write_python_string(s, out),
        other => out.push_str(&other.to_string()),
    }
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
    put(
        "active.buildinfo.full.json",
        pkgpanda_json(buildinfo).as_bytes(),
    )?;
    put(
        SERVICE_CONFIG,
        pkgpanda_json(&plan.service_config).as_bytes(),
    )?;

    let record = GenerationRecord {
        format: GENERATION_FORMAT,
        generation: n,
        packages: plan.packages.iter().map(|p| p.id.clone()).collect(),
        roles: plan.roles.clone(),
        folded: fold,
        links,
        units: plan.units.clone(),
        files,
    };
    let json = serde_json::to_value(&record).expect("record serializes");
    let mut text = serde_json::to_string_pretty(&json).expect("record serializes");
    text.push('\n');
    write(&staging.join(RECORD_FILE), text.as_bytes())?;
    Ok(record)
}

/// Lays out the farm: real directories first, in order (parents before
/// children), then the links, split over a few threads. Creating links is
/// almost all kernel time, in many directories, so two cores make it
/// nearly twice as fast; the walk and the decisions stay sequential.
fn write_links(plan: &Plan, staging: &Path, fold: bool) -> Result<u64> {
    let mut links: Vec<(&Path, Source)> = Vec::with_capacity(plan.nodes.len());
    let mut folded_at: Option<&FarmPath> = None;
    for (key, node) in &plan.nodes {
        if let Some(dir) = folded_at {
            if key.is_below(dir) {
                continue;
            }
            folded_at = None;
        }
        let rel = key.0.as_path();
        if node.dir {
            let foldable = fold
                && node.sources.len() == 1
                && !rel.starts_with(UNIT_DIR)
                && rel.components().count() > 1;
            if foldable {
                links.push((rel, node.sources[0]));
                folded_at = Some(key);
            } else {
                mkdir(&staging.join(rel))?;
            }
        } else {
            links.push((rel, node.sources[0]));
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let chunk = links.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = links
            .chunks(chunk)
            .enumerate()
            .map(|(index, part)| {
                scope.spawn(move || -> Result<()> {
                    for (done, (rel, source)) in part.iter().enumerate() {
                        if index == 0 && done == part.len() / 2 {
                            failpoint::hit("farm-half");
                        }
                        tarmac_fs::symlink(&plan.source_path(rel, *source), &staging.join(rel))?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("link worker panicked"))
            .collect::<Result<Vec<()>>>()
    })?;
    Ok(links.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_written_like_pkgpanda() {
        // Expected bytes from Python: json.dumps(v, sort_keys=True, indent=2, separators=(',', ':'))
        let value = serde_json::json!({"sysctl": {"b": {"k": 1, "j": "1"}, "a": {}}, "l": [1, "é\n"], "e": []});
        assert_eq!(
            pkgpanda_json(&value),
            "{\n  \"e\":[],\n  \"l\":[\n    1,\n    \"\\u00e9\\n\"\n  ],\n  \"sysctl\":{\n    \"a\":{},\n    \"b\":{\n      \"j\":\"1\",\n      \"k\":1\n    }\n  }\n}"
        );
        assert_eq!(
            pkgpanda_json(&serde_json::json!("\u{1F600}\u{1}")),
            "\"\\ud83d\\ude00\\u0001\""
        );
    }
}
