//! Bounded fuzzing of the metadata parsers (issue 7, "Bad input"), with
//! proptest: `PkgInfo`, `BuildInfo`, `TreeInfo`, `BundleManifest`,
//! `PackageManifest`, `ActiveList`, `ClusterPackages`, `PackageId` and
//! `canonical_json`.
//!
//! Three properties, each over generated input:
//! - hostile input (arbitrary bytes, JSON-ish token soup, arbitrary JSON
//!   documents built from the formats' own keys) never panics, and every
//!   rejection is one line that starts with the file name and is exit class
//!   "invalid input";
//! - valid values round-trip: `parse(to_json(v)) == v`;
//! - a valid document with one mutation (a required key dropped, a key
//!   renamed, a value of the wrong JSON type) is rejected, and the error's
//!   key is the mutated key's path.
//!
//! Bounded for CI: `DEFAULT_CASES` cases per property keep the file well
//! under 30 s in a debug build on 2 cores. `TARMAC_FUZZ_CASES=N` sets N
//! cases per property for a long run (docs/reliability.md, "Fuzzing").

// Test and bench code: unwrap and print freely (the workspace lints are for
// library code).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Map, Value};
use tarmac_model::{
    canonical_json, content_hash, env_value_problem, ActiveList, BuildInfo, BundleManifest,
    ClusterPackages, ExitClass, ModelError, PackageId, PackageManifest, PkgInfo, Requirement,
    Source, Sources, SysctlValue, TreeInfo, RESERVED_ENV_VARS,
};

/// Cases per property when `TARMAC_FUZZ_CASES` is not set.
const DEFAULT_CASES: u32 = 256;

/// The proptest configuration of every property: `DEFAULT_CASES` times
/// `weight` cases (cheap properties get more), or `TARMAC_FUZZ_CASES` times
/// `weight`.
fn config(weight: u32) -> ProptestConfig {
    let cases = match std::env::var("TARMAC_FUZZ_CASES") {
        Ok(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| {
                panic!("TARMAC_FUZZ_CASES={text:?}: expected a positive number of cases")
            }),
        Err(_) => DEFAULT_CASES,
    };
    ProptestConfig {
        cases: cases.saturating_mul(weight),
        // A failure prints its minimal input; it becomes a named regression
        // test below rather than a file proptest writes into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// The parsers under test, by name, as `fn(file, bytes) -> Result<(), _>`.

type Parse = fn(&str, &[u8]) -> Result<(), ModelError>;

const PARSERS: &[(&str, Parse)] = &[
    ("pkginfo.json", |f, b| PkgInfo::parse(f, b).map(drop)),
    ("buildinfo.json", |f, b| BuildInfo::parse(f, b).map(drop)),
    ("treeinfo.json", |f, b| TreeInfo::parse(f, b).map(drop)),
    ("bundle.json", |f, b| BundleManifest::parse(f, b).map(drop)),
    ("a--1.json", |f, b| PackageManifest::parse(f, b).map(drop)),
    ("x.active.json", |f, b| ActiveList::parse(f, b).map(drop)),
    ("cluster-packages.json", |f, b| {
        ClusterPackages::parse(f, b).map(drop)
    }),
];

/// Every key any of the formats knows: hostile documents use them so the
/// parsers get past "unknown key" into the code that reads values.
const ALL_KEYS: &[&str] = &[
    "requires",
    "environment",
    "sysctl",
    "username",
    "group",
    "state_directory",
    "variant",
    "single_source",
    "sources",
    "build_script",
    "docker",
    "version_extra",
    "name",
    "kind",
    "url",
    "sha1",
    "sha256",
    "git",
    "ref",
    "ref_origin",
    "rel_path",
    "exclude",
    "variants",
    "core_package_list",
    "bootstrap_package_list",
    "format",
    "bootstrap_id",
    "packages",
    "id",
    "tree_hash",
    "files",
    "bytes",
    "filename",
    "PATH",
    "dcos-mesos-slave.service",
    "vm.swappiness",
];

/// Checks what every rejection must be: about `file`, one line starting
/// with it, invalid input.
fn check_rejection(file: &str, err: &ModelError) -> Result<(), TestCaseError> {
    let message = err.to_string();
    prop_assert_eq!(err.file(), file, "{}", message);
    prop_assert!(
        message.starts_with(&format!("{file}: ")),
        "message does not start with the file: {:?}",
        message
    );
    prop_assert!(!message.contains('\n'), "multi-line message: {:?}", message);
    prop_assert_eq!(err.class(), ExitClass::Invalid);
    Ok(())
}

/// Runs every parser on `bytes`; each may accept or reject, never panic.
fn check_all_parsers(bytes: &[u8]) -> Result<(), TestCaseError> {
    for (file, parse) in PARSERS {
        if let Err(err) = parse(file, bytes) {
            check_rejection(file, &err)?;
        }
    }
    Ok(())
}

/// The key path of an error, as the model formats it (`a.b[0].c`).
fn error_key(err: &ModelError) -> Option<&str> {
    match err {
        ModelError::Json { .. } => None,
        ModelError::UnknownKey { key, .. }
        | ModelError::Missing { key, .. }
        | ModelError::Type { key, .. }
        | ModelError::Invalid { key, .. } => Some(key),
    }
}

// ---------------------------------------------------------------------------
// Hostile input generators.

/// Strings that look like the values the formats hold, and some that break
/// their rules in the usual ways, plus anything at all.
fn interesting_string() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        2 => "[a-zA-Z0-9@_+:.-]{0,12}",
        1 => "dcos_[a-z0-9_]{1,30}",
        1 => "[0-9a-f]{40}",
        1 => "[0-9a-f]{64}",
        1 => "(https?|git|ftp)://[a-z./]{0,10}",
        1 => "[a-z]{1,6}--[a-z0-9.]{1,6}",
        1 => "packages/[a-z]{1,4}/[a-z]{1,4}--[0-9]\\.tar\\.(zst|xz|gz)",
        2 => prop::sample::select(vec![
            "", ".", "..", "/", "/abs", "../x", "PATH", "url", "url_extract", "git",
            "git_local", "\n", "a\u{0}b", "a\nb", "\u{7f}", "é", "a b", "=", "1",
        ])
        .prop_map(str::to_string),
    ]
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(ALL_KEYS).prop_map(str::to_string),
        2 => interesting_string(),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![0i64, 1, 2, -1, 262144]).prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // non-finite becomes null
        interesting_string().prop_map(Value::String),
    ]
}

