//! Turning YAML nodes into the string values gen works with.
//!
//! Every DC/OS config value is a string (`stringify_configuration`):
//! booleans `true`/`false`, integers in decimal, lists and maps as Python's
//! `json.dumps` text (", " and ": " separators, non-ASCII escaped), which is
//! what templates such as `{{ master_list }}` print. This module produces
//! exactly those strings, and decides per key kind what counts as the wrong
//! type (DC/OS accepted a map where a string was expected; we do not).

use crate::keys::Kind;
use crate::yaml::Node;

/// Python `json.dumps(value)` of a node with default arguments.
pub fn python_json(node: &Node) -> String {
    let mut out = String::new();
    write_python_json(node, &mut out);
    out
}

fn write_python_json(node: &Node, out: &mut String) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(true) => out.push_str("true"),
        Node::Bool(false) => out.push_str("false"),
        Node::Int(n) => out.push_str(&n.to_string()),
        Node::Float(text) => out.push_str(&python_float(text)),
        Node::Str(s) => tarmac_model::write_python_string(s, out),
        Node::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(item, out);
            }
            out.push(']');
        }
        Node::Map(items) => {
            out.push('{');
            for (i, (key, value)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                tarmac_model::write_python_string(key, out);
                out.push_str(": ");
                write_python_json(value, out);
            }
            out.push('}');
        }
    }
}

/// Python `json.dumps(value)` of a JSON value (gen's computed JSON keys).
pub fn python_json_value(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_python_json_value(value, &mut out);
    out
}

fn write_python_json_value(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::String(s) => tarmac_model::write_python_string(s, out),
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json_value(item, out);
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                tarmac_model::write_python_string(key, out);
                out.push_str(": ");
                write_python_json_value(item, out);
            }
            out.push('}');
        }
        // null, booleans and numbers print alike in both.
        other => out.push_str(&other.to_string()),
    }
}

/// Python's repr of a YAML 1.1 float (common forms; `.inf` and `.nan` as
/// Python writes them in JSON).
fn python_float(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if lower.ends_with(".inf") {
        return if lower.starts_with('-') {
            "-Infinity"
        } else {
            "Infinity"
        }
        .into();
    }
    if lower.ends_with(".nan") {
        return "NaN".into();
    }
    let value: f64 = if text.contains(':') {
        let (sign, rest) = match text.strip_prefix('-') {
            Some(rest) => (-1.0, rest),
            None => (1.0, text.trim_start_matches('+')),
        };
        sign * rest.split(':').fold(0.0, |acc, part| {
            acc * 60.0 + part.replace('_', "").parse::<f64>().unwrap_or(0.0)
        })
    } else {
        text.replace('_', "").parse().unwrap_or(0.0)
    };
    let formatted = format!("{value:?}");
    formatted
}

/// Converts a top-level node to its DC/OS string for a key of `kind`, or
/// says why the type is wrong.
pub fn stringify(node: &Node, kind: Kind) -> Result<String, String> {
    let wrong = |expected: &str| {
        Err(format!(
            "must be {expected}, got a {} ({})",
            node.type_name(),
            short(&python_json(node))
        ))
    };
    match (kind, node) {
        (_, Node::Null) => Err("has no value (null); give a value or remove the key".into()),
        (_, Node::Float(text)) if kind != Kind::Str => Err(format!(
            "must not be a float ({text}); DC/OS refuses float values"
        )),
        (Kind::Str, Node::Str(s)) => Ok(s.clone()),
        (Kind::Str, Node::Int(n)) => Ok(n.to_string()),
        (Kind::Str, Node::Bool(b)) => Ok(b.to_string()),
        (Kind::Str, Node::Float(text)) => {
            Err(format!("must be a string, got the float {text}; quote it"))
        }
        (Kind::Str, _) => wrong("a string"),
        (Kind::Bool, Node::Bool(b)) => Ok(b.to_string()),
        // DC/OS compares the string: "true" and "false" pass, anything else
        // (a quoted "yes") fails its one-of check, reported by validation.
        (Kind::Bool, Node::Str(s)) => Ok(s.clone()),
        (Kind::Bool, Node::Int(n)) => Ok(n.to_string()),
        (Kind::Bool, _) => wrong("a boolean"),
        (Kind::Int, Node::Int(n)) => Ok(n.to_string()),
        (Kind::Int, Node::Str(s)) => Ok(s.clone()),
        (Kind::Int, _) => wrong("an integer"),
        (Kind::List, Node::List(_)) => Ok(python_json(node)),
        // A JSON list given as a string is what gen itself receives; the
        // list check parses it.
        (Kind::List, Node::Str(s)) => Ok(s.clone()),
        (Kind::List, _) => wrong("a list"),
        (Kind::Map, Node::Map(_)) => Ok(python_json(node)),
        (Kind::Map, Node::Str(s)) => Ok(s.clone()),
        (Kind::Map, _) => wrong("a map"),
    }
}

/// Shortens a value for an error message.
pub fn short(text: &str) -> String {
    const LIMIT: usize = 120;
    if text.chars().count() <= LIMIT {
        text.to_string()
    } else {
        let cut: String = text.chars().take(LIMIT).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json_matches_json_dumps() {
        let node = Node::Map(vec![
            (
                "b".into(),
                Node::List(vec![Node::Str("1.2.3.4".into()), Node::Int(5)]),
            ),
            ("a".into(), Node::Bool(true)),
            ("é".into(), Node::Null),
        ]);
        // json.dumps({"b": ["1.2.3.4", 5], "a": True, "é": None})
        assert_eq!(
            python_json(&node),
            r#"{"b": ["1.2.3.4", 5], "a": true, "\u00e9": null}"#
        );
        assert_eq!(python_json(&Node::Str("😀".into())), r#""\ud83d\ude00""#);
        assert_eq!(python_json(&Node::Float("1.5".into())), "1.5");
        assert_eq!(python_json(&Node::Float("1.".into())), "1.0");
    }

    #[test]
    fn stringify_follows_dcos() {
        assert_eq!(stringify(&Node::Bool(true), Kind::Bool).unwrap(), "true");
        assert_eq!(stringify(&Node::Int(8080), Kind::Int).unwrap(), "8080");
        assert_eq!(stringify(&Node::Int(3), Kind::Str).unwrap(), "3");
        assert_eq!(
            stringify(&Node::List(vec![Node::Str("a".into())]), Kind::List).unwrap(),
            r#"["a"]"#
        );
        assert!(stringify(&Node::Map(vec![]), Kind::Str)
            .unwrap_err()
            .contains("must be a string, got a map"));
        assert!(stringify(&Node::Null, Kind::Str).is_err());
        assert!(stringify(&Node::Float("1.5".into()), Kind::Int).is_err());
    }
}
