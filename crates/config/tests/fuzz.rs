//! Bounded fuzzing of config.yaml reading (issue 7, "Bad input"): the YAML
//! loader `yaml::load` and the whole `resolve` that cfg-gen runs on the
//! file, with proptest. The same three properties as the model parsers
//! (crates/model/tests/fuzz.rs, docs/reliability.md "Fuzzing"):
//! - hostile text (arbitrary strings, YAML token soup, arbitrary YAML
//!   documents over the real keys) never panics, and every problem prints
//!   as one line that starts with the file and names a key or a line;
//! - valid documents round-trip: nodes written as YAML load back equal, on
//!   the lines they were written;
//! - a valid config.yaml with one mutation (required key dropped, key
//!   renamed, value of the wrong YAML type) is refused with the key named.
//!
//! `DEFAULT_CASES` per property in CI; `TARMAC_FUZZ_CASES=N` for long runs.

// Test and bench code: unwrap and print freely (the workspace lints are for
// library code).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use tarmac_config::generate::problem_line;
use tarmac_config::keys::{self, Kind};
use tarmac_config::yaml::{self, Node};
use tarmac_config::{resolve, Input, Problem};

const DEFAULT_CASES: u32 = 256;
const FILE: &str = "genconf/config.yaml";

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
        // Findings become named tests, not files written into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The directory holding `genconf/ip-detect` (resolve checks the script
/// exists), made once under cargo's per-target scratch directory.
fn base_dir() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("config-fuzz");
        std::fs::create_dir_all(base.join("genconf")).unwrap();
        std::fs::write(
            base.join("genconf/ip-detect"),
            "#!/bin/sh\necho 192.0.2.11\n",
        )
        .unwrap();
        base
    })
}

/// Resolves `text` as cfg-gen would (no templates, no bundle).
fn resolve_text(text: &str) -> Result<(), Vec<Problem>> {
    let variables = BTreeSet::new();
    resolve(&Input {
        text,
        base_dir: base_dir(),
        template_variables: &variables,
        bootstrap_id: None,
        strict: false,
    })
    .map(drop)
    .map_err(|rejected| rejected.problems)
}

/// What every reported problem must be: one line starting with the file,
/// pointing at a key or a line.
fn check_problems(text: &str, problems: &[Problem]) -> Result<(), TestCaseError> {
    prop_assert!(
        !problems.is_empty(),
        "rejected without a problem: {:?}",
        text
    );
    for problem in problems {
        prop_assert!(problem.file.is_none(), "{:?}", problem);
        let line = problem_line(Path::new(FILE), problem);
        prop_assert!(line.starts_with(FILE), "{:?}", line);
        prop_assert!(!line.contains('\n'), "multi-line problem: {:?}", line);
        prop_assert!(
            !problem.key.is_empty() || problem.line.is_some(),
            "problem names neither key nor line: {:?}",
            line
        );
    }
    Ok(())
}

/// Loads and resolves `text`; either may accept or refuse, never panic.
fn check_text(text: &str) -> Result<(), TestCaseError> {
    match yaml::load(text) {
        Ok((_, problems)) => {
            for problem in problems {
                prop_assert!(!problem.message.is_empty());
            }
        }
        Err(problem) => prop_assert!(!problem.message.is_empty()),
    }
    if let Err(problems) = resolve_text(text) {
        check_problems(text, &problems)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Hostile text.

/// Real keys, so generated documents reach the value checks.
fn config_key() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = keys::KEYS.iter().map(|k| k.name).collect();
    prop_oneof![
        3 => prop::sample::select(names).prop_map(str::to_string),
        1 => prop::sample::select(keys::COMPUTED).prop_map(str::to_string),
        1 => "[a-z_]{1,12}",
    ]
}

/// Scalars as they appear in config.yaml, including YAML 1.1's surprises.
fn scalar_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "yes",
            "No",
            "ON",
            "off",
            "~",
            "null",
            "true",
            "0o17",
            "017",
            "0x1f",
            "1:30",
            "190:20:30",
            "1_000",
            ".inf",
            "-.inf",
            ".nan",
            "1e3",
            "3.",
            "static",
            "master_http_loadbalancer",
            "zookeeper",
            "aws_s3",
            "azure",
            "http://192.0.2.1",
            "192.0.2.300",
            "[]",
            "{}",
            "''",
            "\"\"",
            "!!str 1",
            "!!int x",
            "!!binary aGk=",
            "!foo bar",
            "&a x",
            "*a",
            "*nope",
            "|",
            ">",
            "- x",
            "? x",
            "%TAG",
            "---",
            "...",
            "#c",
            "'a''b'",
            "\"\\u00e9\"",
            "\"\\x\"",
            "@x",
            "`x",
        ])
        .prop_map(str::to_string),
        "[a-z0-9 .:/_-]{0,16}",
        "[0-9]{1,40}",
        any::<String>(),
    ]
}

