//! `pkginfo.json`, the metadata inside every package: what pkg-activate
//! reads to link, check and configure a package.
//!
//! Parsing validates everything pkgpanda checks at activation time that can be
//! checked on one package alone (reserved and malformed environment names,
//! user and group names, `group` without `username`, requirement syntax), and
//! refuses what pkgpanda would silently mangle (non-string environment values,
//! unknown keys). Rules that need the whole package set (repeated names,
//! conflicting sysctl) belong to the activation planner.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::ModelError;
use crate::id::validate_name;
use crate::object::{parse_bytes, At, Object};

/// Environment names pkgpanda sets itself; packages may not (pkgpanda
/// `reserved_env_vars`).
pub const RESERVED_ENV_VARS: [&str; 2] = ["LD_LIBRARY_PATH", "PATH"];

/// The parsed `pkginfo.json` of one package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkgInfo {
    pub requires: Vec<Requirement>,
    /// Environment variables in pkginfo order (written in this order).
    pub environment: Vec<(String, String)>,
    /// service name -> sysctl key -> value.
    pub sysctl: BTreeMap<String, BTreeMap<String, SysctlValue>>,
    pub username: Option<String>,
    pub group: Option<String>,
    pub state_directory: bool,
    pub variant: Option<String>,
}

/// One entry of `requires`: a package name, optionally a variant. Activation
/// checks the name only; the variant matters to the builder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    pub name: String,
    pub variant: Option<String>,
}

/// A sysctl value. `1` and `"1"` are different values: pkgpanda compares
/// them as Python objects, so two packages setting them conflict (COMPAT.md).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SysctlValue {
    Int(i64),
    Str(String),
}

impl SysctlValue {
    pub fn to_json(&self) -> Value {
        match self {
            SysctlValue::Int(n) => json!(n),
            SysctlValue::Str(s) => json!(s),
        }
    }
}

impl std::fmt::Display for SysctlValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // JSON form, so `1` and `"1"` read differently in messages too.
        write!(f, "{}", self.to_json())
    }
}

impl Requirement {
    pub fn to_json(&self) -> Value {
        match &self.variant {
            None => json!(self.name),
            Some(variant) => json!({"name": self.name, "variant": variant}),
        }
    }
}

const PKGINFO_KEYS: &[&str] = &[
    "requires",
    "environment",
    "sysctl",
    "username",
    "group",
    "state_directory",
    "variant",
];

impl PkgInfo {
    /// Parses and validates `pkginfo.json`. `file` is only used in errors.
    /// Blank content counts as `{}`.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<PkgInfo, ModelError> {
        let value = parse_bytes(file, bytes, true)?;
        let root = Object::root(file, &value)?;
        root.only(PKGINFO_KEYS)?;
        let fields = parse_package_fields(&root)?;
        Ok(PkgInfo {
            requires: fields.requires,
            environment: fields.environment,
            sysctl: fields.sysctl,
            username: fields.username,
            group: fields.group,
            state_directory: fields.state_directory,
            variant: root
                .with("variant", |at, v| {
                    if v.is_null() {
                        return Ok(None);
                    }
                    let variant = at.string(v)?;
                    validate_variant(at, v, &variant)?;
                    Ok(Some(variant))
                })?
                .flatten(),
        })
    }

    /// The JSON form, as pkg-build writes it. `parse(to_json())` gives back
    /// an equal value.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert(
            "requires".into(),
            Value::Array(self.requires.iter().map(Requirement::to_json).collect()),
        );
        out.insert("environment".into(), environment_json(&self.environment));
        out.insert("state_directory".into(), json!(self.state_directory));
        if !self.sysctl.is_empty() {
            out.insert("sysctl".into(), sysctl_json(&self.sysctl));
        }
        if let Some(username) = &self.username {
            out.insert("username".into(), json!(username));
        }
        if let Some(group) = &self.group {
            out.insert("group".into(), json!(group));
        }
        if let Some(variant) = &self.variant {
            out.insert("variant".into(), json!(variant));
        }
        Value::Object(out)
    }
}

