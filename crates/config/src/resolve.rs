//! From config.yaml text to the resolved configuration: every value in
//! scope, as DC/OS strings, each with where it came from.
//!
//! Invariant: `resolve` returns either a complete, valid configuration or
//! every problem it could find (not just the first, and not one per key as
//! gen does). Warnings are what gen accepts but has no effect: a key out of
//! its switch's scope (an exhibitor key with another backend), a key tarmac
//! accepts for DC/OS compatibility and does not use; `Input::strict` turns
//! them into problems. A problem in a switch key (say `master_discovery: statc`)
//! silences the "out of scope" and "missing" reports of the keys that switch
//! controls, since those would only be noise.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::checks;
use crate::keys::{self, Default, KEYS};
use crate::value::{python_json, short, stringify};
use crate::yaml::{self, Node};

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    User,
    Default,
    Computed,
}

/// One resolved value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub value: String,
    pub source: Source,
    /// Hidden in served output.
    pub secret: bool,
}

/// The complete configuration, by key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolved {
    pub values: BTreeMap<String, Setting>,
    /// What gen accepts without effect (not part of the config id).
    pub warnings: Vec<Problem>,
}

impl Resolved {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|s| s.value.as_str())
    }
}

/// One thing wrong with the input, naming key, value and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file at fault when it is not config.yaml (a template).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub key: String,
    /// The offending value as written (DC/OS string form), if there is one.
    pub value: Option<String>,
    /// 1-based line in config.yaml, if the problem is at a line.
    pub line: Option<usize>,
    pub reason: String,
}

/// What `resolve` reads.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The config.yaml text.
    pub text: &'a str,
    /// Relative file names in the config (ip_detect_filename) are relative
    /// to this directory: the one holding `genconf/`, as in DC/OS.
    pub base_dir: &'a Path,
    /// Variables the templates use that are not DC/OS keys: they become
    /// required string keys.
    pub template_variables: &'a BTreeSet<String>,
    /// The bootstrap id of the bundle, exposed as `bootstrap_id`.
    pub bootstrap_id: Option<&'a str>,
    /// Warnings are problems (`cfg-gen --strict`).
    pub strict: bool,
}

/// An invalid configuration: its problems, and the warnings found on the way.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rejected {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

struct State {
    values: BTreeMap<String, Setting>,
    /// Keys whose value failed a check: dependants are not evaluated.
    invalid: BTreeSet<String>,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    lines: BTreeMap<String, usize>,
    /// Keys whose switch has another value: not resolved.
    out_of_scope: BTreeSet<String>,
}

impl State {
    fn problem(&mut self, key: &str, value: Option<&str>, reason: impl Into<String>) {
        self.problems.push(Problem {
            file: None,
            key: key.to_string(),
            value: value.map(short),
            line: self.lines.get(key).copied(),
            reason: reason.into(),
        });
    }

    fn warning(&mut self, key: &str, value: Option<&str>, reason: impl Into<String>) {
        self.warnings.push(Problem {
            file: None,
            key: key.to_string(),
            value: value.map(short),
            line: self.lines.get(key).copied(),
            reason: reason.into(),
        });
    }

    fn valid(&self, key: &str) -> Option<&str> {
        if self.invalid.contains(key) {
            None
        } else {
            self.values.get(key).map(|s| s.value.as_str())
        }
    }

    fn set(&mut self, key: &str, value: String, source: Source, secret: bool) {
        self.values.insert(
            key.to_string(),
            Setting {
                value,
                source,
                secret,
            },
        );
    }

    fn computed(&mut self, key: &str, value: impl Into<String>) {
        self.set(key, value.into(), Source::Computed, false);
    }
}

