//! `buildinfo.json`: how to build one package (variant) of a package tree.
//!
//! Accepts exactly the keys pkgpanda's builder consumes (pkgpanda/build
//! `_build` and the source fetchers) and refuses everything else, naming the
//! file and key: pkgpanda only notices unused keys after fetching sources,
//! tarmac notices before anything runs. A variant `<variant>.buildinfo.json`
//! is a complete, separate buildinfo (pkgpanda loads it instead of, not on
//! top of, `buildinfo.json`); [`buildinfo_variant`] maps file names to
//! variants with pkgpanda's rules.
//!
//! Source checksums are validated for shape here; the build crate verifies
//! the downloaded bytes against them.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::ModelError;
use crate::object::{parse_bytes, At, Object};
use crate::pkginfo::{
    environment_json, parse_package_fields, sysctl_json, validate_variant, PkgInfo, Requirement,
    SysctlValue,
};

/// pkgpanda's default build container, used when `docker` is absent.
pub const DEFAULT_DOCKER: &str = "dcos/dcos-builder:dcos-builder_dockerdir-latest";

/// The parsed `buildinfo.json` of one package variant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildInfo {
    pub requires: Vec<Requirement>,
    pub sources: Sources,
    /// Build script path relative to the package dir; `None` means the
    /// default `build` (`<variant>.build` for a variant), see
    /// [`BuildInfo::build_script_path`].
    pub build_script: Option<String>,
    /// Builder image name; `None` means [`DEFAULT_DOCKER`].
    pub docker: Option<String>,
    /// Environment of the built package, in file order.
    pub environment: Vec<(String, String)>,
    pub sysctl: BTreeMap<String, BTreeMap<String, SysctlValue>>,
    pub state_directory: bool,
    pub username: Option<String>,
    pub group: Option<String>,
    /// Free text pkgpanda appends to the package version.
    pub version_extra: Option<String>,
}

/// Where the sources come from: pkgpanda's `single_source` (one source named
/// after the package) or `sources` (named sources); never both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Sources {
    #[default]
    None,
    Single(Source),
    Named(BTreeMap<String, Source>),
}

/// One source of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `url` (copied into `src/`) or `url_extract` (unpacked, first path
    /// component stripped). At least one checksum is present; pkgpanda knows
    /// only `sha1`, tarmac also accepts `sha256`.
    Url {
        url: String,
        extract: bool,
        sha1: Option<String>,
        sha256: Option<String>,
    },
    /// `git`: a commit `ref` (40 hex) reached from `ref_origin` of repo `git`.
    Git {
        git: String,
        reference: String,
        ref_origin: String,
    },
    /// `git_local`: a local git checkout at `rel_path` from the package dir.
    GitLocal { rel_path: String },
}

/// Keys that pkgpanda's builder adds to the build ids itself; a
/// buildinfo.json that sets them is refused.
const BUILDER_KEYS: &[&str] = &[
    "name",
    "variant",
    "build",
    "pkgpanda_version",
    "extra_source",
    "build_ids",
    "package_version",
];

const BUILDINFO_KEYS: &[&str] = &[
    "requires",
    "single_source",
    "sources",
    "build_script",
    "docker",
    "environment",
    "sysctl",
    "state_directory",
    "username",
    "group",
    "version_extra",
];

impl BuildInfo {
    /// Parses and validates a `buildinfo.json` (or `<variant>.buildinfo.json`).
    /// `file` is only used in errors. Blank content counts as `{}`, as in
    /// pkgpanda's `load_optional_json`.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<BuildInfo, ModelError> {
        let value = parse_bytes(file, bytes, true)?;
        let root = Object::root(file, &value)?;
        for (key, value) in root.map {
            if BUILDER_KEYS.contains(&key.as_str()) {
                let path = root.key_path(key);
                return Err(At { file, path: &path }.invalid(
                    value,
                    "this key is computed by the builder and cannot be set",
                ));
            }
        }
        root.only(BUILDINFO_KEYS)?;
        let fields = parse_package_fields(&root)?;