/// The fields pkginfo.json and buildinfo.json share, parsed with the same
/// rules in both.
pub(crate) struct PackageFields {
    pub requires: Vec<Requirement>,
    pub environment: Vec<(String, String)>,
    pub sysctl: BTreeMap<String, BTreeMap<String, SysctlValue>>,
    pub username: Option<String>,
    pub group: Option<String>,
    pub state_directory: bool,
}

pub(crate) fn parse_package_fields(root: &Object<'_>) -> Result<PackageFields, ModelError> {
    let requires = root.with("requires", parse_requires)?.unwrap_or_default();
    let environment = root
        .with("environment", parse_environment)?
        .unwrap_or_default();
    let sysctl = root.with("sysctl", parse_sysctl)?.unwrap_or_default();
    let state_directory = root.bool("state_directory")?.unwrap_or(false);
    let username = root.with("username", |at, v| {
        let name = at.string(v)?;
        if !is_username(&name) {
            return Err(at.invalid(
                v,
                "user names must match ^dcos_[a-z0-9_]+$ (at most 32 characters)",
            ));
        }
        Ok(name)
    })?;
    let group = root.with("group", |at, v| {
        let name = at.string(v)?;
        if !is_group_name(&name) {
            return Err(at.invalid(
                v,
                "group names must match ^[a-z_][a-z0-9_-]*$ (at most 32 characters)",
            ));
        }
        Ok(name)
    })?;
    if let (Some(group), None) = (&group, &username) {
        let path = root.key_path("group");
        return Err(At {
            file: &root.file,
            path: &path,
        }
        .invalid(&json!(group), "`group` cannot be used without `username`"));
    }
    Ok(PackageFields {
        requires,
        environment,
        sysctl,
        username,
        group,
        state_directory,
    })
}

fn parse_requires(at: At<'_>, value: &Value) -> Result<Vec<Requirement>, ModelError> {
    let items = at.array(value)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("{}[{i}]", at.path);
        let at = At {
            file: at.file,
            path: &path,
        };
        out.push(parse_requirement(at, item)?);
    }
    Ok(out)
}

/// `"name"` or `{"name": .., "variant": ..}`; the dict form needs both keys
/// (pkgpanda `expand_require`), a `null` variant meaning the default one.
fn parse_requirement(at: At<'_>, value: &Value) -> Result<Requirement, ModelError> {
    let (name, variant) = match value {
        Value::String(name) => (name.clone(), None),
        Value::Object(_) => {
            let object = at.object(value)?;
            object.only(&["name", "variant"])?;
            let name_value = object.require("name")?;
            object.require("variant")?;
            let name_path = object.key_path("name");
            let name = At {
                file: at.file,
                path: &name_path,
            }
            .string(name_value)?;
            let variant = object.with("variant", |at, v| {
                if v.is_null() {
                    return Ok(None);
                }
                let variant = at.string(v)?;
                validate_variant(at, v, &variant)?;
                Ok(Some(variant))
            })?;
            (name, variant.flatten())
        }
        other => return Err(at.type_error("a package name or {\"name\", \"variant\"}", other)),
    };
    if validate_name(&name).is_err() {
        let reason = if name.contains("--") {
            "requires names a package, not a package id"
        } else {
            "package names must match ^[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*$ and not end with '-'"
        };
        return Err(at.invalid(&json!(name), reason));
    }
    Ok(Requirement { name, variant })
}

/// Variant names become file names (`<variant>.buildinfo.json`) and id
/// parts, so they follow the package-name rule.
pub(crate) fn validate_variant(at: At<'_>, value: &Value, variant: &str) -> Result<(), ModelError> {
    if validate_name(variant).is_err() {
        return Err(at.invalid(
            value,
            "variant names must match ^[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*$ and not end with '-'",
        ));
    }
    Ok(())
}