/// Validates and resolves `input`; every problem at once on failure.
pub fn resolve(input: &Input) -> Result<Resolved, Rejected> {
    let (entries, yaml_problems) = match yaml::load(input.text) {
        Ok(loaded) => loaded,
        Err(problem) => {
            return Err(Rejected {
                problems: vec![Problem {
                    file: None,
                    key: problem.key.unwrap_or_default(),
                    value: None,
                    line: Some(problem.line),
                    reason: problem.message,
                }],
                warnings: Vec::new(),
            })
        }
    };
    let mut state = State {
        values: BTreeMap::new(),
        invalid: BTreeSet::new(),
        problems: Vec::new(),
        warnings: Vec::new(),
        out_of_scope: BTreeSet::new(),
        lines: entries.iter().map(|e| (e.key.clone(), e.line)).collect(),
    };
    for problem in yaml_problems {
        state.problems.push(Problem {
            file: None,
            key: problem.key.unwrap_or_default(),
            value: None,
            line: Some(problem.line),
            reason: problem.message,
        });
    }
    let user: BTreeMap<String, Node> = entries.into_iter().map(|e| (e.key, e.value)).collect();

    check_unknown_and_computed(&user, input, &mut state);
    resolve_table(&user, input, &mut state);
    resolve_template_variables(&user, input, &mut state);
    cross_checks(&mut state);
    compute(input, &mut state);

    let mut warnings = sorted(state.warnings);
    let mut problems = state.problems;
    if input.strict {
        problems.extend(warnings.drain(..).map(|mut w| {
            w.reason.push_str(" (an error with --strict)");
            w
        }));
    }
    if problems.is_empty() {
        Ok(Resolved {
            values: state.values,
            warnings,
        })
    } else {
        Err(Rejected {
            problems: sorted(problems),
            warnings,
        })
    }
}

fn sorted(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.sort_by(|a, b| {
        (a.line.unwrap_or(usize::MAX), &a.key).cmp(&(b.line.unwrap_or(usize::MAX), &b.key))
    });
    problems.dedup();
    problems
}

fn check_unknown_and_computed(user: &BTreeMap<String, Node>, input: &Input, state: &mut State) {
    let extra: Vec<String> = input.template_variables.iter().cloned().collect();
    for (key, node) in user {
        let value = Some(python_json_or_plain(node));
        // A key that is settable in one switch case and computed in another
        // (num_masters, rexray_config) is judged in resolve_table.
        if keys::COMPUTED.contains(&key.as_str()) && keys::spec(key).is_none() {
            state.problem(
                key,
                value.as_deref(),
                "is computed by cfg-gen and cannot be set in config.yaml",
            );
        } else if let Some(reason) = keys::gen_only(key) {
            state.problem(key, value.as_deref(), reason);
        } else if keys::spec(key).is_none() && !input.template_variables.contains(key) {
            let hint = match keys::suggestion(key, &extra) {
                Some(near) => format!("unknown key (did you mean '{near}'?)"),
                None => "unknown key: not a DC/OS setting and not used by any template".into(),
            };
            state.problem(key, value.as_deref(), hint);
        }
    }
}

/// A node as text for messages: strings bare, the rest as JSON.
fn python_json_or_plain(node: &Node) -> String {
    match node {
        Node::Str(s) => s.clone(),
        other => python_json(other),
    }
}

/// A user's value for messages; a secret is not shown.
fn shown(spec: &keys::KeySpec, node: &Node) -> String {
    if spec.secret {
        "**HIDDEN**".to_string()
    } else {
        python_json_or_plain(node)
    }
}