        let sources = match (root.object("sources")?, root.get("single_source")) {
            (Some(_), Some(single)) => {
                let path = root.key_path("single_source");
                return Err(At { file, path: &path }
                    .invalid(single, "`sources` and `single_source` cannot both be given"));
            }
            (Some(object), None) => {
                let mut named = BTreeMap::new();
                for (name, value) in object.map {
                    let path = object.key_path(name);
                    let at = At { file, path: &path };
                    if !is_source_name(name) {
                        return Err(at.invalid(
                            &json!(name),
                            "source names must be non-empty, without '/', and not '.' or '..'",
                        ));
                    }
                    named.insert(name.clone(), parse_source(at, value)?);
                }
                Sources::Named(named)
            }
            (None, Some(single)) => {
                let path = root.key_path("single_source");
                Sources::Single(parse_source(At { file, path: &path }, single)?)
            }
            (None, None) => Sources::None,
        };

        let build_script = root.with("build_script", |at, v| {
            let script = at.string(v)?;
            if !is_relative_inside(&script) {
                return Err(at.invalid(v, "must be a relative path inside the package directory"));
            }
            Ok(script)
        })?;
        let docker = root.with("docker", |at, v| {
            let docker = at.string(v)?;
            if docker.is_empty() || docker.chars().any(char::is_whitespace) {
                return Err(at.invalid(v, "must be a container image name"));
            }
            Ok(docker)
        })?;
        let version_extra = root.with("version_extra", |at, v| at.string(v))?;

        Ok(BuildInfo {
            requires: fields.requires,
            sources,
            build_script,
            docker,
            environment: fields.environment,
            sysctl: fields.sysctl,
            state_directory: fields.state_directory,
            username: fields.username,
            group: fields.group,
            version_extra,
        })
    }

    /// The sources by name, `single_source` named after the package (as
    /// pkgpanda converts it).
    pub fn named_sources(&self, package_name: &str) -> BTreeMap<String, Source> {
        match &self.sources {
            Sources::None => BTreeMap::new(),
            Sources::Single(source) => BTreeMap::from([(package_name.to_string(), source.clone())]),
            Sources::Named(named) => named.clone(),
        }
    }

    /// The build script path relative to the package dir: the given one, or
    /// `build` / `<variant>.build` (pkgpanda `load_buildinfo`).
    pub fn build_script_path(&self, variant: Option<&str>) -> String {
        match (&self.build_script, variant) {
            (Some(script), _) => script.clone(),
            (None, None) => "build".to_string(),
            (None, Some(variant)) => format!("{variant}.build"),
        }
    }

    /// The `pkginfo.json` of the package this buildinfo builds, as
    /// pkgpanda's builder translates it (requires, environment, sysctl,
    /// state_directory, username, group), plus the variant built.
    pub fn to_pkginfo(&self, variant: Option<&str>) -> PkgInfo {
        PkgInfo {
            requires: self.requires.clone(),
            environment: self.environment.clone(),
            sysctl: self.sysctl.clone(),
            username: self.username.clone(),
            group: self.group.clone(),
            state_directory: self.state_directory,
            variant: variant.map(str::to_string),
        }
    }

    /// The builder image: the given one or [`DEFAULT_DOCKER`].
    pub fn docker_image(&self) -> &str {
        self.docker.as_deref().unwrap_or(DEFAULT_DOCKER)
    }

    /// The JSON form with absent optional keys left out; `parse(to_json())`
    /// gives back an equal value, so it is a stable input for hashing.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert(
            "requires".into(),
            Value::Array(self.requires.iter().map(Requirement::to_json).collect()),
        );
        match &self.sources {
            Sources::None => {}
            Sources::Single(source) => {
                out.insert("single_source".into(), source.to_json());
            }
            Sources::Named(named) => {
                let map: Map<String, Value> = named
                    .iter()
                    .map(|(k, s)| (k.clone(), s.to_json()))
                    .collect();
                out.insert("sources".into(), Value::Object(map));
            }
        }
        if let Some(script) = &self.build_script {
            out.insert("build_script".into(), json!(script));
        }
        if let Some(docker) = &self.docker {
            out.insert("docker".into(), json!(docker));
        }
        out.insert("environment".into(), environment_json(&self.environment));
        if !self.sysctl.is_empty() {
            out.insert("sysctl".into(), sysctl_json(&self.sysctl));
        }
        out.insert("state_directory".into(), json!(self.state_directory));
        if let Some(username) = &self.username {
            out.insert("username".into(), json!(username));
        }
        if let Some(group) = &self.group {
            out.insert("group".into(), json!(group));
        }
        if let Some(extra) = &self.version_extra {
            out.insert("version_extra".into(), json!(extra));
        }
        Value::Object(out)
    }
}

