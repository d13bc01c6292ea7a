//! cfg-gen's pipeline: read genconf/, validate and resolve, and (in `serve`)
//! write the directory a host installs from.
//!
//! The config id is the content hash of everything that decides the config
//! packages' bytes: the resolved values (secrets included), the template
//! tree digest and the bootstrap id. Same inputs, same id; any change to
//! them, a new id and so new package ids (`<pkg>--setup_<configid>`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Map, Value};
use tarmac_fs::FsError;
use tarmac_model::ExitClass;

use crate::resolve::{self, Problem, Resolved, Source};
use crate::templates::{TemplateError, Templates};

/// What the user points cfg-gen at.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// The genconf directory: config.yaml, ip-detect, templates/.
    pub genconf: PathBuf,
    /// The dist directory holding bootstrap/ and packages/ (pkg-bundle's output).
    pub dist: Option<PathBuf>,
    /// Which bundle of dist/bootstrap/ to use (default: the only one).
    pub bootstrap_id: Option<String>,
    /// Directory of tool binaries to serve under bin/.
    pub bin_dir: Option<PathBuf>,
    /// Where to write the serve tree (default genconf/serve).
    pub output: PathBuf,
    /// A previous serve directory (or its config.json): also write
    /// upgrade/<its config id>/dcos_node_upgrade.sh.
    pub upgrade_from: Option<PathBuf>,
    /// Warnings (keys gen accepts without effect) are problems.
    pub strict: bool,
}

