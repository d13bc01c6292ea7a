//! Reading `config.yaml` the way DC/OS does, minus its silent surprises.
//!
//! DC/OS loads the file with PyYAML's `safe_load`, i.e. YAML 1.1 scalar
//! resolution: a plain `yes`, `On` or `FALSE` is a boolean, `0o17`/`017` and
//! `0x1f` are integers, `1:30` is a (base 60) integer, `~` is null. Then it
//! turns every top-level value into a string (`stringify_configuration`):
//! booleans become `true`/`false`, integers their decimal form, lists and
//! maps `json.dumps` text; null and float values are refused. This module
//! reproduces that resolution on yaml-rust2's event stream (yaml-rust2 itself
//! resolves by YAML 1.2 and keeps the last of two equal keys), and records
//! each node's line so errors can point at it.
//!
//! Stricter than DC/OS on purpose: a key given twice in one mapping is an
//! error (PyYAML keeps the last one silently), and so is any tag other than
//! the core `!!str`, `!!int`, `!!bool`, `!!null`, `!!float`, `!!seq` and `!!map`.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML node after YAML 1.1 resolution.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(String),
    Str(String),
    List(Vec<Node>),
    /// Keys in document order; duplicates were rejected while loading.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The YAML type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "boolean",
            Node::Int(_) => "integer",
            Node::Float(_) => "float",
            Node::Str(_) => "string",
            Node::List(_) => "list",
            Node::Map(_) => "map",
        }
    }
}

/// One top-level `key: value` of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: Node,
    /// 1-based line of the key.
    pub line: usize,
}

/// A problem found while loading; the document may still yield entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlProblem {
    pub line: usize,
    /// The top-level key concerned, if any.
    pub key: Option<String>,
    pub message: String,
}

/// Loads the top-level mapping of `text`. Every problem found is returned
/// (duplicate keys at any depth, unsupported tags, non-string keys); a syntax
/// error stops the load and is the only problem reported.
pub fn load(text: &str) -> Result<(Vec<Entry>, Vec<YamlProblem>), YamlProblem> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlProblem {
        line: e.marker().line(),
        key: None,
        message: format!("YAML syntax error: {}", e.info()),
    })?;
    let Builder {
        mut roots,
        mut problems,
        ..
    } = builder;
    if roots.len() > 1 {
        // PyYAML's safe_load refuses a stream of several documents too.
        problems.push(YamlProblem {
            line: roots[1].line,
            key: None,
            message: format!(
                "expected a single document, found {}; remove the extra '---'",
                roots.len()
            ),
        });
    }
    roots.truncate(1);
    let root = match roots.pop() {
        None => return Ok((Vec::new(), problems)),
        Some(root) => root,
    };
    let entries = match root.node {
        Node::Null => Vec::new(),
        Node::Map(items) => items
            .into_iter()
            .zip(root.key_lines)
            .map(|((key, value), line)| Entry { key, value, line })
            .collect(),
        other => {
            problems.push(YamlProblem {
                line: root.line,
                key: None,
                message: format!(
                    "the document must be a map of keys, found a {}",
                    other.type_name()
                ),
            });
            Vec::new()
        }
    };
    Ok((entries, problems))
}

/// A node being built, with the line of each of its keys when a map.
#[derive(Debug)]
struct Built {
    node: Node,
    line: usize,
    key_lines: Vec<usize>,
}

#[derive(Debug)]
enum Frame {
    List {
        anchor: usize,
        line: usize,
        items: Vec<Node>,
    },
    Map {
        anchor: usize,
        line: usize,
        items: Vec<(String, Node)>,
        key_lines: Vec<usize>,
        /// A key waiting for its value.
        pending: Option<(String, usize)>,
        /// Set when the pending key was not a string (value is dropped).
        bad_key: bool,
    },
}

/// The most nodes a document may hold once aliases are expanded. A real
/// config.yaml has hundreds; nested aliases ("billion laughs") would
/// otherwise grow exponentially, since expansion copies (PyYAML shares).
pub const MAX_NODES: usize = 100_000;

#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Anchored nodes with their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    roots: Vec<Built>,
    problems: Vec<YamlProblem>,
    /// Nodes built so far, aliases counted at their expanded size.
    nodes: usize,
    /// Set once MAX_NODES was passed: aliases are no longer expanded.
    too_big: bool,
}

/// Nodes in a tree (the node itself included).
fn size(node: &Node) -> usize {
    match node {
        Node::List(items) => 1 + items.iter().map(size).sum::<usize>(),
        Node::Map(items) => 1 + items.iter().map(|(_, v)| 1 + size(v)).sum::<usize>(),
        _ => 1,
    }
}