/// Any JSON value, keys biased toward the formats' keys.
fn json_value() -> BoxedStrategy<Value> {
    json_leaf()
        .prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((json_key(), inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A JSON object at the top level (what most formats expect), or any value.
fn json_document() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::vec((json_key(), json_value()), 0..8)
            .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        1 => json_value(),
    ]
}

/// Byte soup made of JSON tokens: gets past the first byte far more often
/// than uniform random bytes.
fn json_tokens() -> impl Strategy<Value = Vec<u8>> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\"requires\"",
        "\"packages\"",
        "\"a\"",
        "1",
        "-",
        "0",
        "1e999",
        "-0",
        "0.5",
        "null",
        "true",
        "false",
        " ",
        "\n",
        "\\",
        "\\u0000",
        "\\ud800",
        "\"\\n\"",
        "\u{feff}",
        "\u{0}",
        "\u{7f}",
        "é",
    ]);
    prop::collection::vec(token, 0..48).prop_map(|tokens| tokens.concat().into_bytes())
}

proptest! {
    #![proptest_config(config(4))]

    /// (a) Arbitrary bytes: never a panic, every error names the file.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_all_parsers(&bytes)?;
    }

    /// (a) JSON token soup.
    #[test]
    fn json_token_soup_never_panics(bytes in json_tokens()) {
        check_all_parsers(&bytes)?;
    }


    /// (a) Arbitrary strings as package ids: never a panic; a rejection
    /// quotes the string.
    #[test]
    fn arbitrary_package_ids_never_panic(text in prop_oneof![
        any::<String>(),
        "[a-z@_+.:-]{0,8}(--[a-z0-9@_+:.-]{0,8}){0,3}",
    ]) {
        match PackageId::parse(&text) {
            Ok(id) => {
                prop_assert_eq!(id.to_string(), text.clone());
                prop_assert_eq!(text.matches("--").count(), 1);
            }
            Err(err) => {
                let message = err.to_string();
                prop_assert!(!message.contains('\n'), "{:?}", message);
                // The part at fault, quoted: the whole id, or its name or version.
                let quoted_part = std::iter::once(text.as_str())
                    .chain(text.split("--"))
                    .any(|part| message.contains(&format!("{part:?}")));
                prop_assert!(quoted_part, "{:?} does not quote {:?}", message, text);
            }
        }
    }
}

proptest! {
    // Generating nested documents costs more than parsing them: fewer cases.
    #![proptest_config(config(1))]

    /// (a) Arbitrary JSON documents built from the formats' keys.
    #[test]
    fn arbitrary_json_never_panics(doc in json_document()) {
        check_all_parsers(doc.to_string().as_bytes())?;
        // Pretty-printed too: positions in errors are computed differently.
        check_all_parsers(serde_json::to_string_pretty(&doc).unwrap().as_bytes())?;
    }
}