impl Source {
    /// pkgpanda's `kind` string.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Url { extract: false, .. } => "url",
            Source::Url { extract: true, .. } => "url_extract",
            Source::Git { .. } => "git",
            Source::GitLocal { .. } => "git_local",
        }
    }

    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("kind".into(), json!(self.kind()));
        match self {
            Source::Url {
                url, sha1, sha256, ..
            } => {
                out.insert("url".into(), json!(url));
                if let Some(sha1) = sha1 {
                    out.insert("sha1".into(), json!(sha1));
                }
                if let Some(sha256) = sha256 {
                    out.insert("sha256".into(), json!(sha256));
                }
            }
            Source::Git {
                git,
                reference,
                ref_origin,
            } => {
                out.insert("git".into(), json!(git));
                out.insert("ref".into(), json!(reference));
                out.insert("ref_origin".into(), json!(ref_origin));
            }
            Source::GitLocal { rel_path } => {
                out.insert("rel_path".into(), json!(rel_path));
            }
        }
        Value::Object(out)
    }
}

fn parse_source(at: At<'_>, value: &Value) -> Result<Source, ModelError> {
    let object = at.object(value)?;
    let kind = object.require("kind")?;
    let kind_path = object.key_path("kind");
    let kind_at = At {
        file: at.file,
        path: &kind_path,
    };
    let kind_name = kind_at.string(kind)?;
    let required_string = |key: &str| -> Result<(String, String), ModelError> {
        let value = object.require(key)?;
        let path = object.key_path(key);
        let text = At {
            file: at.file,
            path: &path,
        }
        .string(value)?;
        Ok((text, path))
    };
    match kind_name.as_str() {
        "url" | "url_extract" => {
            object.only(&["kind", "url", "sha1", "sha256"])?;
            let (url, path) = required_string("url")?;
            if !url.contains("://") || url.chars().any(char::is_whitespace) {
                return Err(At {
                    file: at.file,
                    path: &path,
                }
                .invalid(&json!(url), "must be a URL with a scheme (scheme://...)"));
            }
            let sha1 = object.with("sha1", |at, v| hex_digest(at, v, 40))?;
            let sha256 = object.with("sha256", |at, v| hex_digest(at, v, 64))?;
            if sha1.is_none() && sha256.is_none() {
                return Err(ModelError::Missing {
                    file: at.file.to_string(),
                    key: object.key_path("sha1"),
                    value: crate::error::show(value),
                });
            }
            Ok(Source::Url {
                url,
                extract: kind_name == "url_extract",
                sha1,
                sha256,
            })
        }
        "git" => {
            object.only(&["kind", "git", "ref", "ref_origin"])?;
            let (git, _) = required_string("git")?;
            let (reference, path) = required_string("ref")?;
            if !is_lower_hex(&reference, 40) {
                return Err(At {
                    file: at.file,
                    path: &path,
                }
                .invalid(&json!(reference), "must be a full 40-hex git commit sha1"));
            }
            let (ref_origin, _) = required_string("ref_origin")?;
            Ok(Source::Git {
                git,
                reference,
                ref_origin,
            })
        }
        "git_local" => {
            object.only(&["kind", "rel_path"])?;
            let (rel_path, path) = required_string("rel_path")?;
            if rel_path.is_empty() || rel_path.starts_with('/') {
                return Err(At {
                    file: at.file,
                    path: &path,
                }
                .invalid(
                    &json!(rel_path),
                    "must be a path relative to the package directory",
                ));
            }
            Ok(Source::GitLocal { rel_path })
        }
        _ => Err(kind_at.invalid(
            kind,
            "unknown source kind (known: url, url_extract, git, git_local)",
        )),
    }
}