impl Builder {
    fn top_key(&self) -> Option<String> {
        match self.stack.first() {
            Some(Frame::Map { pending, .. }) => pending.as_ref().map(|(k, _)| k.clone()),
            _ => None,
        }
    }

    fn problem(&mut self, line: usize, message: String) {
        let key = self.top_key();
        self.problems.push(YamlProblem { line, key, message });
    }

    /// Hands a finished node to its parent (or makes it the document root).
    fn push(&mut self, node: Node, line: usize, key_lines: Vec<usize>) {
        // The top-level key this node belongs to (at depth 1, its own key).
        let top = self.top_key();
        match self.stack.last_mut() {
            None => self.roots.push(Built {
                node,
                line,
                key_lines,
            }),
            Some(Frame::List { items, .. }) => items.push(node),
            Some(Frame::Map {
                items,
                key_lines: lines,
                pending,
                bad_key,
                ..
            }) => match pending.take() {
                Some((key, key_line)) => {
                    if items.iter().any(|(k, _)| *k == key) {
                        let message = format!("key '{key}' appears twice in the same map");
                        self.problems.push(YamlProblem {
                            line: key_line,
                            key: top,
                            message,
                        });
                    } else {
                        items.push((key, node));
                        lines.push(key_line);
                    }
                }
                None if *bad_key => *bad_key = false,
                None => match node {
                    Node::Str(key) => *pending = Some((key, line)),
                    other => {
                        *bad_key = true;
                        let message =
                            format!("map keys must be strings, found a {}", other.type_name());
                        self.problems.push(YamlProblem {
                            line,
                            key: None,
                            message,
                        });
                    }
                },
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line();
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let node = match tag {
                    None => resolve(&value, style),
                    Some(tag) if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" => {
                        match tag.suffix.as_str() {
                            "str" => Node::Str(value),
                            "int" | "bool" | "null" | "float" => {
                                let resolved = resolve(&value, TScalarStyle::Plain);
                                if resolved.type_name() != type_for_tag(&tag.suffix) {
                                    self.problem(
                                        line,
                                        format!("'{value}' is not a valid !!{}", tag.suffix),
                                    );
                                }
                                resolved
                            }
                            other => {
                                self.problem(line, format!("unsupported tag !!{other}"));
                                Node::Str(value)
                            }
                        }
                    }
                    Some(tag) => {
                        self.problem(
                            line,
                            format!("unsupported tag {}{}", tag.handle, tag.suffix),
                        );
                        Node::Str(value)
                    }
                };
                self.nodes += 1;
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push(node, line, Vec::new());
            }
            Event::Alias(anchor) => {
                let (node, count) = match self.anchors.get(&anchor) {
                    Some((_, count)) if self.too_big || self.nodes + count > MAX_NODES => {
                        if !self.too_big {
                            self.too_big = true;
                            self.problem(
                                line,
                                format!("aliases expand to more than {MAX_NODES} nodes; config.yaml needs no aliases"),
                            );
                        }
                        (Node::Null, 1)
                    }
                    Some((node, count)) => (node.clone(), *count),
                    None => (Node::Null, 1),
                };
                self.nodes += count;
                self.push(node, line, Vec::new());
            }
            Event::SequenceStart(anchor, tag) => {
                if let Some(tag) = tag {
                    if tag.suffix != "seq" {
                        self.problem(
                            line,
                            format!("unsupported tag {}{}", tag.handle, tag.suffix),
                        );
                    }
                }
                self.stack.push(Frame::List {
                    anchor,
                    line,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, tag) => {
                if let Some(tag) = tag {
                    if tag.suffix != "map" {
                        self.problem(
                            line,
                            format!("unsupported tag {}{}", tag.handle, tag.suffix),
                        );
                    }
                }
                self.stack.push(Frame::Map {
                    anchor,
                    line,
                    items: Vec::new(),
                    key_lines: Vec::new(),
                    pending: None,
                    bad_key: false,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, start, key_lines) = match self.stack.pop() {
                    Some(Frame::List {
                        anchor,
                        line,
                        items,
                    }) => (Node::List(items), anchor, line, Vec::new()),
                    Some(Frame::Map {
                        anchor,
                        line,
                        items,
                        key_lines,
                        ..
                    }) => (Node::Map(items), anchor, line, key_lines),
                    None => return,
                };
                if anchor > 0 && !self.too_big {
                    let count = size(&node);
                    self.anchors.insert(anchor, (node.clone(), count));
                }
                self.push(node, start, key_lines);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

fn type_for_tag(suffix: &str) -> &'static str {
    match suffix {
        "int" => "integer",
        "bool" => "boolean",
        "null" => "null",
        _ => "float",
    }
}

/// YAML 1.1 resolution of a scalar (PyYAML's implicit resolvers). Only plain
/// scalars are resolved; quoted and block scalars are strings.
pub fn resolve(value: &str, style: TScalarStyle) -> Node {
    if style != TScalarStyle::Plain {
        return Node::Str(value.to_string());
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Node::Bool(true)
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Node::Bool(false)
        }
        _ => {}
    }
    if let Some(int) = resolve_int(value) {
        return Node::Int(int);
    }
    if is_float(value) {
        return Node::Float(value.to_string());
    }
    Node::Str(value.to_string())
}

/// PyYAML's int: `[-+]?0b[01_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*)
/// | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`.
fn resolve_int(value: &str) -> Option<i128> {
    let (negative, digits) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    if digits.is_empty() {
        return None;
    }
    let parse = |text: &str, radix: u32| -> Option<i128> {
        let cleaned: String = text.chars().filter(|c| *c != '_').collect();
        if cleaned.is_empty() {
            // "0_" style: digits were only underscores after the prefix.
            return Some(0);
        }
        i128::from_str_radix(&cleaned, radix).ok()
    };
    let all = |text: &str, ok: fn(char) -> bool| !text.is_empty() && text.chars().all(ok);
    let magnitude = if let Some(rest) = digits.strip_prefix("0b") {
        if !all(rest, |c| c == '0' || c == '1' || c == '_') {
            return None;
        }
        parse(rest, 2)?
    } else if let Some(rest) = digits.strip_prefix("0x") {
        if !all(rest, |c| c.is_ascii_hexdigit() || c == '_') {
            return None;
        }
        parse(rest, 16)?
    } else if digits.contains(':') {
        let mut parts = digits.split(':');
        let first = parts.next()?;
        if !first.starts_with(|c: char| ('1'..='9').contains(&c))
            || !all(first, |c| c.is_ascii_digit() || c == '_')
        {
            return None;
        }
        let mut total = parse(first, 10)?;
        for part in parts {
            let ok = (1..=2).contains(&part.len())
                && part.chars().all(|c| c.is_ascii_digit())
                && (part.len() == 1 || part.as_bytes()[0] <= b'5');
            if !ok {
                return None;
            }
            total = total * 60 + part.parse::<i128>().ok()?;
        }
        total
    } else if digits == "0" {
        0
    } else if let Some(rest) = digits.strip_prefix('0') {
        if !all(rest, |c| ('0'..='7').contains(&c) || c == '_') {
            return None;
        }
        parse(rest, 8)?
    } else {
        if !digits.starts_with(|c: char| ('1'..='9').contains(&c))
            || !all(digits, |c| c.is_ascii_digit() || c == '_')
        {
            return None;
        }
        parse(digits, 10)?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// PyYAML's float resolver, alternative by alternative:
/// `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?`, `\.[0-9][0-9_]*([eE][-+][0-9]+)?`,
/// `[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`, `[-+]?\.(inf|Inf|INF)`, `\.(nan|NaN|NAN)`.
fn is_float(value: &str) -> bool {
    fn digits_(text: &str) -> bool {
        text.chars().all(|c| c.is_ascii_digit() || c == '_')
    }
    fn leading_digit(text: &str) -> bool {
        text.starts_with(|c: char| c.is_ascii_digit()) && digits_(text)
    }
    fn exponent_ok(exponent: Option<&str>) -> bool {
        match exponent {
            None => true,
            Some(e) => e
                .strip_prefix(['-', '+'])
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())),
        }
    }
    if matches!(value, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let signed = value.starts_with(['-', '+']);
    let unsigned = if signed { &value[1..] } else { value };
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let Some((whole, fraction)) = mantissa.split_once('.') else {
        return false;
    };
    if !digits_(fraction) {
        return false;
    }
    if whole.is_empty() {
        // `.5`: no sign allowed, at least one digit first.
        return !signed
            && fraction.starts_with(|c: char| c.is_ascii_digit())
            && exponent_ok(exponent);
    }
    if whole.contains(':') {
        let mut parts = whole.split(':');
        return exponent.is_none()
            && parts.next().is_some_and(leading_digit)
            && parts.all(|p| {
                (1..=2).contains(&p.len())
                    && p.chars().all(|c| c.is_ascii_digit())
                    && (p.len() == 1 || p.as_bytes()[0] <= b'5')
            });
    }
    leading_digit(whole) && exponent_ok(exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(value: &str) -> Node {
        resolve(value, TScalarStyle::Plain)
    }

    #[test]
    fn yaml_1_1_booleans() {
        for word in [
            "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
        ] {
            assert_eq!(plain(word), Node::Bool(true), "{word}");
        }
        for word in [
            "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ] {
            assert_eq!(plain(word), Node::Bool(false), "{word}");
        }
        // Not booleans in PyYAML (YAML 1.1's y/n are not resolved by it).
        for word in ["y", "n", "yEs", "tRUE"] {
            assert_eq!(plain(word), Node::Str(word.into()), "{word}");
        }
        assert_eq!(
            resolve("yes", TScalarStyle::DoubleQuoted),
            Node::Str("yes".into())
        );
    }

    #[test]
    fn yaml_1_1_integers() {
        assert_eq!(plain("8080"), Node::Int(8080));
        assert_eq!(plain("-3"), Node::Int(-3));
        assert_eq!(plain("0"), Node::Int(0));
        assert_eq!(plain("017"), Node::Int(15));
        assert_eq!(plain("0x1f"), Node::Int(31));
        assert_eq!(plain("0b101"), Node::Int(5));
        assert_eq!(plain("1_000"), Node::Int(1000));
        assert_eq!(plain("1:30"), Node::Int(90));
        assert_eq!(plain("1:30.5"), Node::Float("1:30.5".into()));
        assert_eq!(plain("1."), Node::Float("1.".into()));
        assert_eq!(plain("1.2.3"), Node::Str("1.2.3".into()));
        assert_eq!(plain("-.5"), Node::Str("-.5".into()));
        assert_eq!(plain("-.inf"), Node::Float("-.inf".into()));
        assert_eq!(plain("0o17"), Node::Str("0o17".into()));
        assert_eq!(plain("00"), Node::Int(0));
        assert_eq!(plain("018"), Node::Str("018".into()));
        assert_eq!(plain("10.0.0.1"), Node::Str("10.0.0.1".into()));
        assert_eq!(plain("1.5"), Node::Float("1.5".into()));
        assert_eq!(plain(".5"), Node::Float(".5".into()));
        assert_eq!(plain("1e5"), Node::Str("1e5".into()));
        assert_eq!(plain("1.0e+5"), Node::Float("1.0e+5".into()));
        assert_eq!(plain("~"), Node::Null);
    }

    #[test]
    fn loads_entries_with_lines() {
        let (entries, problems) = load("a: yes\nb:\n  - 1.2.3.4\n  - x\nc: {d: 1}\n").unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(entries[0].key, "a");
        assert_eq!(entries[0].line, 1);
        assert_eq!(entries[0].value, Node::Bool(true));
        assert_eq!(entries[1].line, 2);
        assert_eq!(
            entries[1].value,
            Node::List(vec![Node::Str("1.2.3.4".into()), Node::Str("x".into())])
        );
        assert_eq!(entries[2].line, 5);
        assert_eq!(
            entries[2].value,
            Node::Map(vec![("d".into(), Node::Int(1))])
        );
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        let (entries, problems) = load("a: 1\nb:\n  x: 1\n  x: 2\na: 2\n").unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].line, 4);
        assert_eq!(problems[0].key.as_deref(), Some("b"));
        assert_eq!(problems[1].line, 5);
        assert_eq!(problems[1].key.as_deref(), Some("a"));
    }

    #[test]
    fn aliases_and_syntax_errors() {
        let (entries, _) = load("a: &x [1, 2]\nb: *x\n").unwrap();
        assert_eq!(
            entries[1].value,
            Node::List(vec![Node::Int(1), Node::Int(2)])
        );
        // Nested aliases ("billion laughs"): refused, not expanded.
        let mut text = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            let previous = format!("*l{}", level - 1);
            let items = [previous.as_str(); 10].join(", ");
            text.push_str(&format!("l{level}: &l{level} [{items}]\n"));
        }
        // 10^9 nodes if expanded: this returns at once only because of the bound.
        let (_, problems) = load(&text).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("aliases expand to more than"));
        assert_eq!(problems[0].key.as_deref(), Some("l4"));
        assert_eq!(
            entries[1].value,
            Node::List(vec![Node::Int(1), Node::Int(2)])
        );
        let error = load("a: [1, 2\n").unwrap_err();
        assert!(error.message.starts_with("YAML syntax error"));
        assert!(load("").unwrap().0.is_empty());
        let (_, problems) = load("- a\n- b\n").unwrap();
        assert!(problems[0].message.contains("must be a map"));
        let (entries, problems) = load("a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(entries.len(), 1);
        assert!(
            problems[0].message.contains("single document"),
            "{problems:?}"
        );
        // An explicit document start alone is one document.
        let (entries, problems) = load("---\na: 1\n").unwrap();
        assert_eq!(entries.len(), 1);
        assert!(problems.is_empty());
    }
}