fn resolve_table(user: &BTreeMap<String, Node>, input: &Input, state: &mut State) {
    for spec in KEYS {
        let given = user.get(spec.name);
        if let Some((switch, cases)) = spec.when {
            let in_scope = match (state.values.get(switch), state.invalid.contains(switch)) {
                (Some(setting), false) => cases.contains(&setting.value.as_str()),
                // The switch is itself out of scope (aws_access_key_id's
                // exhibitor_explicit_keys with another backend): so is this key.
                (None, false) if state.out_of_scope.contains(switch) => {
                    state.out_of_scope.insert(spec.name.to_string());
                    if let Some(node) = given {
                        state.warning(
                            spec.name,
                            Some(&shown(spec, node)),
                            format!(
                                "only used when {switch} is {}, and {switch} does not apply here, so it is ignored",
                                cases.join(" or ")
                            ),
                        );
                    }
                    continue;
                }
                // The switch is missing or invalid: already reported.
                _ => {
                    continue;
                }
            };
            if !in_scope {
                state.out_of_scope.insert(spec.name.to_string());
                if let Some(node) = given {
                    let actual = state.values[switch].value.clone();
                    let value = shown(spec, node);
                    if keys::COMPUTED.contains(&spec.name) {
                        // gen refuses these too ("must be calculated").
                        state.problem(
                            spec.name,
                            Some(&value),
                            format!("is computed by cfg-gen when {switch} is '{actual}' and cannot be set"),
                        );
                    } else {
                        // gen accepts the key and ignores it.
                        state.warning(
                            spec.name,
                            Some(&value),
                            format!(
                                "only used when {switch} is {}; {switch} is '{actual}', so it is ignored",
                                cases.join(" or ")
                            ),
                        );
                    }
                }
                continue;
            }
        }
        if let (Some(reason), Some(node)) = (spec.unused, given) {
            if !input.template_variables.contains(spec.name) {
                state.warning(
                    spec.name,
                    Some(&shown(spec, node)),
                    format!("accepted for DC/OS compatibility but has no effect here ({reason}) and no template reads it"),
                );
            }
        }
        let (value, source) = match (given, spec.default) {
            (Some(node), _) => match stringify(node, spec.kind) {
                Ok(value) => (value, Source::User),
                Err(reason) => {
                    state.problem(spec.name, Some(&shown(spec, node)), reason);
                    state.set(spec.name, String::new(), Source::User, spec.secret);
                    state.invalid.insert(spec.name.to_string());
                    continue;
                }
            },
            (None, Default::Value(value)) => (value.to_string(), Source::Default),
            (None, Default::SameAs(other)) => match state.valid(other) {
                Some(value) => (value.to_string(), Source::Default),
                None => {
                    state.invalid.insert(spec.name.to_string());
                    continue;
                }
            },
            (None, Default::Derived(inputs, derive)) => {
                let values: Option<Vec<&str>> = inputs.iter().map(|k| state.valid(k)).collect();
                match values {
                    Some(values) => (derive(&values), Source::Default),
                    None => {
                        state.invalid.insert(spec.name.to_string());
                        continue;
                    }
                }
            }
            (None, Default::Absent) => continue,
            (None, Default::Required) => {
                state.problem(
                    spec.name,
                    None,
                    format!("Must set {}, no way to calculate value.", spec.name),
                );
                state.invalid.insert(spec.name.to_string());
                continue;
            }
        };
        if let Some(check) = spec.check {
            if let Err(reason) = check(&value) {
                let shown = if spec.secret {
                    "**HIDDEN**".to_string()
                } else {
                    value.clone()
                };
                state.problem(spec.name, Some(&shown), reason);
                state.invalid.insert(spec.name.to_string());
            }
        }
        state.set(spec.name, value, source, spec.secret);
    }
}

fn resolve_template_variables(user: &BTreeMap<String, Node>, input: &Input, state: &mut State) {
    for name in input.template_variables {
        if keys::spec(name).is_some() || keys::COMPUTED.contains(&name.as_str()) {
            continue;
        }
        match user.get(name) {
            Some(node) => match stringify(node, keys::Kind::Str) {
                Ok(value) => state.set(name, value, Source::User, false),
                Err(reason) => {
                    state.problem(name, Some(&python_json_or_plain(node)), reason);
                    state.invalid.insert(name.clone());
                }
            },
            None => {
                state.problem(
                    name,
                    None,
                    format!("Must set {name}, no way to calculate value (a template uses it)."),
                );
                state.invalid.insert(name.clone());
            }
        }
    }
}