fn hex_digest(at: At<'_>, value: &Value, len: usize) -> Result<String, ModelError> {
    let digest = at.string(value)?;
    if !is_lower_hex(&digest, len) {
        return Err(at.invalid(value, format!("must be {len} lowercase hex digits")));
    }
    Ok(digest)
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_source_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0')
}

/// A relative path with no `..` component (so it stays inside its base).
fn is_relative_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|c| c != "..")
        && !path.contains('\0')
}

/// Which variant a `*.buildinfo.json` / `*.treeinfo.json` file name is for,
/// with pkgpanda's rules (`get_variants_from_filesystem`): `Ok(None)` if the
/// name does not end with `extension` (not such a file), `Ok(Some(None))`
/// for the default variant (`buildinfo.json`), `Ok(Some(Some(v)))` for
/// `v.buildinfo.json`. `extension` is `buildinfo.json` or `treeinfo.json`.
pub fn file_variant(
    file_name: &str,
    extension: &str,
) -> Result<Option<Option<String>>, ModelError> {
    let Some(prefix) = file_name.strip_suffix(extension) else {
        return Ok(None);
    };
    if prefix.is_empty() {
        return Ok(Some(None));
    }
    let bad = |reason: String| ModelError::Invalid {
        file: file_name.to_string(),
        key: "(file name)".to_string(),
        value: json!(file_name).to_string(),
        reason,
    };
    let Some(variant) = prefix.strip_suffix('.') else {
        return Err(bad(format!("expected '<variant>.{extension}'")));
    };
    if variant.is_empty() {
        return Err(bad(format!(
            "the default variant file is just '{extension}'"
        )));
    }
    let at = At {
        file: file_name,
        path: "(file name)",
    };
    validate_variant(at, &json!(variant), variant)?;
    Ok(Some(Some(variant.to_string())))
}

