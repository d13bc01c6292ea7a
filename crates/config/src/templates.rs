//! The template tree `genconf/templates/<pkg>/...`: each directory becomes a
//! config package, each UTF-8 file a minijinja template rendered with the
//! resolved configuration (strict: an undefined variable is an error), each
//! other file copied as is. Role directories (`etc_master/`) are ordinary
//! paths here; pkg-activate gives them meaning.
//!
//! Invariant: loading walks directories sorted by name and rendering depends
//! only on the file bytes and the resolved values, so the same inputs give
//! the same package trees byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Value};
use tarmac_fs::{Context, FsError};

use crate::resolve::Resolved;

/// One file of a template package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFile {
    /// Path inside the package, `/`-separated.
    pub path: String,
    pub bytes: Vec<u8>,
    pub executable: bool,
}

impl TemplateFile {
    fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }
}

/// All template packages, by package name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Templates {
    pub packages: BTreeMap<String, Vec<TemplateFile>>,
}

/// A problem with one template file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub file: PathBuf,
    pub reason: String,
}

impl From<TemplateProblem> for crate::Problem {
    /// A template's problem in the one list cfg-gen reports: the file at
    /// fault, no config key.
    fn from(p: TemplateProblem) -> crate::Problem {
        crate::Problem {
            file: Some(p.file.display().to_string()),
            key: String::new(),
            value: None,
            line: None,
            reason: p.reason,
        }
    }
}

impl Templates {
    /// Reads `dir` (absent = no templates). Symlinks and special files are
    /// refused: a package must not point outside itself.
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        let mut templates = Templates::default();
        if !dir.exists() {
            return Ok(templates);
        }
        for package in sorted_entries(dir)? {
            let name = package
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !package.is_dir() {
                return Err(TemplateError::Problem(TemplateProblem {
                    file: package,
                    reason: "expected a directory per config package".into(),
                }));
            }
            if let Err(e) = tarmac_model::validate_name(&name) {
                return Err(TemplateError::Problem(TemplateProblem {
                    file: package,
                    reason: format!("not a valid package name: {e}"),
                }));
            }
            let mut files = Vec::new();
            walk(&package, "", &mut files)?;
            templates.packages.insert(name, files);
        }
        Ok(templates)
    }

    /// Variables the templates read that no template defines, plus every
    /// template syntax error.
    pub fn variables(&self, dir: &Path) -> Result<BTreeSet<String>, Vec<TemplateProblem>> {
        let env = environment();
        let mut variables = BTreeSet::new();
        let mut problems = Vec::new();
        for (package, files) in &self.packages {
            for file in files {
                let Some(text) = file.text() else { continue };
                match env.template_from_str(text) {
                    Ok(template) => variables.extend(template.undeclared_variables(false)),
                    Err(e) => problems.push(TemplateProblem {
                        file: dir.join(package).join(&file.path),
                        reason: template_error(&e),
                    }),
                }
            }
        }
        if problems.is_empty() {
            Ok(variables)
        } else {
            Err(problems)
        }
    }

    /// Content digest of the whole tree: part of the config id, so a changed
    /// template gives new package ids.
    pub fn digest(&self) -> Value {
        let packages: serde_json::Map<String, Value> = self
            .packages
            .iter()
            .map(|(name, files)| {
                let files: serde_json::Map<String, Value> = files
                    .iter()
                    .map(|f| {
                        let hash = blake3::hash(&f.bytes).to_hex().to_string();
                        (
                            f.path.clone(),
                            json!({"blake3": hash, "executable": f.executable}),
                        )
                    })
                    .collect();
                (name.clone(), Value::Object(files))
            })
            .collect();
        Value::Object(packages)
    }

    /// Renders every package: package name -> files with rendered bytes.
    pub fn render(
        &self,
        dir: &Path,
        resolved: &Resolved,
    ) -> Result<BTreeMap<String, Vec<TemplateFile>>, Vec<TemplateProblem>> {
        let env = environment();
        let context: BTreeMap<&str, &str> = resolved
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.value.as_str()))
            .collect();
        let mut rendered = BTreeMap::new();
        let mut problems = Vec::new();
        for (package, files) in &self.packages {
            let mut out = Vec::new();
            for file in files {
                let bytes = match file.text() {
                    None => file.bytes.clone(),
                    Some(text) => {
                        match env.template_from_str(text).and_then(|t| t.render(&context)) {
                            Ok(text) => text.into_bytes(),
                            Err(e) => {
                                problems.push(TemplateProblem {
                                    file: dir.join(package).join(&file.path),
                                    reason: template_error(&e),
                                });
                                continue;
                            }
                        }
                    }
                };
                out.push(TemplateFile {
                    path: file.path.clone(),
                    bytes,
                    executable: file.executable,
                });
            }
            rendered.insert(package.clone(), out);
        }
        if problems.is_empty() {
            Ok(rendered)
        } else {
            Err(problems)
        }
    }
}

/// The minijinja environment: strict undefined, files kept byte for byte
/// (trailing newline kept, no auto-escaping whatever the file extension).
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

fn template_error(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    if let Some(line) = error.line() {
        text = format!("line {line}: {text}");
    }
    text.replace('\n', " ")
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{}: {}", .0.file.display(), .0.reason)]
    Problem(TemplateProblem),
    #[error(transparent)]
    Fs(#[from] FsError),
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, FsError> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).with_path("read directory", dir)? {
        entries.push(entry.with_path("read directory", dir)?.path());
    }
    entries.sort();
    Ok(entries)
}

fn walk(dir: &Path, prefix: &str, files: &mut Vec<TemplateFile>) -> Result<(), TemplateError> {
    for path in sorted_entries(dir)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = std::fs::symlink_metadata(&path).with_path("stat", &path)?;
        if meta.is_dir() {
            walk(&path, &relative, files)?;
        } else if meta.is_file() {
            files.push(TemplateFile {
                path: relative,
                bytes: tarmac_fs::read(&path)?,
                executable: meta.permissions().mode() & 0o111 != 0,
            });
        } else {
            return Err(TemplateError::Problem(TemplateProblem {
                file: path,
                reason: "only regular files and directories may be templates".into(),
            }));
        }
    }
    Ok(())
}