fn list(state: &State, key: &str) -> Option<Vec<String>> {
    state.valid(key).and_then(|v| checks::json_list(v).ok())
}

/// Keys without a check of their own that `cross_checks` validates with
/// others (docs/cfg-gen.md counts them as validated).
pub const CROSS_CHECKED: &[&str] = &[
    "dcos_overlay_network_default_name",
    "superuser_service_account_uid",
];

fn cross_checks(state: &mut State) {
    // bootstrap_url is the origin, listed first: not a mirror again.
    if let (Some(origin), Some(mirrors)) = (
        state.valid("bootstrap_url").map(str::to_string),
        list(state, "bootstrap_mirrors"),
    ) {
        if let Some(index) = mirrors.iter().position(|m| *m == origin) {
            let value = state.values["bootstrap_mirrors"].value.clone();
            state.problem(
                "bootstrap_mirrors",
                Some(&value),
                format!("item {index} ({origin}) is bootstrap_url, the origin: list only the other mirrors"),
            );
        }
    }

    if let (Some(discovery), Some(backend)) = (
        state.valid("master_discovery").map(str::to_string),
        state.valid("exhibitor_storage_backend").map(str::to_string),
    ) {
        if discovery != "static" && backend == "static" {
            state.problem(
                "exhibitor_storage_backend",
                Some(&backend),
                "When master_discovery is not static, exhibitor_storage_backend must be non-static: agents discover a variable list of masters but exhibitor would use a fixed one",
            );
        }
    }

    // A host can have one role only.
    let mut owner: BTreeMap<String, &str> = BTreeMap::new();
    for key in ["master_list", "agent_list", "public_agent_list"] {
        let Some(hosts) = list(state, key) else {
            continue;
        };
        let mut clashes = Vec::new();
        for host in hosts {
            match owner.get(&host) {
                Some(first) => clashes.push(format!("{host} is also in {first}")),
                None => {
                    owner.insert(host, key);
                }
            }
        }
        if !clashes.is_empty() {
            let value = state.values[key].value.clone();
            state.problem(
                key,
                Some(&value),
                format!("duplicate hosts: {}", clashes.join(", ")),
            );
        }
    }

    let tls: Vec<Option<&str>> = ["1_0", "1_1", "1_2"]
        .iter()
        .map(|v| state.valid(&format!("adminrouter_tls_{v}_enabled")))
        .collect();
    if tls.iter().all(|v| *v == Some("false")) {
        state.problem(
            "adminrouter_tls_1_2_enabled",
            Some("false"),
            "At least one of adminrouter_tls_1_0_enabled, adminrouter_tls_1_1_enabled and adminrouter_tls_1_2_enabled must be set to 'true'.",
        );
    }

    if state.valid("enable_ipv6") == Some("false")
        && state.valid("dcos_l4lb_enable_ipv6") == Some("true")
    {
        state.problem(
            "dcos_l4lb_enable_ipv6",
            Some("true"),
            "When enable_ipv6 is false, dcos_l4lb_enable_ipv6 must be false as well",
        );
    }

    // gen: the default overlay must name a defined overlay network.
    if let (Some(name), Some(network)) = (
        state
            .valid("dcos_overlay_network_default_name")
            .map(str::to_string),
        state.valid("dcos_overlay_network").map(str::to_string),
    ) {
        let names: Vec<String> = checks::json_dict(&network)
            .ok()
            .and_then(|n| n.get("overlays").and_then(|o| o.as_array()).cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|o| o.get("name").and_then(|n| n.as_str()).map(String::from))
            .collect();
        if !names.contains(&name) {
            state.problem(
                "dcos_overlay_network_default_name",
                Some(&name),
                format!("Default overlay network name does not reference a defined overlay network: {name}"),
            );
        }
        // gen: with both enabled, no IPv4 overlay subnet may overlap calico's.
        if state.valid("calico_enabled") == Some("true")
            && state.valid("dcos_overlay_enable") == Some("true")
        {
            if let Some(cidr) = state.valid("calico_network_cidr").map(str::to_string) {
                let subnets: Vec<String> = checks::json_dict(&network)
                    .ok()
                    .and_then(|n| n.get("overlays").and_then(|o| o.as_array()).cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|o| o.get("subnet").and_then(|s| s.as_str()).map(String::from))
                    .collect();
                for subnet in subnets {
                    if checks::subnets_overlap(&subnet, &cidr) {
                        state.problem(
                            "calico_network_cidr",
                            Some(&cidr),
                            format!("overlay subnet {subnet} overlaps calico network {cidr}"),
                        );
                    }
                }
            }
        }
    }

    // gen: custom checks may not reuse the name of a built-in check.
    if let (Some(custom), Some(builtin)) = (
        state.valid("custom_checks").map(str::to_string),
        state.valid("check_config").map(str::to_string),
    ) {
        if let Err(reason) = checks::custom_checks_conflicts(&custom, &builtin) {
            state.problem("custom_checks", Some(&custom), reason);
        }
    }

    let pair = (
        state.valid("superuser_service_account_uid"),
        state.valid("superuser_service_account_public_key"),
    );
    let (uid, key) = match pair {
        (Some(uid), Some(key)) => (uid.to_string(), key.to_string()),
        // One of them failed its own check: already reported.
        _ => return,
    };
    if uid.is_empty() != key.is_empty() {
        state.problem(
            "superuser_service_account_uid",
            Some(uid.as_str()).filter(|u| !u.is_empty()),
            "'superuser_service_account_uid' and 'superuser_service_account_public_key' must both be empty or both be non-empty",
        );
    }
}