/// [`file_variant`] for `buildinfo.json`.
pub fn buildinfo_variant(file_name: &str) -> Result<Option<Option<String>>, ModelError> {
    file_variant(file_name, "buildinfo.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1: &str = "0123456789abcdef0123456789abcdef01234567";

    fn parse(text: &str) -> Result<BuildInfo, ModelError> {
        BuildInfo::parse("packages/foo/buildinfo.json", text.as_bytes())
    }

    fn rejects(text: &str, fragments: &[&str]) {
        let err = parse(text).expect_err(text);
        let message = err.to_string();
        assert!(
            message.starts_with("packages/foo/buildinfo.json: "),
            "{message}"
        );
        for fragment in fragments {
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
        assert_eq!(err.class(), crate::ExitClass::Invalid);
    }

    #[test]
    fn parses_every_source_kind() {
        let text = format!(
            r#"{{"requires": ["a", {{"name": "b", "variant": "ee"}}],
                "sources": {{
                  "tar": {{"kind": "url_extract", "url": "https://x/a.tgz", "sha1": "{SHA1}"}},
                  "bin": {{"kind": "url", "url": "https://x/b", "sha256": "{sha256}"}},
                  "repo": {{"kind": "git", "git": "https://g/r", "ref": "{SHA1}", "ref_origin": "main"}},
                  "here": {{"kind": "git_local", "rel_path": "../../"}}
                }},
                "build_script": "scripts/build.sh", "docker": "debian:12",
                "environment": {{"B": "1", "A": "2"}},
                "sysctl": {{"dcos-mesos-slave": {{"vm.swappiness": 1}}}},
                "state_directory": true, "username": "dcos_foo", "group": "dcos_foo",
                "version_extra": "rc1"}}"#,
            sha256 = "ab".repeat(32)
        );
        let info = parse(&text).unwrap();
        let Sources::Named(named) = &info.sources else {
            panic!("{:?}", info.sources)
        };
        assert_eq!(named.len(), 4);
        assert_eq!(named["tar"].kind(), "url_extract");
        assert_eq!(named["bin"].kind(), "url");
        assert_eq!(
            named["repo"],
            Source::Git {
                git: "https://g/r".into(),
                reference: SHA1.into(),
                ref_origin: "main".into()
            }
        );
        assert_eq!(
            named["here"],
            Source::GitLocal {
                rel_path: "../../".into()
            }
        );
        assert_eq!(info.build_script_path(None), "scripts/build.sh");
        assert_eq!(info.docker_image(), "debian:12");
        assert_eq!(info.environment[0].0, "B");
        assert_eq!(info.version_extra.as_deref(), Some("rc1"));
        let again = BuildInfo::parse("x", info.to_json().to_string().as_bytes()).unwrap();
        assert_eq!(again, info);

        let pkginfo = info.to_pkginfo(Some("ee"));
        assert_eq!(pkginfo.requires, info.requires);
        assert_eq!(pkginfo.environment, info.environment);
        assert_eq!(pkginfo.sysctl, info.sysctl);
        assert_eq!(pkginfo.username.as_deref(), Some("dcos_foo"));
        assert_eq!(pkginfo.group.as_deref(), Some("dcos_foo"));
        assert!(pkginfo.state_directory);
        assert_eq!(pkginfo.variant.as_deref(), Some("ee"));
        let text = pkginfo.to_json().to_string();
        assert_eq!(
            PkgInfo::parse("pkginfo.json", text.as_bytes()).unwrap(),
            pkginfo
        );
    }

    #[test]
    fn single_source_and_defaults() {
        let text = format!(
            r#"{{"single_source": {{"kind": "url", "url": "http://x/y", "sha1": "{SHA1}"}}}}"#
        );
        let info = parse(&text).unwrap();
        let named = info.named_sources("foo");
        assert_eq!(named.keys().collect::<Vec<_>>(), ["foo"]);
        assert_eq!(info.build_script_path(None), "build");
        assert_eq!(info.build_script_path(Some("ee")), "ee.build");
        assert_eq!(info.docker_image(), DEFAULT_DOCKER);
        assert!(!info.state_directory);
        assert_eq!(parse("").unwrap(), BuildInfo::default());
        assert_eq!(parse("\n\n").unwrap().sources, Sources::None);
        let again = BuildInfo::parse("x", info.to_json().to_string().as_bytes()).unwrap();
        assert_eq!(again, info);
    }

    #[test]
    fn rejects_unknown_and_builder_keys() {
        rejects(
            r#"{"requirs": ["a"]}"#,
            &["requirs", "unknown key", r#"["a"]"#],
        );
        rejects(
            r#"{"name": "foo"}"#,
            &["name", "\"foo\"", "computed by the builder"],
        );
        rejects(r#"{"variant": "ee"}"#, &["variant", "\"ee\""]);
        rejects(
            r#"{"pkgpanda_version": "x"}"#,
            &["pkgpanda_version", "\"x\""],
        );
    }

    #[test]
    fn rejects_bad_sources() {
        let url = |extra: &str| {
            format!(r#"{{"sources": {{"s": {{"kind": "url", "url": "https://x/y"{extra}}}}}}}"#)
        };
        rejects(&url(""), &["sources.s.sha1", "missing", "https://x/y"]);
        rejects(
            &url(r#", "sha1": "ABC""#),
            &["sources.s.sha1", "\"ABC\"", "40 lowercase hex"],
        );
        rejects(
            &url(&format!(r#", "sha1": "{}""#, SHA1.to_uppercase())),
            &["sources.s.sha1", "40 lowercase hex"],
        );
        rejects(
            &url(r#", "sha256": "abc""#),
            &["sources.s.sha256", "\"abc\"", "64"],
        );
        rejects(
            &url(&format!(r#", "sha1": "{SHA1}", "ref": "x""#)),
            &["sources.s.ref", "unknown key", "\"x\""],
        );
        rejects(
            &format!(
                r#"{{"sources": {{"s": {{"kind": "url", "url": "x/y", "sha1": "{SHA1}"}}}}}}"#
            ),
            &["sources.s.url", "\"x/y\"", "scheme"],
        );
        rejects(
            r#"{"sources": {"s": {"kind": "svn", "url": "x"}}}"#,
            &["sources.s.kind", "\"svn\"", "unknown source kind"],
        );
        rejects(
            r#"{"sources": {"s": {"url": "x"}}}"#,
            &["sources.s.kind", "missing"],
        );
        rejects(
            r#"{"sources": {"s": "https://x"}}"#,
            &["sources.s", "\"https://x\"", "object"],
        );
        rejects(r#"{"sources": []}"#, &["sources", "[]", "object"]);
        rejects(
            r#"{"sources": {"s": {"kind": "git", "git": "g", "ref": "main", "ref_origin": "main"}}}"#,
            &["sources.s.ref", "\"main\"", "40-hex"],
        );
        rejects(
            &format!(r#"{{"sources": {{"s": {{"kind": "git", "git": "g", "ref": "{SHA1}"}}}}}}"#),
            &["sources.s.ref_origin", "missing"],
        );
        rejects(
            r#"{"sources": {"s": {"kind": "git_local", "rel_path": "/abs"}}}"#,
            &["sources.s.rel_path", "\"/abs\""],
        );
        rejects(
            r#"{"sources": {"s": {"kind": "git_local"}}}"#,
            &["sources.s.rel_path", "missing"],
        );
        rejects(
            &format!(
                r#"{{"sources": {{"a/b": {{"kind": "url", "url": "http://x", "sha1": "{SHA1}"}}}}}}"#
            ),
            &["sources.a/b", "\"a/b\"", "source names"],
        );
        rejects(
            &format!(
                r#"{{"sources": {{}}, "single_source": {{"kind": "url", "url": "http://x", "sha1": "{SHA1}"}}}}"#
            ),
            &["single_source", "cannot both be given"],
        );
        rejects(
            r#"{"single_source": {"kind": "git_local", "rel_path": 1}}"#,
            &["single_source.rel_path", "1", "string"],
        );
    }

    #[test]
    fn rejects_bad_fields() {
        rejects(
            r#"{"build_script": "../build"}"#,
            &["build_script", "\"../build\"", "relative path"],
        );
        rejects(
            r#"{"build_script": "/bin/sh"}"#,
            &["build_script", "\"/bin/sh\""],
        );
        rejects(r#"{"docker": "a b"}"#, &["docker", "\"a b\""]);
        rejects(r#"{"sources": null}"#, &["sources", "null", "object"]);
        rejects(
            r#"{"single_source": null}"#,
            &["single_source", "null", "object"],
        );
        rejects(r#"{"state_directory": null}"#, &["state_directory", "null"]);
        rejects(r#"{"docker": 3}"#, &["docker", "3", "string"]);
        rejects(r#"{"version_extra": []}"#, &["version_extra", "[]"]);
        rejects(
            r#"{"state_directory": 1}"#,
            &["state_directory", "1", "true or false"],
        );
        rejects(
            r#"{"environment": {"PATH": "/x"}}"#,
            &["environment.PATH", "\"PATH\""],
        );
        rejects(
            r#"{"environment": {"X": false}}"#,
            &["environment.X", "false"],
        );
        rejects(
            r#"{"group": "dcos_g"}"#,
            &["group", "\"dcos_g\"", "username"],
        );
        rejects(r#"{"username": "nobody"}"#, &["username", "\"nobody\""]);
        rejects(
            r#"{"requires": [{"name": "x"}]}"#,
            &["requires[0].variant", "missing"],
        );
        rejects(r#"{"sysctl": {"s": {"k": [1]}}}"#, &["sysctl.s.k", "[1]"]);
        rejects("[1]", &["(top level)", "[1]"]);
        rejects("{\"a\": ", &["not valid JSON"]);
    }

    #[test]
    fn variant_file_names() {
        assert_eq!(buildinfo_variant("buildinfo.json").unwrap(), Some(None));
        assert_eq!(
            buildinfo_variant("ee.buildinfo.json").unwrap(),
            Some(Some("ee".into()))
        );
        assert_eq!(buildinfo_variant("build").unwrap(), None);
        assert_eq!(
            file_variant("installer.treeinfo.json", "treeinfo.json").unwrap(),
            Some(Some("installer".into()))
        );
        for bad in [".buildinfo.json", "eebuildinfo.json", "a b.buildinfo.json"] {
            let err = buildinfo_variant(bad).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("{bad}: (file name): \"")),
                "{err}"
            );
        }
    }
}