/// Nesting far deeper than any real file: a clean error, not a stack
/// overflow.
#[test]
fn deep_nesting_is_rejected_cleanly() {
    for depth in [200, 100_000] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let in_key = format!(
            "{{\"requires\": {}{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        for doc in [arrays, objects, in_key] {
            for (file, parse) in PARSERS {
                let err = parse(file, doc.as_bytes()).unwrap_err();
                assert!(err.to_string().starts_with(&format!("{file}: ")), "{err}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Valid value generators.

/// A valid package (or variant) name: the pkgpanda pattern, no `--`, no
/// trailing `-` (which would make `name--version` ambiguous).
fn package_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]{0,14}[a-zA-Z0-9@._+]?"
        .prop_filter("no -- and no trailing -", |name| {
            !name.contains("--") && !name.ends_with('-')
        })
}

fn package_version() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9@_+:.]{1,20}"
}

fn package_id() -> impl Strategy<Value = PackageId> {
    (package_name(), package_version()).prop_map(|(n, v)| PackageId::new(&n, &v).unwrap())
}

fn requirement() -> impl Strategy<Value = Requirement> {
    (package_name(), prop::option::of(package_name()))
        .prop_map(|(name, variant)| Requirement { name, variant })
}

fn environment() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("[A-Za-z_][A-Za-z0-9_]{0,10}", "\\PC{0,12}", 0..5)
        .prop_filter("reserved name", |env| {
            !env.keys().any(|k| RESERVED_ENV_VARS.contains(&k.as_str()))
        })
        .prop_filter("value that cannot be written unquoted", |env| {
            env.values().all(|v| env_value_problem(v).is_none())
        })
        .prop_map(|env| env.into_iter().collect::<Vec<_>>())
        .prop_shuffle()
}

fn sysctl() -> impl Strategy<Value = BTreeMap<String, BTreeMap<String, SysctlValue>>> {
    let value = prop_oneof![
        any::<i64>().prop_map(SysctlValue::Int),
        "\\PC{0,8}".prop_map(SysctlValue::Str),
    ];
    let keys = prop::collection::btree_map("[^\\s=]{1,10}", value, 0..3);
    prop::collection::btree_map("[^/]{1,12}", keys, 0..3)
}

/// `(username, group)`: a group only with a user, as the format requires.
fn user_and_group() -> impl Strategy<Value = (Option<String>, Option<String>)> {
    let user = "dcos_[a-z0-9_]{1,27}";
    prop_oneof![
        Just((None, None)),
        user.prop_map(|u| (Some(u), None)),
        (user, "[a-z_][a-z0-9_-]{0,31}").prop_map(|(u, g)| (Some(u), Some(g))),
    ]
}

fn pkginfo() -> impl Strategy<Value = PkgInfo> {
    (
        prop::collection::vec(requirement(), 0..4),
        environment(),
        sysctl(),
        user_and_group(),
        any::<bool>(),
        prop::option::of(package_name()),
    )
        .prop_map(
            |(requires, environment, sysctl, (username, group), state_directory, variant)| {
                PkgInfo {
                    requires,
                    environment,
                    sysctl,
                    username,
                    group,
                    state_directory,
                    variant,
                }
            },
        )
}

fn source() -> impl Strategy<Value = Source> {
    let sha1 = "[0-9a-f]{40}";
    let sha256 = "[0-9a-f]{64}";
    let checksums = prop_oneof![
        sha1.prop_map(|s| (Some(s), None)),
        sha256.prop_map(|s| (None, Some(s))),
        (sha1, sha256).prop_map(|(a, b)| (Some(a), Some(b))),
    ];
    prop_oneof![
        ("(https?|ftp|file)://[!-~]{0,20}", any::<bool>(), checksums).prop_map(
            |(url, extract, (sha1, sha256))| Source::Url {
                url,
                extract,
                sha1,
                sha256
            }
        ),
        (any::<String>(), sha1, any::<String>()).prop_map(|(git, reference, ref_origin)| {
            Source::Git {
                git,
                reference,
                ref_origin,
            }
        }),
        "[^/][^\\x00]{0,15}".prop_map(|rel_path| Source::GitLocal { rel_path }),
    ]
}

fn sources() -> impl Strategy<Value = Sources> {
    let name = "[^/\\x00]{1,10}".prop_filter("not . or ..", |n| n != "." && n != "..");
    prop_oneof![
        Just(Sources::None),
        source().prop_map(Sources::Single),
        prop::collection::btree_map(name, source(), 0..4).prop_map(Sources::Named),
    ]
}

fn buildinfo() -> impl Strategy<Value = BuildInfo> {
    let script = "[a-z0-9_.-]{1,8}(/[a-z0-9_.-]{1,8}){0,3}"
        .prop_filter("no ..", |s| s.split('/').all(|c| c != ".."));
    (
        (
            prop::collection::vec(requirement(), 0..4),
            sources(),
            prop::option::of(script),
            prop::option::of("[a-z0-9./:_@-]{1,30}"),
        ),
        (
            environment(),
            sysctl(),
            user_and_group(),
            any::<bool>(),
            prop::option::of(any::<String>()),
        ),
    )
        .prop_map(
            |(
                (requires, sources, build_script, docker),
                (environment, sysctl, (username, group), state_directory, version_extra),
            )| BuildInfo {
                requires,
                sources,
                build_script,
                docker,
                environment,
                sysctl,
                state_directory,
                username,
                group,
                version_extra,
            },
        )
}