impl GenOptions {
    pub fn config_file(&self) -> PathBuf {
        self.genconf.join("config.yaml")
    }
    pub fn templates_dir(&self) -> PathBuf {
        self.genconf.join("templates")
    }
    /// Relative file names in config.yaml are relative to genconf's parent,
    /// as in DC/OS (`ip_detect_filename: genconf/ip-detect`).
    pub fn base_dir(&self) -> PathBuf {
        match self.genconf.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {} problem{} in the configuration", file.display(), problems.len(), if problems.len() == 1 { "" } else { "s" })]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
        /// Found on the way; reported beside the problems.
        warnings: Vec<Problem>,
    },
    #[error("{}: {reason}", path.display())]
    Input { path: PathBuf, reason: String },
    #[error("{}: another cfg-gen is writing this serve tree", path.display())]
    Busy { path: PathBuf },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{}: {reason}", package)]
    Package { package: String, reason: String },
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl Error {
    pub fn class(&self) -> ExitClass {
        match self {
            Error::Invalid { .. } => ExitClass::Invalid,
            Error::Input { .. } => ExitClass::Invalid,
            Error::Busy { .. } => ExitClass::Conflict,
            Error::Template(TemplateError::Problem(_)) => ExitClass::Invalid,
            Error::Template(TemplateError::Fs(e)) => e.class(),
            Error::Package { .. } => ExitClass::Invalid,
            Error::Fs(e) => e.class(),
        }
    }

    /// One line per problem, for humans (stderr).
    pub fn problem_lines(&self) -> Vec<String> {
        match self {
            Error::Invalid { file, problems, .. } => {
                problems.iter().map(|p| problem_line(file, p)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// One line per warning, for humans (stderr).
    pub fn warning_lines(&self) -> Vec<String> {
        match self {
            Error::Invalid { file, warnings, .. } => {
                warnings.iter().map(|w| problem_line(file, w)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The `--json` report of an invalid configuration.
    pub fn report(&self) -> Option<ValidationReport> {
        match self {
            Error::Invalid {
                file,
                problems,
                warnings,
            } => Some(ValidationReport {
                format: 1,
                file: file.clone(),
                valid: false,
                config_id: None,
                problems: problems.clone(),
                warnings: warnings.clone(),
            }),
            _ => None,
        }
    }
}

/// The `--validate-only --json` document, and the `--json` document of a
/// refused configuration (`valid: false`, no `config_id`).
#[derive(Debug, Clone, Serialize)]
pub struct ValidationReport {
    pub format: u32,
    /// config.yaml.
    pub file: PathBuf,
    pub valid: bool,
    /// `None` (null) when the configuration is refused.
    pub config_id: Option<String>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

/// config.json (also `--print-config`): every resolved value with where it
/// came from.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigDocument {
    pub format: u32,
    pub config_id: String,
    pub values: BTreeMap<String, ConfigValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigValue {
    /// `**HIDDEN**` for a secret the user gave.
    pub value: String,
    pub source: Source,
}

/// `genconf/config.yaml:7: master_list = ["1.2.3"]: Invalid IPv4 ...`
pub fn problem_line(file: &Path, problem: &Problem) -> String {
    let mut line = match &problem.file {
        Some(other) => other.clone(),
        None => file.display().to_string(),
    };
    if let Some(n) = problem.line {
        line.push_str(&format!(":{n}"));
    }
    if !problem.key.is_empty() {
        line.push_str(&format!(": {}", problem.key));
    }
    if let Some(value) = &problem.value {
        line.push_str(&format!(" = {value}"));
    }
    line.push_str(&format!(": {}", problem.reason));
    line.replace('\n', "\\n")
}

/// A validated configuration, ready to render.
#[derive(Debug, Clone)]
pub struct Validated {
    pub resolved: Resolved,
    pub templates: Templates,
    pub config_id: String,
    /// config.yaml, for the warning lines.
    pub file: PathBuf,
}

impl Validated {
    /// The `--validate-only --json` report of a valid configuration.
    pub fn report(&self) -> ValidationReport {
        ValidationReport {
            format: 1,
            file: self.file.clone(),
            valid: true,
            config_id: Some(self.config_id.clone()),
            problems: Vec::new(),
            warnings: self.resolved.warnings.clone(),
        }
    }

    /// One line per warning, for humans (stderr).
    pub fn warning_lines(&self) -> Vec<String> {
        self.resolved
            .warnings
            .iter()
            .map(|w| problem_line(&self.file, w))
            .collect()
    }

    /// config.json: every resolved value with its provenance; secrets hidden.
    pub fn config_document(&self) -> ConfigDocument {
        let values = self
            .resolved
            .values
            .iter()
            .map(|(key, setting)| {
                let value = if setting.secret && setting.source == Source::User {
                    "**HIDDEN**".to_string()
                } else {
                    setting.value.clone()
                };
                let source = setting.source;
                (key.clone(), ConfigValue { value, source })
            })
            .collect();
        ConfigDocument {
            format: 1,
            config_id: self.config_id.clone(),
            values,
        }
    }
}

/// Reads genconf/, validates everything and resolves the configuration.
pub fn validate(options: &GenOptions, bootstrap_id: Option<&str>) -> Result<Validated, Error> {
    let file = options.config_file();
    let text = match std::fs::read(&file) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| Error::Input {
            path: file.clone(),
            reason: "not UTF-8 text".into(),
        })?,
        Err(e) => {
            return Err(Error::Input {
                path: file.clone(),
                reason: format!("cannot read the configuration: {e}"),
            })
        }
    };
    let templates_dir = options.templates_dir();
    let templates = Templates::load(&templates_dir)?;
    let (variables, mut problems) = match templates.variables(&templates_dir) {
        Ok(variables) => (variables, Vec::new()),
        Err(template_problems) => (
            Default::default(),
            template_problems.into_iter().map(Into::into).collect(),
        ),
    };
    let base = options.base_dir();
    let input = resolve::Input {
        text: &text,
        base_dir: &base,
        template_variables: &variables,
        bootstrap_id,
        strict: options.strict,
    };
    let resolved = match resolve::resolve(&input) {
        Ok(resolved) if problems.is_empty() => resolved,
        Ok(resolved) => {
            return Err(Error::Invalid {
                file,
                problems,
                warnings: resolved.warnings,
            })
        }
        Err(mut rejected) => {
            rejected.problems.append(&mut problems);
            return Err(Error::Invalid {
                file,
                problems: rejected.problems,
                warnings: rejected.warnings,
            });
        }
    };
    // A trial render, so a template that reads a key out of scope (say
    // master_list under master_http_loadbalancer) is reported now.
    let mut trial = resolved.clone();
    if bootstrap_id.is_none() {
        trial.values.insert(
            "bootstrap_id".into(),
            resolve::Setting {
                value: "0".repeat(40),
                source: Source::Computed,
                secret: false,
            },
        );
    }
    if let Err(template_problems) = templates.render(&templates_dir, &trial) {
        return Err(Error::Invalid {
            file,
            problems: template_problems.into_iter().map(Into::into).collect(),
            warnings: resolved.warnings,
        });
    }
    let config_id = config_id(&resolved, &templates);
    Ok(Validated {
        resolved,
        templates,
        config_id,
        file,
    })
}

/// 40 hex of blake3 over the canonical JSON of the resolved values and the
/// template digest.
pub fn config_id(resolved: &Resolved, templates: &Templates) -> String {
    let values: Map<String, Value> = resolved
        .values
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.value.clone())))
        .collect();
    tarmac_model::content_hash(&json!({
        "format": 1,
        "values": values,
        "templates": templates.digest(),
    }))
}

/// What `cfg-gen` reports on success (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    pub format: u32,
    pub config_id: String,
    pub bootstrap_id: String,
    /// The serve directory written.
    pub output: PathBuf,
    /// Config package ids (cluster-packages.json), sorted.
    pub cluster_packages: Vec<String>,
    /// The node upgrade script written for --upgrade-from, relative to
    /// output (null without it).
    pub upgrade_script: Option<PathBuf>,
    /// Keys gen accepts without effect here (also printed on stderr).
    pub warnings: Vec<Problem>,
    /// The same, one line each.
    #[serde(skip)]
    pub warning_lines: Vec<String>,
}

impl tarmac_model::Diagnosed for Error {
    fn class(&self) -> ExitClass {
        Error::class(self)
    }
}