/// Reads an ip-detect script named by `key`; missing or empty is a problem.
fn read_script(state: &mut State, base: &Path, key: &str, value: &str) -> Option<String> {
    let what = if key.starts_with("fault_domain") {
        "fault-domain-detect script"
    } else {
        "ip-detect script"
    };
    let path = if Path::new(value).is_absolute() {
        PathBuf::from(value)
    } else {
        base.join(value)
    };
    match std::fs::read(&path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) if text.trim().is_empty() => {
                state.problem(
                    key,
                    Some(value),
                    format!("{what} `{}` is empty", path.display()),
                );
                None
            }
            Ok(text) => Some(text),
            Err(_) => {
                state.problem(
                    key,
                    Some(value),
                    format!("{what} `{}` is not UTF-8 text", path.display()),
                );
                None
            }
        },
        Err(e) => {
            state.problem(
                key,
                Some(value),
                format!("{what} `{}` must exist: {e}", path.display()),
            );
            None
        }
    }
}

/// gen's rexray_config for `rexray_config_preset: aws`.
const AWS_REXRAY: &str = r#"{"rexray": {"loglevel": "info", "service": "ebs"}, "libstorage": {"server": {"tasks": {"logTimeout": "5m"}}, "integration": {"volume": {"operations": {"unmount": {"ignoreusedcount": true}}}}}}"#;