fn treeinfo() -> impl Strategy<Value = TreeInfo> {
    let names = || prop::collection::btree_set(package_name(), 0..5);
    (
        names(),
        prop::collection::btree_map(package_name(), prop::option::of(package_name()), 0..4),
        names(),
        names(),
    )
        .prop_map(|(exclude, variants, core, bootstrap)| {
            let keep = |set: BTreeSet<String>| set.difference(&exclude).cloned().collect();
            TreeInfo {
                core_package_list: keep(core),
                bootstrap_package_list: keep(bootstrap),
                exclude,
                variants,
            }
        })
}

fn package_manifest() -> impl Strategy<Value = PackageManifest> {
    (package_id(), "[0-9a-f]{1,64}", any::<u64>(), any::<u64>()).prop_map(
        |(id, tree_hash, files, bytes)| PackageManifest {
            id,
            tree_hash,
            files,
            bytes,
        },
    )
}

fn bundle_manifest() -> impl Strategy<Value = BundleManifest> {
    prop::collection::vec(package_manifest(), 0..6).prop_map(|packages| {
        let unique: BTreeMap<PackageId, PackageManifest> =
            packages.into_iter().map(|p| (p.id.clone(), p)).collect();
        BundleManifest::new(unique.into_values().collect())
    })
}

/// Ids with distinct names (active lists and cluster-packages.json hold one
/// version per package).
fn package_set() -> impl Strategy<Value = Vec<PackageId>> {
    prop::collection::btree_map(package_name(), package_version(), 0..6).prop_map(|m| {
        m.into_iter()
            .map(|(n, v)| PackageId::new(&n, &v).unwrap())
            .collect()
    })
}

proptest! {
    #![proptest_config(config(1))]

    /// (b) Valid values round-trip through their JSON form.
    #[test]
    fn pkginfo_round_trips(info in pkginfo()) {
        let text = info.to_json().to_string();
        prop_assert_eq!(PkgInfo::parse("pkginfo.json", text.as_bytes()).unwrap(), info);
    }

    #[test]
    fn buildinfo_round_trips(info in buildinfo()) {
        let text = serde_json::to_string_pretty(&info.to_json()).unwrap();
        let again = BuildInfo::parse("buildinfo.json", text.as_bytes());
        prop_assert_eq!(again.as_ref(), Ok(&info), "{}", text);
        // The JSON form is a stable hash input.
        prop_assert_eq!(content_hash(&again.unwrap().to_json()), content_hash(&info.to_json()));
    }

    #[test]
    fn treeinfo_round_trips(info in treeinfo()) {
        let text = info.to_json().to_string();
        prop_assert_eq!(TreeInfo::parse("treeinfo.json", text.as_bytes()).unwrap(), info);
    }

    #[test]
    fn manifests_round_trip(bundle in bundle_manifest()) {
        let text = bundle.to_json().to_string();
        prop_assert_eq!(BundleManifest::parse("bundle.json", text.as_bytes()), Ok(bundle.clone()));
        for package in &bundle.packages {
            let text = package.to_json().to_string();
            prop_assert_eq!(PackageManifest::parse("p.json", text.as_bytes()), Ok(package.clone()));
        }
    }

    #[test]
    fn package_lists_round_trip(ids in package_set().prop_shuffle()) {
        let active = ActiveList::new("a.json", ids.clone()).unwrap();
        let text = active.to_json().to_string();
        prop_assert_eq!(ActiveList::parse("a.json", text.as_bytes()), Ok(active));
        let cluster = ClusterPackages::new("c.json", ids).unwrap();
        let text = cluster.to_json().to_string();
        prop_assert_eq!(ClusterPackages::parse("c.json", text.as_bytes()), Ok(cluster));
    }

    #[test]
    fn package_ids_round_trip(id in package_id()) {
        let text = id.to_string();
        prop_assert_eq!(PackageId::parse(&text), Ok(id.clone()));
        prop_assert_eq!(text.parse::<PackageId>(), Ok(id));
    }

    /// canonical_json: sorted keys (by UTF-8 bytes), no whitespace; equal
    /// JSON in any key order gives the same bytes and hash; the output is
    /// JSON equal to the input.
    #[test]
    fn canonical_json_is_canonical(value in json_value()) {
        let canonical = canonical_json(&value);
        prop_assert_eq!(&canonical, &sorted_reference(&value));
        let reversed = reverse_keys(&value);
        prop_assert_eq!(&canonical_json(&reversed), &canonical);
        prop_assert_eq!(content_hash(&reversed), content_hash(&value));
        let reparsed: Value = serde_json::from_str(&canonical).unwrap();
        prop_assert_eq!(&reparsed, &value);
        prop_assert_eq!(canonical_json(&reparsed), canonical);
    }
}

