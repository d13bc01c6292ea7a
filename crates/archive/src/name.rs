//! Entry names: the one place that decides which archive paths are allowed.
//!
//! A name is relative UTF-8 without control characters or backslashes, and
//! none of its components is empty, `.` or `..`. One leading `./` is
//! stripped and `.` alone is the root (pkgpanda's `tar -C dir .` layout); one
//! trailing `/` is allowed on directories. Names are bytes and are never
//! normalized further: what is not allowed is refused, not repaired.

use std::cmp::Ordering;
use std::sync::Arc;

/// Longest accepted path, in bytes (Linux PATH_MAX).
pub(crate) const MAX_PATH: usize = 4096;
/// Longest accepted component, in bytes (Linux NAME_MAX).
pub(crate) const MAX_COMPONENT: usize = 255;

/// A validated entry name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryName {
    /// The relative path without leading `./` or trailing `/`; empty for the root.
    pub path: String,
    /// The raw name ended with `/` (only directories may).
    pub trailing_slash: bool,
}

/// Checks a raw entry name against the policy; the error is the rule broken.
pub(crate) fn entry_name(raw: &[u8]) -> Result<EntryName, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "name is not UTF-8".to_string())?;
    check_chars(text, "name")?;
    if text.is_empty() {
        return Err("empty name".into());
    }
    if text.starts_with('/') {
        return Err("absolute path".into());
    }
    let mut rest = text.strip_prefix("./").unwrap_or(text);
    if rest.is_empty() || rest == "." {
        return Ok(EntryName {
            path: String::new(),
            trailing_slash: text.ends_with('/'),
        });
    }
    let trailing_slash = rest.ends_with('/');
    if trailing_slash {
        rest = &rest[..rest.len() - 1];
    }
    check_relative_path(rest)?;
    Ok(EntryName {
        path: rest.to_string(),
        trailing_slash,
    })
}