fn parse_environment(at: At<'_>, value: &Value) -> Result<Vec<(String, String)>, ModelError> {
    let object = at.object(value)?;
    let mut out = Vec::with_capacity(object.map.len());
    for (name, value) in object.map {
        let path = object.key_path(name);
        let at = At {
            file: at.file,
            path: &path,
        };
        if !is_shell_name(name) {
            return Err(at.invalid(
                &json!(name),
                "environment names must match ^[A-Za-z_][A-Za-z0-9_]*$",
            ));
        }
        if RESERVED_ENV_VARS.contains(&name.as_str()) {
            return Err(at.invalid(
                &json!(name),
                "PATH and LD_LIBRARY_PATH are set by pkg-activate and cannot be given by packages",
            ));
        }
        // pkgpanda would write Python's `True` or `None` here; refuse instead.
        let text = at.string(value)?;
        if let Some(problem) = env_value_problem(&text) {
            return Err(at.invalid(value, problem));
        }
        out.push((name.clone(), text));
    }
    Ok(out)
}

/// Why `value` cannot be written unquoted, as pkgpanda writes it, in
/// `environment` (`NAME=value`: a systemd EnvironmentFile, also sourced by
/// bash under `set -a`) and `environment.export` (`export NAME=value`) and
/// be read back unchanged by systemd and bash; `None` if it can.
///
/// Refused: NUL; CR and LF (line ends for systemd); tab and space (bash
/// word separators, and systemd strips them at either end); quotes and
/// backslash (quoting for both); `` ` `` and `$` other than last
/// (bash expansions); `; & | < > ( )` (bash operators); `~` first or after
/// `:` (bash tilde expansion in assignments); a `{` followed by a `}` with
/// `,` or `..` between (bash brace expansion of `export`'s arguments).
/// Everything else, other control characters included, reads back as is.
pub fn env_value_problem(value: &str) -> Option<String> {
    let chars: Vec<char> = value.chars().collect();
    let refuse = |i: usize, what: &str| {
        Some(format!(
            "environment values are written unquoted and must read back unchanged; \
             {:?} at character {} {what}",
            chars[i],
            i + 1
        ))
    };
    for (i, &c) in chars.iter().enumerate() {
        let problem = match c {
            '\0' => Some("cannot be passed in an environment"),
            '\n' | '\r' => Some("ends the line for systemd"),
            '\t' | ' ' => Some("separates words for bash (and systemd strips it at either end)"),
            '"' | '\'' | '\\' => Some("is quoting for systemd and bash"),
            '`' => Some("is command substitution for bash"),
            '$' if i + 1 < chars.len() => Some("starts an expansion for bash"),
            ';' | '&' | '|' | '<' | '>' | '(' | ')' => Some("is an operator for bash"),
            '~' if i == 0 || chars[i - 1] == ':' => {
                Some("is tilde expansion for bash (first, or after ':')")
            }
            '{' if brace_expansion(&chars[i + 1..]) => {
                Some("starts a brace expansion for bash (a later ',' or '..' and '}')")
            }
            _ => None,
        };
        if let Some(what) = problem {
            return refuse(i, what);
        }
    }
    None
}

/// Whether the text after a `{` holds a `}` with a `,` or `..` before it.
fn brace_expansion(rest: &[char]) -> bool {
    let Some(close) = rest.iter().position(|&c| c == '}') else {
        return false;
    };
    let inner = &rest[..close];
    inner.contains(&',') || inner.windows(2).any(|w| w == ['.', '.'])
}