fn compute(input: &Input, state: &mut State) {
    for (key, value) in [
        ("curly_pound", "{#"),
        ("dcos_version", "2.3.0-dev"),
        ("exhibitor_port", "8181"),
        ("marathon_port", "8080"),
        ("mesos_agent_port", "5051"),
        ("mesos_dns_port", "8123"),
        ("mesos_master_port", "5050"),
        ("metronome_port", "9000"),
    ] {
        state.computed(key, value);
    }
    if let Some(id) = input.bootstrap_id {
        state.computed("bootstrap_id", id);
    }

    // Masters: num_masters is computed for static discovery, given otherwise.
    if state.valid("master_discovery") == Some("static") {
        if let Some(masters) = list(state, "master_list") {
            let count = masters.len().to_string();
            if let Err(reason) = checks::num_masters(&count) {
                state.problem(
                    "num_masters",
                    Some(&count),
                    format!("{reason} (counted in master_list)"),
                );
                state.invalid.insert("num_masters".into());
            }
            state.computed("num_masters", count);
            let mut sorted = masters;
            sorted.sort();
            let ensemble: Vec<String> = sorted
                .iter()
                .enumerate()
                .map(|(i, m)| format!("{}:{m}", i + 1))
                .collect();
            state.computed("exhibitor_static_ensemble", ensemble.join(","));
        }
    }
    if let Some(n) = state
        .valid("num_masters")
        .and_then(|n| n.trim().parse::<u32>().ok())
    {
        state.computed("master_quorum", (n / 2 + 1).to_string());
    }

    if let Some(resolvers) = list(state, "resolvers") {
        state.computed("resolvers_str", resolvers.join(","));
        let raw = state.values["resolvers"].value.clone();
        let mesos = if resolvers.is_empty() {
            "\"externalOn\": false".to_string()
        } else {
            format!("\"resolvers\": {raw}")
        };
        state.computed("mesos_dns_resolvers_str", mesos);
    }
    if let Some(search) = state.valid("dns_search").map(str::to_string) {
        let line = if search.is_empty() {
            String::new()
        } else {
            format!("SEARCH={search}")
        };
        state.computed("dcos_gen_resolvconf_search_str", line);
    }
    if let (Some(reserved), Some(blacklist)) = (
        list(state, "dns_bind_ip_reserved"),
        list(state, "dns_bind_ip_blacklist"),
    ) {
        let all: Vec<Node> = reserved
            .into_iter()
            .chain(blacklist)
            .map(Node::Str)
            .collect();
        state.computed("dns_bind_ip_blacklist_json", python_json(&Node::List(all)));
    }
    if let Some(password) = state.valid("exhibitor_admin_password") {
        let enabled = (!password.is_empty()).to_string();
        state.computed("exhibitor_admin_password_enabled", enabled);
    }
    if let Some(lb) = state.valid("master_external_loadbalancer") {
        let set = (!lb.is_empty()).to_string();
        state.computed("has_master_external_loadbalancer", set);
    }
    if let Some(url) = state.valid("cluster_docker_registry_url") {
        let enabled = (!url.is_empty()).to_string();
        state.computed("cluster_docker_registry_enabled", enabled);
    }
    if let Some(key) = state
        .valid("superuser_service_account_public_key")
        .map(str::to_string)
    {
        state.computed(
            "_superuser_service_account_public_key_json",
            python_json(&Node::Str(key)),
        );
    }
    if let Some(owned) = state.valid("cluster_docker_credentials_dcos_owned") {
        let path = if owned == "true" {
            "/opt/mesosphere/etc/docker_credentials"
        } else {
            "/etc/mesosphere/docker_credentials"
        };
        state.computed("cluster_docker_credentials_path", path);
    }
    if let (Some(gpu), Some(seccomp)) = (
        state.valid("enable_gpu_isolation").map(str::to_string),
        state.valid("mesos_seccomp_enabled").map(str::to_string),
    ) {
        let mut isolation = "cgroups/all,disk/du,network/cni,filesystem/linux,docker/runtime,docker/volume,volume/sandbox_path,volume/secret,volume/csi,posix/rlimits,namespaces/pid,namespaces/ipc,linux/capabilities,com_mesosphere_dcos_MetricsIsolatorModule".to_string();
        if gpu == "true" {
            isolation.push_str(",gpu/nvidia");
        }
        if seccomp == "true" {
            isolation.push_str(",linux/seccomp");
        }
        state.computed("mesos_isolation", isolation);
    }
    if state.valid("rexray_config_preset") == Some("aws") {
        state.computed("rexray_config", AWS_REXRAY);
    }
    let versions: Vec<&str> = [("1_0", "TLSv1"), ("1_1", "TLSv1.1"), ("1_2", "TLSv1.2")]
        .iter()
        .filter(|(v, _)| state.valid(&format!("adminrouter_tls_{v}_enabled")) == Some("true"))
        .map(|(_, name)| *name)
        .collect();
    state.computed("adminrouter_tls_version_override", versions.join(" "));

    // The scripts: given inline (`ip_detect_contents: |`, as DC/OS allows)
    // or read from their files. ip6-detect must exist when named; the fault
    // domain script is used when its (default) file exists, as in gen.
    let given =
        |state: &State, key: &str| state.values.contains_key(key) || state.invalid.contains(key);
    if !given(state, "ip6_detect_contents") {
        if let Some(file) = state.valid("ip6_detect_filename").map(str::to_string) {
            if file.is_empty() {
                state.computed("ip6_detect_contents", "");
            } else if let Some(text) =
                read_script(state, input.base_dir, "ip6_detect_filename", &file)
            {
                state.computed("ip6_detect_contents", text);
            }
        }
    }
    if !given(state, "fault_domain_detect_contents") {
        if let Some(file) = state
            .valid("fault_domain_detect_filename")
            .map(str::to_string)
        {
            let path = input.base_dir.join(&file);
            let text = if path.exists() {
                read_script(state, input.base_dir, "fault_domain_detect_filename", &file)
            } else {
                Some(String::new())
            };
            if let Some(text) = text {
                state.computed("fault_domain_detect_contents", text);
            }
        }
    }
    let ip_detect = if given(state, "ip_detect_contents") {
        state.valid("ip_detect_contents").map(str::to_string)
    } else {
        let file = state.valid("ip_detect_filename").map(str::to_string);
        let text =
            file.and_then(|file| read_script(state, input.base_dir, "ip_detect_filename", &file));
        if let Some(text) = &text {
            state.computed("ip_detect_contents", text.clone());
        }
        text
    };
    if !given(state, "ip_detect_public_contents") {
        let public = match state.valid("ip_detect_public_filename").map(str::to_string) {
            Some(public) if !public.is_empty() => {
                read_script(state, input.base_dir, "ip_detect_public_filename", &public)
            }
            _ => ip_detect,
        };
        if let Some(public) = public {
            state.computed("ip_detect_public_contents", public);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<Resolved, Vec<Problem>> {
        run_with(text, false).map_err(|r| r.problems)
    }

    fn run_with(text: &str, strict: bool) -> Result<Resolved, Rejected> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("genconf")).unwrap();
        std::fs::write(
            dir.path().join("genconf/ip-detect"),
            "#!/bin/sh\necho 10.0.0.1\n",
        )
        .unwrap();
        let variables = BTreeSet::from(["site_motd".to_string()]);
        resolve(&Input {
            text,
            base_dir: dir.path(),
            template_variables: &variables,
            bootstrap_id: Some("b"),
            strict,
        })
    }

    const BASE: &str = "bootstrap_url: http://b\ncluster_name: c\nresolvers: []\nsite_motd: hi\n";

    #[test]
    fn a_bad_switch_value_is_one_problem_not_many() {
        let problems = run(&format!(
            "{BASE}master_discovery: statc\nexhibitor_storage_backend: static\nmaster_list: [10.0.0.1]\n"
        ))
        .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "master_discovery");
        assert_eq!(problems[0].line, Some(5));
    }

    #[test]
    fn provenance_and_computed_values() {
        let resolved = run(&format!(
            "{BASE}master_discovery: static\nexhibitor_storage_backend: static\nmaster_list: [10.0.0.3, 10.0.0.1, 10.0.0.2]\noauth_enabled: no\n"
        ))
        .unwrap();
        let source = |k: &str| resolved.values[k].source;
        assert_eq!(resolved.get("num_masters"), Some("3"));
        assert_eq!(resolved.get("master_quorum"), Some("2"));
        assert_eq!(
            resolved.get("exhibitor_static_ensemble"),
            Some("1:10.0.0.1,2:10.0.0.2,3:10.0.0.3")
        );
        assert_eq!(source("master_quorum"), Source::Computed);
        assert_eq!(resolved.get("oauth_enabled"), Some("false"));
        assert_eq!(source("oauth_enabled"), Source::User);
        // adminrouter_auth_enabled defaults to oauth_enabled, as in gen.
        assert_eq!(resolved.get("adminrouter_auth_enabled"), Some("false"));
        assert_eq!(source("adminrouter_auth_enabled"), Source::Default);
        assert_eq!(
            resolved.get("mesos_dns_resolvers_str"),
            Some("\"externalOn\": false")
        );
        assert_eq!(resolved.get("site_motd"), Some("hi"));
        assert_eq!(resolved.get("bootstrap_id"), Some("b"));
        assert_eq!(
            resolved.get("ip_detect_contents"),
            Some("#!/bin/sh\necho 10.0.0.1\n")
        );
    }

    #[test]
    fn load_balancer_discovery_takes_num_masters_from_the_user() {
        let resolved = run(&format!(
            "{BASE}master_discovery: master_http_loadbalancer\nexhibitor_storage_backend: zookeeper\nexhibitor_zk_hosts: z:2181\nexhibitor_zk_path: /p\nexhibitor_address: lb\nnum_masters: 5\n"
        ))
        .unwrap();
        assert_eq!(resolved.get("master_quorum"), Some("3"));
        assert_eq!(resolved.values["num_masters"].source, Source::User);
        assert!(resolved.get("exhibitor_static_ensemble").is_none());
    }

    #[test]
    fn keys_out_of_scope_warn_even_two_switches_deep() {
        let text = format!(
            "{BASE}master_discovery: static\nexhibitor_storage_backend: static\nmaster_list: [10.0.0.1]\nexhibitor_explicit_keys: true\naws_access_key_id: k\n"
        );
        let resolved = run(&text).unwrap();
        let warned: Vec<(&str, Option<usize>)> = resolved
            .warnings
            .iter()
            .map(|w| (w.key.as_str(), w.line))
            .collect();
        assert_eq!(
            warned,
            [
                ("exhibitor_explicit_keys", Some(8)),
                ("aws_access_key_id", Some(9))
            ]
        );
        assert!(resolved.warnings[1]
            .reason
            .contains("exhibitor_explicit_keys does not apply here"));
        assert!(resolved.get("aws_access_key_id").is_none());
        // The issue's case: an exhibitor key of master_http_loadbalancer
        // discovery (exhibitor_address) with static discovery.
        let static_with_address = format!(
            "{BASE}master_discovery: static\nexhibitor_storage_backend: static\nmaster_list: [10.0.0.1]\nexhibitor_address: lb.example\n"
        );
        let resolved = run(&static_with_address).unwrap();
        assert_eq!(resolved.warnings.len(), 1);
        assert_eq!(resolved.warnings[0].key, "exhibitor_address");
        assert_eq!(resolved.warnings[0].value.as_deref(), Some("lb.example"));
        assert_eq!(resolved.warnings[0].reason, "only used when master_discovery is master_http_loadbalancer; master_discovery is 'static', so it is ignored");
        // A secret out of scope is not shown.
        let resolved = run(&format!(
            "{BASE}master_discovery: static\nexhibitor_storage_backend: static\nmaster_list: [10.0.0.1]\nexhibitor_azure_account_key: s3cret\n"
        ))
        .unwrap();
        assert_eq!(resolved.warnings[0].value.as_deref(), Some("**HIDDEN**"));
        // --strict: the same two, as problems.
        let rejected = run_with(&text, true).unwrap_err();
        assert_eq!(rejected.problems.len(), 2, "{:?}", rejected.problems);
        assert!(rejected.warnings.is_empty());
    }
}