/// Reference canonical form: rebuild every object with keys inserted in
/// sorted order, then let serde_json (preserve_order) print it compactly.
fn sorted_reference(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> =
                    map.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            scalar => scalar.clone(),
        }
    }
    sort(value).to_string()
}

/// The same value with every object's keys in reverse insertion order.
fn reverse_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reverse_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(reverse_keys).collect()),
        scalar => scalar.clone(),
    }
}

// ---------------------------------------------------------------------------
// (c) Mutations of valid documents. Each format is described by the
// objects in it whose keys are schema keys (not data such as environment
// names), and by each key's accepted JSON types and whether it is required.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Array,
    Object,
}

const ALL_TYPES: [Ty; 7] = [
    Ty::Null,
    Ty::Bool,
    Ty::Int,
    Ty::Float,
    Ty::Str,
    Ty::Array,
    Ty::Object,
];

impl Ty {
    /// A value of this type that fits no key of another type.
    fn sample(self) -> Value {
        match self {
            Ty::Null => Value::Null,
            Ty::Bool => json!(true),
            Ty::Int => json!(7),
            Ty::Float => json!(1.5),
            Ty::Str => json!("x"),
            Ty::Array => json!(["x"]),
            Ty::Object => json!({"x": 1}),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    Required,
    Optional,
    /// Dropping it may or may not be valid: one of `sha1`/`sha256` is
    /// required, and `username` is when `group` is given.
    Either,
}

struct KeySpec {
    name: &'static str,
    accepts: &'static [Ty],
    need: Need,
}

const fn key(name: &'static str, accepts: &'static [Ty], need: Need) -> KeySpec {
    KeySpec {
        name,
        accepts,
        need,
    }
}

use Need::{Either, Optional, Required};
const STR: &[Ty] = &[Ty::Str];
const STR_OR_NULL: &[Ty] = &[Ty::Str, Ty::Null];
const ARRAY: &[Ty] = &[Ty::Array];
const OBJECT: &[Ty] = &[Ty::Object];
const BOOL: &[Ty] = &[Ty::Bool];
const INT: &[Ty] = &[Ty::Int];

const PKGINFO_KEYS: &[KeySpec] = &[
    key("requires", ARRAY, Optional),
    key("environment", OBJECT, Optional),
    key("sysctl", OBJECT, Optional),
    key("username", STR, Either),
    key("group", STR, Optional),
    key("state_directory", BOOL, Optional),
    key("variant", STR_OR_NULL, Optional),
];
const BUILDINFO_KEYS: &[KeySpec] = &[
    key("requires", ARRAY, Optional),
    key("single_source", OBJECT, Optional),
    key("sources", OBJECT, Optional),
    key("build_script", STR, Optional),
    key("docker", STR, Optional),
    key("environment", OBJECT, Optional),
    key("sysctl", OBJECT, Optional),
    key("state_directory", BOOL, Optional),
    key("username", STR, Either),
    key("group", STR, Optional),
    key("version_extra", STR, Optional),
];
const REQUIREMENT_KEYS: &[KeySpec] = &[
    key("name", STR, Required),
    key("variant", STR_OR_NULL, Required),
];
const URL_SOURCE_KEYS: &[KeySpec] = &[
    key("kind", STR, Required),
    key("url", STR, Required),
    key("sha1", STR, Either),
    key("sha256", STR, Either),
];
const GIT_SOURCE_KEYS: &[KeySpec] = &[
    key("kind", STR, Required),
    key("git", STR, Required),
    key("ref", STR, Required),
    key("ref_origin", STR, Required),
];
const GIT_LOCAL_SOURCE_KEYS: &[KeySpec] =
    &[key("kind", STR, Required), key("rel_path", STR, Required)];
const TREEINFO_KEYS: &[KeySpec] = &[
    key("exclude", ARRAY, Optional),
    key("variants", OBJECT, Optional),
    key("core_package_list", ARRAY, Optional),
    key("bootstrap_package_list", ARRAY, Optional),
];
const BUNDLE_KEYS: &[KeySpec] = &[
    key("format", INT, Required),
    key("bootstrap_id", STR, Required),
    key("packages", ARRAY, Required),
];
const PACKAGE_MANIFEST_KEYS: &[KeySpec] = &[
    key("id", STR, Required),
    key("tree_hash", STR, Required),
    key("files", INT, Required),
    key("bytes", INT, Required),
];
const CLUSTER_PACKAGE_KEYS: &[KeySpec] =
    &[key("id", STR, Required), key("filename", STR, Required)];

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A schema object inside a document.
struct Site {
    path: Vec<Seg>,
    keys: &'static [KeySpec],
}

/// The model's key path notation: `a.b[0].c`.
fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                // Control characters escaped, so the path fits on one line.
                for c in key.chars() {
                    if c.is_control() {
                        out.extend(c.escape_default());
                    } else {
                        out.push(c);
                    }
                }
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn child(path: &[Seg], seg: Seg) -> Vec<Seg> {
    let mut out = path.to_vec();
    out.push(seg);
    out
}

fn object_at<'v>(doc: &'v mut Value, path: &[Seg]) -> &'v mut Map<String, Value> {
    let mut value = doc;
    for seg in path {
        value = match seg {
            Seg::Key(key) => value.get_mut(key.as_str()).unwrap(),
            Seg::Index(i) => value.get_mut(*i).unwrap(),
        };
    }
    value.as_object_mut().unwrap()
}