fn parse_sysctl(
    at: At<'_>,
    value: &Value,
) -> Result<BTreeMap<String, BTreeMap<String, SysctlValue>>, ModelError> {
    let services = at.object(value)?;
    let mut out = BTreeMap::new();
    for (service, settings) in services.map {
        let path = services.key_path(service);
        let at = At {
            file: at.file,
            path: &path,
        };
        if service.is_empty() || service.contains('/') {
            return Err(at.invalid(
                &json!(service),
                "service names must be non-empty unit names",
            ));
        }
        let settings = at.object(settings)?;
        let mut keys = BTreeMap::new();
        for (key, value) in settings.map {
            let path = settings.key_path(key);
            let at = At {
                file: at.file,
                path: &path,
            };
            if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c == '=') {
                return Err(at.invalid(
                    &json!(key),
                    "sysctl keys must be non-empty, without spaces or '='",
                ));
            }
            let value = match value {
                Value::String(s) if s.chars().any(char::is_control) => {
                    return Err(
                        at.invalid(value, "sysctl values must not contain control characters")
                    );
                }
                Value::String(s) => SysctlValue::Str(s.clone()),
                Value::Number(n) if n.is_i64() => SysctlValue::Int(n.as_i64().unwrap_or_default()),
                other => return Err(at.type_error("an integer or a string", other)),
            };
            keys.insert(key.clone(), value);
        }
        out.insert(service.clone(), keys);
    }
    Ok(out)
}

pub(crate) fn environment_json(environment: &[(String, String)]) -> Value {
    Value::Object(
        environment
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect(),
    )
}

