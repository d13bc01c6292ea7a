//! Python's `json.dumps` string escaping with `ensure_ascii=True` (its
//! default): what pkgpanda and gen wrote, so files and config values that
//! must be byte-identical to theirs (a generation's JSON files, gen's string
//! form of lists and maps) escape strings the same way. Only the string
//! form is shared: separators and indentation differ per caller.

/// Appends `s` as a JSON string the way Python writes it: `"`, `\` and the
/// short escapes (`\n \r \t \b \f`) as such, every other control or
/// non-ASCII character (and DEL) as `\uXXXX`, surrogate pairs above the BMP.
pub fn write_python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_python_ensure_ascii() {
        // python3 -c 'import json; print(json.dumps("a\"\\\n\t\x01\x7fé😀"))'
        let mut out = String::new();
        write_python_string("a\"\\\n\t\u{1}\u{7f}é😀", &mut out);
        assert_eq!(out, r#""a\"\\\n\t\u0001\u007f\u00e9\ud83d\ude00""#);
    }
}