/// YAML-shaped text: lines of `key: value`, nested blocks and flows.
fn yaml_document() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        3 => scalar_text(),
        1 => prop::collection::vec(scalar_text(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
        1 => prop::collection::vec((config_key(), scalar_text()), 0..3).prop_map(|v| {
            let items: Vec<String> = v.into_iter().map(|(k, s)| format!("{k}: {s}")).collect();
            format!("{{{}}}", items.join(", "))
        }),
        1 => prop::collection::vec(scalar_text(), 1..4)
            .prop_map(|v| v.iter().map(|s| format!("\n  - {s}")).collect::<String>()),
        1 => prop::collection::vec((config_key(), scalar_text()), 1..3).prop_map(|v| {
            v.iter().map(|(k, s)| format!("\n  {k}: {s}")).collect::<String>()
        }),
    ];
    let indent = prop::sample::select(vec!["", "", "", " ", "\t"]);
    prop::collection::vec((indent, config_key(), value), 0..10).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(indent, key, value)| format!("{indent}{key}: {value}\n"))
            .collect()
    })
}

fn yaml_tokens() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "a",
        ": ",
        ":",
        "- ",
        "-",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "\n",
        "  ",
        "\t",
        "#",
        "&x ",
        "*x",
        "!!str ",
        "!t ",
        "? ",
        "|",
        ">",
        "'",
        "\"",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "resolvers",
        "master_list",
        "1",
        "yes",
        "~",
        "\u{feff}",
        "\r",
        "\u{0}",
        "\\",
    ]);
    prop::collection::vec(token, 0..48).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(config(2))]

    /// (a) Arbitrary text: no panic, problems name the file and a key or line.
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check_text(&text)?;
    }

    /// (a) YAML token soup.
    #[test]
    fn yaml_token_soup_never_panics(text in yaml_tokens()) {
        check_text(&text)?;
    }

    /// (a) Documents over the real keys with hostile values.
    #[test]
    fn arbitrary_documents_never_panic(text in yaml_document()) {
        check_text(&text)?;
    }
}

/// Deep nesting and alias fan-out: a clean answer, not a stack overflow or
/// an exponential blow-up.
#[test]
fn deep_nesting_and_alias_fan_out_are_handled() {
    for depth in [100, 10_000, 200_000] {
        for text in [
            format!("resolvers: {}{}\n", "[".repeat(depth), "]".repeat(depth)),
            format!(
                "resolvers: {}1{}\n",
                "{a: ".repeat(depth),
                "}".repeat(depth)
            ),
        ] {
            check_text(&text).unwrap();
        }
    }
    // "Billion laughs": nine levels of ten aliases each would expand to
    // 10^9 nodes (before the bound, six levels took 42 s to resolve).
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut previous = 'a';
    for name in "bcdefghi".chars() {
        let aliases = vec![format!("*{previous}"); 10].join(", ");
        text.push_str(&format!("{name}: &{name} [{aliases}]\n"));
        previous = name;
    }
    text.push_str("resolvers: *i\n");
    let problems = resolve_text(&text).unwrap_err();
    check_problems(&text, &problems).unwrap();
    assert!(
        problems.iter().any(|p| p.reason.contains("aliases")),
        "{problems:?}"
    );
}

// ---------------------------------------------------------------------------
// (b) Round trip: nodes written as YAML load back equal.

/// Characters YAML prints as they are inside a double-quoted scalar: no
/// controls (escaped instead, see below) and no Unicode line or paragraph
/// separators (YAML 1.1 line breaks).
fn yaml_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^\\p{C}\\p{Zl}\\p{Zp}]{0,12}",
        prop::sample::select(vec![
            "a\nb",
            "tab\there",
            "\"q\"",
            "back\\slash",
            "yes",
            "~",
            "1"
        ])
        .prop_map(str::to_string),
    ]
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        Just(Node::Null),
        any::<bool>().prop_map(Node::Bool),
        any::<i64>().prop_map(|n| Node::Int(n.into())),
        yaml_string().prop_map(Node::Str),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Node::List),
            prop::collection::btree_map(yaml_string(), inner, 0..4)
                .prop_map(|m| Node::Map(m.into_iter().collect())),
        ]
    })
}