pub(crate) fn sysctl_json(sysctl: &BTreeMap<String, BTreeMap<String, SysctlValue>>) -> Value {
    Value::Object(
        sysctl
            .iter()
            .map(|(service, keys)| {
                let keys: Map<String, Value> =
                    keys.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
                (service.clone(), Value::Object(keys))
            })
            .collect(),
    )
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`: a name a POSIX shell accepts in `export`.
pub fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Longest user or group name `useradd`/`groupadd` accept; checked here so
/// activation refuses before changing anything rather than fail midway.
pub const MAX_USER_NAME_LEN: usize = 32;

/// `^dcos_[a-z0-9_]+$` (pkgpanda `username_regex`), at most
/// [`MAX_USER_NAME_LEN`] characters.
pub fn is_username(name: &str) -> bool {
    name.len() <= MAX_USER_NAME_LEN
        && name.strip_prefix("dcos_").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// `^[a-z_][a-z0-9_-]*$` (pkgpanda `linux_group_regex`, from shadow's
/// chkname), at most [`MAX_USER_NAME_LEN`] characters.
pub fn is_group_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_USER_NAME_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PkgInfo, ModelError> {
        PkgInfo::parse("pkg/pkginfo.json", text.as_bytes())
    }

    /// The error message for `text`; asserts it names the file and every
    /// given fragment (key, value).
    fn rejects(text: &str, fragments: &[&str]) -> ModelError {
        let err = parse(text).expect_err(text);
        let message = err.to_string();
        assert!(message.starts_with("pkg/pkginfo.json: "), "{message}");
        for fragment in fragments {
            assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        }
        assert_eq!(err.class(), crate::ExitClass::Invalid);
        assert!(!message.contains('\n'), "{message:?}");
        err
    }

    #[test]
    fn parses_a_full_pkginfo() {
        let info = parse(
            r#"{"requires": ["mesos", {"name": "java", "variant": "ee"}, {"name": "x", "variant": null}],
                "environment": {"ZED": "1", "ALPHA": "two\u000bwords=~x$"},
                "sysctl": {"dcos-mesos-slave.service": {"vm.max_map_count": 262144, "vm.swappiness": "1"}},
                "username": "dcos_exhibitor", "group": "dcos_group", "state_directory": true,
                "variant": "ee"}"#,
        )
        .unwrap();
        assert_eq!(
            info.requires,
            vec![
                Requirement {
                    name: "mesos".into(),
                    variant: None
                },
                Requirement {
                    name: "java".into(),
                    variant: Some("ee".into())
                },
                Requirement {
                    name: "x".into(),
                    variant: None
                },
            ]
        );
        // pkginfo order kept, not sorted.
        assert_eq!(
            info.environment,
            vec![
                ("ZED".into(), "1".into()),
                ("ALPHA".into(), "two\u{b}words=~x$".into())
            ]
        );
        let service = &info.sysctl["dcos-mesos-slave.service"];
        assert_eq!(service["vm.max_map_count"], SysctlValue::Int(262144));
        assert_eq!(service["vm.swappiness"], SysctlValue::Str("1".into()));
        assert_ne!(SysctlValue::Int(1), SysctlValue::Str("1".into()));
        assert_eq!(info.username.as_deref(), Some("dcos_exhibitor"));
        assert_eq!(info.group.as_deref(), Some("dcos_group"));
        assert!(info.state_directory);
        assert_eq!(info.variant.as_deref(), Some("ee"));

        let again = PkgInfo::parse("x", info.to_json().to_string().as_bytes()).unwrap();
        assert_eq!(again, info);
    }

    #[test]
    fn blank_file_is_empty_pkginfo() {
        assert_eq!(parse("").unwrap(), PkgInfo::default());
        assert_eq!(parse(" \n").unwrap(), PkgInfo::default());
        assert_eq!(parse("{}").unwrap(), PkgInfo::default());
        assert_eq!(parse(r#"{"variant": null}"#).unwrap(), PkgInfo::default());
        rejects(r#"{"username": null}"#, &["username", "null", "string"]);
        rejects(r#"{"requires": null}"#, &["requires", "null", "array"]);
    }

    #[test]
    fn rejects_bad_json_and_shapes() {
        rejects("{", &["not valid JSON"]);
        rejects("[]", &["(top level)", "[]"]);
        let err = PkgInfo::parse("p.json", b"\xff").unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn rejects_duplicate_keys() {
        rejects(
            r#"{"environment": {"A": "1", "B": "2", "A": "3"}}"#,
            &["not valid JSON", "duplicate key environment.A", "line 1"],
        );
        rejects(
            r#"{"requires": [], "requires": []}"#,
            &["duplicate key requires"],
        );
        rejects(
            r#"{"requires": [{"name": "a", "variant": "b", "name": "c"}]}"#,
            &["duplicate key requires[0].name"],
        );
        rejects(r#"{} {}"#, &["not valid JSON", "trailing"]);
    }

    #[test]
    fn rejects_unknown_keys() {
        rejects(
            r#"{"requires": [], "enviroment": {"A": "b"}}"#,
            &["enviroment", "unknown key", r#"{"A":"b"}"#],
        );
    }

    #[test]
    fn rejects_bad_environment() {
        rejects(
            r#"{"environment": {"A": true}}"#,
            &["environment.A", "true", "string"],
        );
        rejects(
            r#"{"environment": {"A": null}}"#,
            &["environment.A", "null"],
        );
        rejects(r#"{"environment": {"A": 1}}"#, &["environment.A", "1"]);
        rejects(
            r#"{"environment": {"1A": "x"}}"#,
            &["environment.1A", "\"1A\""],
        );
        rejects(
            r#"{"environment": {"A-B": "x"}}"#,
            &["environment.A-B", "\"A-B\""],
        );
        rejects(
            r#"{"environment": {"PATH": "/bin"}}"#,
            &["environment.PATH", "\"PATH\"", "cannot"],
        );
        rejects(
            r#"{"environment": {"LD_LIBRARY_PATH": "/lib"}}"#,
            &["environment.LD_LIBRARY_PATH", "\"LD_LIBRARY_PATH\""],
        );
        rejects(
            r#"{"environment": {"A": "x\nPATH=/evil"}}"#,
            &[
                "environment.A",
                r#""x\nPATH=/evil""#,
                "'\\n' at character 2",
            ],
        );
        // pkgpanda writes these unquoted, and bash misreads them.
        for (value, named) in [
            ("a\\tb", "'\\t' at character 2"),
            ("two words", "' ' at character 4"),
            ("$HOME/x", "'$' at character 1"),
            ("x:~/y", "'~' at character 3"),
            ("{a,b}", "'{' at character 1"),
            ("a;b", "';' at character 2"),
            ("a\\\\b", "'\\\\' at character 2"),
        ] {
            rejects(
                &format!(r#"{{"environment": {{"A": "{value}"}}}}"#),
                &["environment.A", named, "read back unchanged"],
            );
        }
        rejects(
            r#"{"environment": ["A=b"]}"#,
            &["environment", "[\"A=b\"]", "object"],
        );
    }

    #[test]
    fn rejects_bad_users_and_groups() {
        rejects(
            r#"{"username": "root"}"#,
            &["username", "\"root\"", "dcos_"],
        );
        rejects(r#"{"username": "dcos_"}"#, &["username", "\"dcos_\""]);
        rejects(r#"{"username": "dcos_Foo"}"#, &["username", "\"dcos_Foo\""]);
        let long = format!("dcos_{}", "a".repeat(28));
        rejects(
            &format!(r#"{{"username": "{long}"}}"#),
            &["username", &long, "32"],
        );
        assert!(parse(&format!(r#"{{"username": "{}"}}"#, &long[..32])).is_ok());
        rejects(r#"{"username": 5}"#, &["username", "5", "string"]);
        rejects(
            r#"{"group": "dcos_x"}"#,
            &["group", "\"dcos_x\"", "without `username`"],
        );
        rejects(
            r#"{"username": "dcos_a", "group": "Bad"}"#,
            &["group", "\"Bad\""],
        );
        rejects(r#"{"username": "dcos_a", "group": ""}"#, &["group", "\"\""]);
        rejects(
            r#"{"state_directory": "yes"}"#,
            &["state_directory", "\"yes\"", "true or false"],
        );
    }

    #[test]
    fn rejects_bad_requires() {
        rejects(
            r#"{"requires": "mesos"}"#,
            &["requires", "\"mesos\"", "array"],
        );
        rejects(
            r#"{"requires": ["ok", "bad name"]}"#,
            &["requires[1]", "\"bad name\""],
        );
        rejects(
            r#"{"requires": ["mesos--1.0"]}"#,
            &["requires[0]", "\"mesos--1.0\"", "not a package id"],
        );
        rejects(
            r#"{"requires": [{"name": "java"}]}"#,
            &["requires[0].variant", "missing", "java"],
        );
        rejects(
            r#"{"requires": [{"variant": "ee"}]}"#,
            &["requires[0].name", "missing"],
        );
        rejects(
            r#"{"requires": [{"name": "a", "variant": "b", "x": 1}]}"#,
            &["requires[0].x", "unknown key", "1"],
        );
        rejects(
            r#"{"requires": [{"name": "a", "variant": "b c"}]}"#,
            &["requires[0].variant", "\"b c\""],
        );
        rejects(r#"{"requires": [3]}"#, &["requires[0]", "3"]);
        rejects(r#"{"variant": "a/b"}"#, &["variant", "\"a/b\""]);
    }

    #[test]
    fn rejects_bad_sysctl() {
        rejects(
            r#"{"sysctl": {"a.service": {"vm.x": 1.5}}}"#,
            &["sysctl.a.service.vm.x", "1.5", "integer"],
        );
        rejects(
            r#"{"sysctl": {"a.service": {"vm.x": true}}}"#,
            &["sysctl.a.service.vm.x", "true"],
        );
        rejects(
            r#"{"sysctl": {"a.service": {"vm.x": "1\n"}}}"#,
            &["sysctl.a.service.vm.x", r#""1\n""#],
        );
        rejects(
            r#"{"sysctl": {"a.service": 1}}"#,
            &["sysctl.a.service", "1", "object"],
        );
        rejects(
            r#"{"sysctl": {"a.service": {"vm x": 1}}}"#,
            &["sysctl.a.service.vm x", "\"vm x\""],
        );
        rejects(r#"{"sysctl": {"": {}}}"#, &["sysctl.", "\"\""]);
    }

    #[test]
    fn name_predicates() {
        assert!(is_shell_name("_A1") && !is_shell_name("") && !is_shell_name("A.B"));
        assert!(is_username("dcos_a_1") && !is_username("dcos_a-1"));
        assert!(is_group_name("_a-1") && !is_group_name("-a") && !is_group_name("A"));
    }
}
