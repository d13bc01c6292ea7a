//! Filling `scripts/dcos_install.sh` (compiled in) with one cfg-gen run's
//! pinned values.
//!
//! The template is a real, shellcheck-clean bash script whose pinned values
//! are `'{{ name }}'` single-quoted strings and one quoted heredoc. Filling
//! is plain token replacement, not Jinja: the script's own `${#array[@]}`
//! would read as a Jinja comment. Every value is escaped for its single
//! quotes, so no value can end the string early.

/// The template, as shipped in the repository.
pub const TEMPLATE: &str = include_str!("../../../scripts/dcos_install.sh");

/// The values pinned into the script.
#[derive(Debug, Clone)]
pub struct ScriptValues {
    /// `install`, or `upgrade` from the config id `upgrade_from`.
    pub mode: &'static str,
    pub upgrade_from: String,
    pub bootstrap_url: String,
    /// config.yaml `bootstrap_mirrors`, in its order.
    pub bootstrap_mirrors: Vec<String>,
    pub bootstrap_id: String,
    pub bundle_blake3: String,
    pub config_id: String,
    pub bundle_packages: Vec<String>,
    pub cluster_packages: Vec<String>,
    /// (id, tree hash) of every bundle and cluster package, for `--pin`.
    pub package_pins: Vec<(String, String)>,
    /// The pretty cluster-packages.json, written verbatim by a heredoc.
    pub cluster_packages_json: String,
    pub install_bytes: u64,
    /// (sha256, name) per tool.
    pub tools: Vec<(String, String)>,
    pub ip_detect_sha256: String,
}

/// Text safe inside a single-quoted shell string: `'` becomes `'\''`.
fn single_quoted(text: &str) -> String {
    text.replace('\'', r"'\''")
}

pub fn render(values: &ScriptValues) -> String {
    let tools: Vec<String> = values
        .tools
        .iter()
        .map(|(sum, name)| format!("{sum} {name}"))
        .collect();
    let pins: Vec<String> = values
        .package_pins
        .iter()
        .map(|(id, hash)| format!("{id}={hash}"))
        .collect();
    let replacements = [
        ("mode", values.mode.to_string()),
        ("upgrade_from", single_quoted(&values.upgrade_from)),
        ("bootstrap_url", single_quoted(&values.bootstrap_url)),
        (
            "bootstrap_mirrors",
            single_quoted(&values.bootstrap_mirrors.join(" ")),
        ),
        ("package_pins", single_quoted(&pins.join(" "))),
        ("bootstrap_id", single_quoted(&values.bootstrap_id)),
        ("bundle_blake3", single_quoted(&values.bundle_blake3)),
        ("config_id", single_quoted(&values.config_id)),
        (
            "bundle_packages",
            single_quoted(&values.bundle_packages.join(" ")),
        ),
        (
            "cluster_packages",
            single_quoted(&values.cluster_packages.join(" ")),
        ),
        ("install_bytes", values.install_bytes.to_string()),
        ("tools", single_quoted(&tools.join("\n"))),
        ("ip_detect_sha256", single_quoted(&values.ip_detect_sha256)),
        // Inside a quoted heredoc nothing is interpreted; the delimiter
        // cannot occur in pretty JSON (every line starts with { } or space).
        (
            "cluster_packages_json",
            values.cluster_packages_json.clone(),
        ),
    ];
    let mut script = TEMPLATE.to_string();
    for (name, value) in replacements {
        script = script.replace(&format!("{{{{ {name} }}}}"), &value);
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> ScriptValues {
        ScriptValues {
            mode: "install",
            upgrade_from: String::new(),
            bootstrap_url: "http://x/it's".into(),
            bootstrap_mirrors: vec!["http://m1".into(), "https://m2:8443".into()],
            bootstrap_id: "b".repeat(40),
            bundle_blake3: "c".repeat(64),
            config_id: "d".repeat(40),
            bundle_packages: vec!["a--1".into(), "b--2".into()],
            cluster_packages: vec!["dcos-config--setup_x".into()],
            package_pins: vec![
                ("a--1".into(), "01".repeat(32)),
                ("dcos-config--setup_x".into(), "02".repeat(32)),
            ],
            cluster_packages_json: "{\n  \"a\": 1\n}".into(),
            install_bytes: 1234,
            tools: vec![("e".repeat(64), "host-extract".into())],
            ip_detect_sha256: "f".repeat(64),
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let script = render(&values());
        assert!(!script.contains("{{"), "placeholder left");
        assert!(script.contains(r"BOOTSTRAP_URL='http://x/it'\''s'"));
        assert!(script.contains("BUNDLE_PACKAGES='a--1 b--2'"));
        assert!(script.contains("INSTALL_BYTES='1234'"));
        assert!(script.contains("BOOTSTRAP_MIRRORS='http://m1 https://m2:8443'"));
        assert!(script.contains(&format!(
            "PACKAGE_PINS='a--1={} dcos-config--setup_x={}'",
            "01".repeat(32),
            "02".repeat(32)
        )));
        assert!(script.trim_end().ends_with("main \"$@\""));
    }
}