fn source_site(path: Vec<Seg>, source: &Value) -> Site {
    let keys = match source["kind"].as_str() {
        Some("url" | "url_extract") => URL_SOURCE_KEYS,
        Some("git") => GIT_SOURCE_KEYS,
        _ => GIT_LOCAL_SOURCE_KEYS,
    };
    Site { path, keys }
}

fn requirement_sites(doc: &Value, sites: &mut Vec<Site>) {
    if let Some(requires) = doc["requires"].as_array() {
        for (i, item) in requires.iter().enumerate() {
            if item.is_object() {
                sites.push(Site {
                    path: vec![Seg::Key("requires".into()), Seg::Index(i)],
                    keys: REQUIREMENT_KEYS,
                });
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Format {
    PkgInfo,
    BuildInfo,
    TreeInfo,
    Bundle,
    Cluster,
}

impl Format {
    fn file(self) -> &'static str {
        match self {
            Format::PkgInfo => "packages/x/pkginfo.json",
            Format::BuildInfo => "packages/x/buildinfo.json",
            Format::TreeInfo => "packages/treeinfo.json",
            Format::Bundle => "bundle.json",
            Format::Cluster => "cluster-packages.json",
        }
    }

    fn parse(self, bytes: &[u8]) -> Result<(), ModelError> {
        let file = self.file();
        match self {
            Format::PkgInfo => PkgInfo::parse(file, bytes).map(drop),
            Format::BuildInfo => BuildInfo::parse(file, bytes).map(drop),
            Format::TreeInfo => TreeInfo::parse(file, bytes).map(drop),
            Format::Bundle => BundleManifest::parse(file, bytes).map(drop),
            Format::Cluster => ClusterPackages::parse(file, bytes).map(drop),
        }
    }

    fn sites(self, doc: &Value) -> Vec<Site> {
        let root = |keys| Site {
            path: Vec::new(),
            keys,
        };
        let mut sites = Vec::new();
        match self {
            Format::PkgInfo => {
                sites.push(root(PKGINFO_KEYS));
                requirement_sites(doc, &mut sites);
            }
            Format::BuildInfo => {
                sites.push(root(BUILDINFO_KEYS));
                requirement_sites(doc, &mut sites);
                if let Some(single) = doc.get("single_source") {
                    sites.push(source_site(vec![Seg::Key("single_source".into())], single));
                }
                if let Some(named) = doc.get("sources").and_then(Value::as_object) {
                    for (name, source) in named {
                        let path = vec![Seg::Key("sources".into()), Seg::Key(name.clone())];
                        sites.push(source_site(path, source));
                    }
                }
            }
            Format::TreeInfo => sites.push(root(TREEINFO_KEYS)),
            Format::Bundle => {
                sites.push(root(BUNDLE_KEYS));
                for i in 0..doc["packages"].as_array().map_or(0, Vec::len) {
                    sites.push(Site {
                        path: vec![Seg::Key("packages".into()), Seg::Index(i)],
                        keys: PACKAGE_MANIFEST_KEYS,
                    });
                }
            }
            Format::Cluster => {
                for name in doc.as_object().unwrap().keys() {
                    sites.push(Site {
                        path: vec![Seg::Key(name.clone())],
                        keys: CLUSTER_PACKAGE_KEYS,
                    });
                }
            }
        }
        sites
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Drop,
    Rename(String),
    Retype(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Drop),
        prop_oneof!["[a-z_]{1,10}", any::<String>()].prop_map(Mutation::Rename),
        any::<Index>().prop_map(Mutation::Retype),
    ]
}

/// Applies `mutation` to one key (chosen by `site` and `key`) of the valid
/// document `doc` and checks the parser's verdict.
fn check_mutation(
    format: Format,
    doc: &Value,
    site: Index,
    key: Index,
    mutation: &Mutation,
) -> Result<(), TestCaseError> {
    let file = format.file();
    prop_assert_eq!(format.parse(doc.to_string().as_bytes()), Ok(()), "{}", doc);
    let sites = format.sites(doc);
    if sites.is_empty() {
        return Ok(());
    }
    let site = &sites[site.index(sites.len())];
    let mut mutated = doc.clone();
    let object = object_at(&mut mutated, &site.path);
    if object.is_empty() {
        return Ok(());
    }
    let name = object.keys().nth(key.index(object.len())).unwrap().clone();
    let spec = site
        .keys
        .iter()
        .find(|k| k.name == name)
        .unwrap_or_else(|| panic!("{file}: generated key {name:?} is not in the schema"));
    let key_path = path_string(&child(&site.path, Seg::Key(name.clone())));
    // Which error keys name the mutation; None: the document stays valid.
    let expected: Option<Vec<String>> = match mutation {
        Mutation::Drop => {
            object.remove(&name);
            match spec.need {
                Required => Some(vec![key_path]),
                Optional => None,
                Either => return Ok(()),
            }
        }
        Mutation::Rename(new) => {
            let mut new = new.clone();
            while site.keys.iter().any(|k| k.name == new) {
                new.push('_');
            }
            let value = object.remove(&name).unwrap();
            object.insert(new.clone(), value);
            let new_path = path_string(&child(&site.path, Seg::Key(new)));
            // Either the unknown key or, if read first, the now missing one.
            Some(vec![new_path, key_path])
        }
        Mutation::Retype(choice) => {
            let wrong: Vec<Ty> = ALL_TYPES
                .into_iter()
                .filter(|ty| !spec.accepts.contains(ty))
                .collect();
            object.insert(name.clone(), wrong[choice.index(wrong.len())].sample());
            Some(vec![key_path])
        }
    };
    let text = mutated.to_string();
    let verdict = format.parse(text.as_bytes());
    match (expected, verdict) {
        (None, verdict) => prop_assert_eq!(verdict, Ok(()), "{}", text),
        (Some(_), Ok(())) => prop_assert!(false, "{}: mutated document accepted: {}", file, text),
        (Some(keys), Err(err)) => {
            check_rejection(file, &err)?;
            let named = error_key(&err).is_some_and(|k| keys.iter().any(|e| e == k));
            prop_assert!(
                named,
                "{:?} does not name {:?} (document {})",
                err.to_string(),
                keys,
                text
            );
        }
    }
    Ok(())
}

/// Documents where every schema object is likely present: requirement
/// dicts, sources of every kind, several packages.
fn rich_pkginfo() -> impl Strategy<Value = PkgInfo> {
    (pkginfo(), package_name(), package_name()).prop_map(|(mut info, name, variant)| {
        info.requires.push(Requirement {
            name,
            variant: Some(variant),
        });
        info
    })
}

proptest! {
    #![proptest_config(config(1))]

    /// (c) One mutation of a valid document is rejected, naming the key.
    #[test]
    fn mutated_pkginfo_is_rejected(
        info in rich_pkginfo(), site in any::<Index>(), key in any::<Index>(), m in mutation()
    ) {
        check_mutation(Format::PkgInfo, &info.to_json(), site, key, &m)?;
    }

    #[test]
    fn mutated_buildinfo_is_rejected(
        info in buildinfo(), site in any::<Index>(), key in any::<Index>(), m in mutation()
    ) {
        check_mutation(Format::BuildInfo, &info.to_json(), site, key, &m)?;
    }

    #[test]
    fn mutated_treeinfo_is_rejected(
        info in treeinfo(), site in any::<Index>(), key in any::<Index>(), m in mutation()
    ) {
        check_mutation(Format::TreeInfo, &info.to_json(), site, key, &m)?;
    }

    #[test]
    fn mutated_bundle_manifest_is_rejected(
        bundle in bundle_manifest(), site in any::<Index>(), key in any::<Index>(), m in mutation()
    ) {
        check_mutation(Format::Bundle, &bundle.to_json(), site, key, &m)?;
    }

    #[test]
    fn mutated_cluster_packages_are_rejected(
        ids in package_set(), site in any::<Index>(), key in any::<Index>(), m in mutation()
    ) {
        let cluster = ClusterPackages::new("c.json", ids).unwrap();
        check_mutation(Format::Cluster, &cluster.to_json(), site, key, &m)?;
    }

    /// (c) A valid id with one character inserted that ids may not hold,
    /// or a second `--`, is rejected and the message quotes the part.
    #[test]
    fn mutated_package_ids_are_rejected(
        id in package_id(),
        at in any::<Index>(),
        bad in prop_oneof![
            Just("--".to_string()),
            "[ /\\\\\n\t\"'*?!$#%&(){}\\[\\]<>=,;|~`^]",
            "[^\\x00-\\x7f]",
        ],
    ) {
        let text = id.to_string();
        let chars: Vec<char> = text.chars().collect();
        let at = at.index(chars.len() + 1);
        let mutated: String = chars[..at]
            .iter()
            .chain(bad.chars().collect::<Vec<_>>().iter())
            .chain(chars[at..].iter())
            .collect();
        let err = PackageId::parse(&mutated);
        prop_assert!(err.is_err(), "{:?} accepted", mutated);
        let message = err.unwrap_err().to_string();
        let quoted = std::iter::once(mutated.as_str())
            .chain(mutated.split("--"))
            .any(|part| message.contains(&format!("{part:?}")));
        prop_assert!(quoted, "{:?} does not quote {:?}", message, mutated);
    }
}

// ---------------------------------------------------------------------------
// Regressions: what the properties above found, pinned as plain tests.

/// A key with a newline used to be copied raw into the key path, so the
/// "one line" error message had two.
#[test]
fn control_characters_in_keys_stay_on_one_line() {
    let cases: [(&str, &str, &str); 3] = [
        (
            "pkginfo.json",
            r#"{"a\nb": 1}"#,
            "pkginfo.json: a\\nb: unknown key",
        ),
        (
            "pkginfo.json",
            r#"{"environment": {"A\u0001": "x"}}"#,
            "pkginfo.json: environment.A\\u{1}: ",
        ),
        (
            "buildinfo.json",
            r#"{"sources": {"s\r": {"url": "http://x"}}}"#,
            "buildinfo.json: sources.s\\r.kind: required key missing",
        ),
    ];
    for (file, text, start) in cases {
        let err = match file {
            "pkginfo.json" => PkgInfo::parse(file, text.as_bytes()).map(drop),
            _ => BuildInfo::parse(file, text.as_bytes()).map(drop),
        }
        .unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with(start), "{message:?}");
        assert!(!message.contains(['\n', '\r', '\u{1}']), "{message:?}");
    }
}

/// bundle.json used serde's derived parser: a wrong type said "invalid
/// type: string, expected u32" without the key, and an unknown key with a
/// newline broke the message over two lines.
#[test]
fn bundle_manifest_errors_name_the_key() {
    let id = tarmac_model::bootstrap_id(&[PackageId::parse("a--1").unwrap()]);
    let package = r#"{"id": "a--1", "tree_hash": "ab", "files": 1, "bytes": 2}"#;
    let doc = |format: &str, packages: &str| {
        format!(r#"{{"format": {format}, "bootstrap_id": "{id}", "packages": [{packages}]}}"#)
    };
    let cases = [
        (
            doc("\"1\"", package),
            "bundle.json: format: expected an integer, got \"1\"",
        ),
        (
            doc("1", &package.replace("1,", "\"1\",")),
            "bundle.json: packages[0].files: expected a non-negative integer, got \"1\"",
        ),
        (
            doc("1", &package.replace("2}", "-2}")),
            "bundle.json: packages[0].bytes: expected a non-negative integer, got -2",
        ),
        (
            doc("1", &package.replace("a--1", "a b--1")),
            "bundle.json: packages[0].id: \"a b--1\": invalid package name \"a b\"",
        ),
        (
            doc("1", r#"{"id": "a--1", "tree_hash": "ab", "files": 1}"#),
            "bundle.json: packages[0].bytes: required key missing",
        ),
        (
            format!(r#"{{"bootstrap_id": "{id}", "packages": []}}"#),
            "bundle.json: format: required key missing",
        ),
        (r#"{"\n": 1}"#.to_string(), "bundle.json: \\n: unknown key"),
        (
            doc("1, \"format\": 1", package),
            "bundle.json: not valid JSON: duplicate key format",
        ),
        (
            doc("2", package),
            "bundle.json: format: 2: unsupported manifest format",
        ),
    ];
    for (text, start) in cases {
        let message = BundleManifest::parse("bundle.json", text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(message.starts_with(start), "{message:?} for {text}");
        assert!(!message.contains('\n'), "{message:?}");
    }
    let good = doc("1", package);
    assert_eq!(
        BundleManifest::parse("bundle.json", good.as_bytes())
            .unwrap()
            .total_bytes(),
        2
    );
}

/// serde_json's default float parser could read back a float it wrote one
/// ulp off, so the canonical JSON (and content hash) of a value changed
/// after a write and a read; the workspace enables `float_roundtrip`.
#[test]
fn floats_survive_a_write_and_a_read() {
    let value = json!([5.179_767_615_648_347_6e-127, 0.1, 1e300, -2.5e-308]);
    let text = canonical_json(&value);
    let again: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(again, value);
    assert_eq!(canonical_json(&again), text);
    assert_eq!(content_hash(&again), content_hash(&value));
}