/// Checks a relative path with no leading `./` and no trailing `/`: every
/// component is a real name. Used for entry names, hardlink targets and
/// paths handed to the writer.
pub(crate) fn check_relative_path(path: &str) -> Result<(), String> {
    check_chars(path, "name")?;
    if path.starts_with('/') {
        return Err("absolute path".into());
    }
    if path.len() > MAX_PATH {
        return Err(format!("path longer than {MAX_PATH} bytes"));
    }
    for component in path.split('/') {
        match component {
            "" => {
                return Err("empty path component (\"//\" or a leading or trailing \"/\")".into())
            }
            "." => return Err("\".\" path component".into()),
            ".." => return Err("path escapes the package (\"..\")".into()),
            c if c.len() > MAX_COMPONENT => {
                return Err(format!("path component longer than {MAX_COMPONENT} bytes"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a symlink target's spelling (its destination is checked once the
/// whole archive is known): relative UTF-8, no control characters or
/// backslashes, not empty.
pub(crate) fn check_link_target(raw: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "symlink target is not UTF-8".to_string())?;
    check_chars(text, "symlink target")?;
    if text.is_empty() {
        return Err("empty symlink target".into());
    }
    if text.starts_with('/') {
        return Err(format!("absolute symlink target {text:?}"));
    }
    if text.len() > MAX_PATH {
        return Err(format!("symlink target longer than {MAX_PATH} bytes"));
    }
    Ok(text)
}

fn check_chars(text: &str, what: &str) -> Result<(), String> {
    // Nearly every name is printable ASCII without a backslash: one pass
    // over the bytes (no early exit, so it vectorizes), before the exact
    // check by characters.
    let plain = text
        .bytes()
        .fold(true, |ok, b| ok & (0x20..0x7f).contains(&b) & (b != b'\\'));
    if plain {
        return Ok(());
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!("{what} contains a control character ({c:?})"));
    }
    if text.contains('\\') {
        return Err(format!("{what} contains a backslash"));
    }
    Ok(())
}

/// The sort key of a path: `/` mapped to NUL, so that plain byte order of
/// keys is the order of a depth-first walk with each directory's names
/// sorted by bytes (`a/b` before `a-c`). Names never contain NUL.
pub(crate) fn sort_key(path: &str) -> SortKey {
    SortKey(
        path.bytes()
            .map(|b| if b == b'/' { 0 } else { b })
            .collect::<Vec<u8>>()
            .into_boxed_slice(),
    )
}

/// A [`sort_key`], ordered by bytes like a `[u8]` but compared eight bytes
/// at a time. The extractor's map makes about 17 comparisons per entry of
/// keys that share long prefixes (`packages/<id>/lib/python3.6/...`), and
/// the static build's libc (musl) compares one byte per step: with plain
/// slices its `memcmp` was 7% of a bundle extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortKey(Box<[u8]>);

impl std::ops::Deref for SortKey {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Orders two byte strings like `[u8]` does, eight bytes at a time.
fn compare_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let word = |bytes: &[u8]| u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let (x, y) = (word(x), word(y));
        if x != y {
            return x.cmp(&y);
        }
    }
    let compared = a.len().min(b.len()) / 8 * 8;
    a[compared..].iter().cmp(b[compared..].iter())
}

impl Ord for SortKey {
    fn cmp(&self, other: &SortKey) -> Ordering {
        compare_bytes(&self.0, &other.0)
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &SortKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The extractor's map key: a path's sort key held as its parent
/// directory's key, shared by every entry of that directory, and its own
/// name. Paths in a bundle average 130 bytes, half of them
/// `packages/<name>--<40 hex>/`: one copy of each path was 17 of the
/// extractor's 57 MB at scale 1; names alone are about 20 bytes.
/// Ordered, and equal, exactly as the flat sort key of the whole path
/// (`parent`, NUL, `name`), whichever way either side is held; a lookup
/// uses a [`MapKey::flat`] key.
#[derive(Debug, Clone)]
pub(crate) struct MapKey {
    parent: Option<Arc<SortKey>>,
    name: Box<[u8]>,
}

impl MapKey {
    /// The key of `path` in one piece: for lookups and rare inserts.
    pub fn flat(path: &str) -> MapKey {
        MapKey {
            parent: None,
            name: sort_key(path).0,
        }
    }

    /// The key of the entry `name` (one component, no `/`) of the
    /// directory whose sort key is `parent`.
    pub fn child(parent: &Arc<SortKey>, name: &str) -> MapKey {
        MapKey {
            parent: Some(parent.clone()),
            name: name.as_bytes().into(),
        }
    }

    /// The flat sort key's bytes, in up to three pieces.
    fn pieces(&self) -> [&[u8]; 3] {
        match &self.parent {
            Some(parent) => [&parent.0, &[0], &self.name],
            None => [&self.name, &[], &[]],
        }
    }

    /// The path of this key, into `out` (cleared first).
    pub fn path_into(&self, out: &mut Vec<u8>) {
        out.clear();
        for piece in self.pieces() {
            out.extend(piece.iter().map(|&b| if b == 0 { b'/' } else { b }));
        }
    }

    /// The path of this key.
    pub fn path(&self) -> String {
        let mut bytes = Vec::new();
        self.path_into(&mut bytes);
        // Keys are only ever made from validated UTF-8 paths.
        String::from_utf8(bytes).unwrap_or_default()
    }
}

impl Ord for MapKey {
    fn cmp(&self, other: &MapKey) -> Ordering {
        if let (Some(a), Some(b)) = (&self.parent, &other.parent) {
            if Arc::ptr_eq(a, b) {
                return compare_bytes(&self.name, &other.name);
            }
        }
        // The concatenations, compared run by run: each step compares the
        // longest stretch both current pieces still have.
        let (a, b) = (self.pieces(), other.pieces());
        let (mut i, mut at, mut j, mut bt) = (0, 0, 0, 0);
        loop {
            while i < 3 && at == a[i].len() {
                (i, at) = (i + 1, 0);
            }
            while j < 3 && bt == b[j].len() {
                (j, bt) = (j + 1, 0);
            }
            let (x, y) = match (a.get(i), b.get(j)) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => (&x[at..], &y[bt..]),
            };
            let run = x.len().min(y.len());
            match compare_bytes(&x[..run], &y[..run]) {
                Ordering::Equal => (at, bt) = (at + run, bt + run),
                unequal => return unequal,
            }
        }
    }
}

impl PartialOrd for MapKey {
    fn partial_cmp(&self, other: &MapKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MapKey {
    fn eq(&self, other: &MapKey) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MapKey {}

/// The path of a sort key.
pub(crate) fn key_path(key: &[u8]) -> String {
    let bytes: Vec<u8> = key.iter().map(|&b| if b == 0 { b'/' } else { b }).collect();
    // Keys are only ever made from validated UTF-8 paths.
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_pkgpanda_layout() {
        assert_eq!(entry_name(b"./").unwrap().path, "");
        assert_eq!(entry_name(b".").unwrap().path, "");
        assert_eq!(entry_name(b"./bin/").unwrap().path, "bin");
        assert!(entry_name(b"./bin/").unwrap().trailing_slash);
        assert_eq!(
            entry_name(b"lib/libfoo.so.1").unwrap().path,
            "lib/libfoo.so.1"
        );
    }

    #[test]
    fn refuses_what_policy_forbids() {
        for (raw, rule) in [
            (&b"/etc/passwd"[..], "absolute"),
            (b"../x", "\"..\""),
            (b"a/../../x", "\"..\""),
            (b"a//b", "empty path component"),
            (b"a/./b", "\".\" path component"),
            (b"././a", "\".\" path component"),
            (b"a\\b", "backslash"),
            (b"a\nb", "control character"),
            (b"a\x7fb", "control character"),
            (b"\xff", "not UTF-8"),
            (b"", "empty name"),
        ] {
            let err = entry_name(raw).unwrap_err();
            assert!(err.contains(rule), "{raw:?}: {err}");
        }
        let long = "a/".repeat(2100) + "b";
        assert!(entry_name(long.as_bytes())
            .unwrap_err()
            .contains("longer than"));
        assert!(entry_name("x".repeat(256).as_bytes())
            .unwrap_err()
            .contains("component"));
    }

    #[test]
    fn sort_keys_order_like_byte_slices() {
        let words = [
            "",
            "a",
            "ab",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefgi",
            "abcdefgh/x",
            "abcdefgh-x",
            "abcdefghijklmnop",
            "abcdefghijklmnoq",
            "b",
            "\u{e9}t\u{e9}",
            "zzzzzzzzz",
        ];
        for a in words {
            for b in words {
                let bytes = |s: &str| s.replace('/', "\0").into_bytes();
                assert_eq!(
                    sort_key(a).cmp(&sort_key(b)),
                    bytes(a).cmp(&bytes(b)),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn map_keys_order_and_compare_like_flat_sort_keys_however_held() {
        let paths = [
            "a",
            "a/b",
            "a/b/c",
            "a/b-c",
            "a/b/c/d",
            "a/bc",
            "a-b",
            "a0",
            "ab",
            "b",
            "packages",
            "packages/x--0123456789abcdef",
            "packages/x--0123456789abcdef/bin",
            "packages/x--0123456789abcdef/bin/tool",
            "packages/x--0123456789abcdef/bin-x",
            "packages/x--0123456789abcdef0",
            "packages/x--0123456789abcdef0/lib/\u{e9}t\u{e9}",
        ];
        // Each path three ways: flat; under a parent key shared by its
        // siblings; under a parent key of its own with the same bytes.
        let shared: std::collections::BTreeMap<&str, Arc<SortKey>> = paths
            .iter()
            .filter_map(|p| p.rfind('/').map(|i| &p[..i]))
            .map(|dir| (dir, Arc::new(sort_key(dir))))
            .collect();
        let forms = |path: &'static str| -> Vec<MapKey> {
            let mut keys = vec![MapKey::flat(path)];
            if let Some(i) = path.rfind('/') {
                let (dir, name) = (&path[..i], &path[i + 1..]);
                keys.push(MapKey::child(&shared[dir], name));
                keys.push(MapKey::child(&Arc::new(sort_key(dir)), name));
            }
            keys
        };
        for a in paths {
            for b in paths {
                let expected = sort_key(a).cmp(&sort_key(b));
                for x in forms(a) {
                    assert_eq!(x.path(), a);
                    for y in forms(b) {
                        assert_eq!(x.cmp(&y), expected, "{a:?} vs {b:?} as {x:?} and {y:?}");
                        assert_eq!(x == y, a == b);
                    }
                }
            }
        }
    }

    #[test]
    fn sort_key_orders_like_a_sorted_walk() {
        let mut paths = vec!["a-c", "a/b", "a", "a/b/c", "b", "a.d"];
        paths.sort_by_key(|p| sort_key(p));
        assert_eq!(paths, ["a", "a/b", "a/b/c", "a-c", "a.d", "b"]);
        assert_eq!(key_path(&sort_key("a/b/c")), "a/b/c");
    }
}