/// YAML flow text for `node`: strings double-quoted with JSON escapes
/// (a subset of YAML's), so nothing is left to scalar resolution.
fn flow(node: &Node) -> String {
    match node {
        Node::Null => "null".into(),
        Node::Bool(b) => b.to_string(),
        Node::Int(n) => n.to_string(),
        Node::Float(text) => text.clone(),
        Node::Str(s) => serde_json::to_string(s).unwrap(),
        Node::List(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        Node::Map(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|(k, v)| format!("{}: {}", serde_json::to_string(k).unwrap(), flow(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

proptest! {
    #![proptest_config(config(1))]

    /// (b) A top-level map written one `key: value` per line loads back
    /// equal, each key on the line it was written.
    #[test]
    fn yaml_round_trips(
        entries in prop::collection::btree_map(yaml_string(), node(), 0..8),
        comment in any::<bool>(),
    ) {
        let mut text = String::new();
        if comment {
            text.push_str("# generated\n");
        }
        for (key, value) in &entries {
            text.push_str(&format!("{}: {}\n", serde_json::to_string(key).unwrap(), flow(value)));
        }
        let (loaded, problems) = yaml::load(&text).map_err(|p| {
            TestCaseError::fail(format!("{p:?} for {text:?}"))
        })?;
        prop_assert!(problems.is_empty(), "{:?} for {:?}", problems, text);
        let first = 1 + usize::from(comment);
        let expected: Vec<(String, Node, usize)> = entries
            .into_iter()
            .enumerate()
            .map(|(i, (k, v))| (k, v, first + i))
            .collect();
        let loaded: Vec<(String, Node, usize)> =
            loaded.into_iter().map(|e| (e.key, e.value, e.line)).collect();
        prop_assert_eq!(loaded, expected, "{}", text);
    }
}

// ---------------------------------------------------------------------------
// (c) Mutations of a valid config.yaml.

/// A valid config (the cfg-gen tests' base) plus optional keys.
const BASE: &[(&str, &str)] = &[
    ("bootstrap_url", "http://192.0.2.10:8080"),
    ("cluster_name", "test"),
    ("master_discovery", "static"),
    ("exhibitor_storage_backend", "static"),
    ("master_list", "[192.0.2.11, 192.0.2.12, 192.0.2.13]"),
    ("resolvers", "[8.8.8.8]"),
    ("agent_list", "[192.0.2.21]"),
    ("dns_search", "example.com"),
    ("telemetry_enabled", "false"),
    ("check_time", "true"),
    ("dns_forward_zones", "{}"),
];

fn write(entries: &[(String, String)]) -> String {
    entries.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

fn wrong_values(kind: Kind) -> Vec<&'static str> {
    let all: [(&str, &[Kind]); 6] = [
        ("~", &[]),
        ("1.5", &[]),
        ("true", &[Kind::Str, Kind::Bool]),
        ("7", &[Kind::Str, Kind::Bool, Kind::Int]),
        ("[a]", &[Kind::List]),
        ("{a: 1}", &[Kind::Map]),
    ];
    all.into_iter()
        .filter(|(_, accepted)| !accepted.contains(&kind))
        .map(|(text, _)| text)
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Drop,
    Rename(String),
    Retype(Index),
}

proptest! {
    #![proptest_config(config(1))]

    /// (c) One mutation of a valid config.yaml is refused naming the key
    /// (dropping an optional key leaves it valid).
    #[test]
    fn mutated_config_is_rejected(
        order in Just(BASE.to_vec()).prop_shuffle(),
        which in any::<Index>(),
        mutation in prop_oneof![
            Just(Mutation::Drop),
            "[a-z_]{1,12}".prop_map(Mutation::Rename),
            any::<Index>().prop_map(Mutation::Retype),
        ],
    ) {
        let mut entries: Vec<(String, String)> =
            order.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let base = write(&entries);
        let verdict = resolve_text(&base);
        prop_assert!(verdict.is_ok(), "{:?} for {}", verdict, base);

        let at = which.index(entries.len());
        let name = entries[at].0.clone();
        let spec = keys::spec(&name).unwrap();
        let required = matches!(spec.default, keys::Default::Required);
        let expected: Option<Vec<String>> = match &mutation {
            Mutation::Drop => {
                entries.remove(at);
                required.then(|| vec![name.clone()])
            }
            Mutation::Rename(new) => {
                let mut new = new.clone();
                while keys::spec(&new).is_some() || keys::COMPUTED.contains(&new.as_str()) {
                    new.push('x');
                }
                entries[at].0 = new.clone();
                Some(vec![new, name.clone()])
            }
            Mutation::Retype(choice) => {
                let wrong = wrong_values(spec.kind);
                entries[at].1 = wrong[choice.index(wrong.len())].to_string();
                Some(vec![name.clone()])
            }
        };
        let text = write(&entries);
        match (expected, resolve_text(&text)) {
            (None, verdict) => prop_assert!(verdict.is_ok(), "{:?} for {}", verdict, text),
            (Some(_), Ok(())) => prop_assert!(false, "mutated config accepted: {}", text),
            (Some(keys), Err(problems)) => {
                check_problems(&text, &problems)?;
                prop_assert!(
                    problems.iter().any(|p| keys.contains(&p.key)),
                    "no problem names {:?}: {:?} for {}",
                    keys,
                    problems,
                    text
                );
            }
        }
    }
}
