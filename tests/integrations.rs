//! The configuration-management integrations under `scripts/integrations/`
//! against the real host tools: a serve tree is made with the real
//! pkg-build, pkg-bundle and cfg-gen from the example tree; each integration
//! installs it into a temp host (every path a flag) twice, downloading from
//! nginx on loopback. The first run
//! changes the host, the second reports no change (Ansible: `changed=0` in
//! the recap; Puppet: `--detailed-exitcodes` 2 then 0; Chef, which cannot be
//! installed here: every guard false → command runs and succeeds → guard
//! true, then all guards true) and the host ends in the wanted state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tarmac_testkit::cmd::{ok, run, Run, Runs};
use tarmac_testkit::host::Host;
use tarmac_testkit::nginx::Nginx;

use crate::workspace::{bin_dir, repo_root, tool};
use tarmac_testkit::tree::copy_tree;

/// A serve tree served by nginx on loopback (the origin, and a second
/// nginx as its mirror), and the values cfg-gen pinned in its
/// dcos_install.sh.
struct Served {
    nginx: Nginx,
    mirror: Nginx,
    /// A mirror that refuses connections, listed before `mirror`.
    dead: String,
    _dir: tempfile::TempDir,
    bootstrap_id: String,
    bundle_blake3: String,
    bundle_ids: Vec<String>,
    cluster_ids: Vec<String>,
    /// PACKAGE_PINS: "ID=TREEHASH" of every package.
    package_pins: Vec<String>,
    /// Host tool name -> sha256, served under bin/.
    tools: BTreeMap<String, String>,
    ip_detect_sha256: String,
}

impl Served {
    fn wanted(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .bundle_ids
            .iter()
            .chain(&self.cluster_ids)
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// HTTP requests so far (the origin's and the mirror's access logs),
    /// and how many of them fetched a package archive.
    fn requests(&self) -> (usize, usize) {
        let log = self.nginx.access_log() + &self.mirror.access_log();
        let archives = log.lines().filter(|l| l.contains(".tar.zst")).count();
        (log.lines().count(), archives)
    }

    /// The mirrors are used first: the origin (the last URL) served
    /// nothing while the live mirror, after the dead one, served the tools,
    /// the bundle and the packages.
    fn assert_served_by_the_mirror(&self) {
        let origin = self.nginx.access_log();
        assert_eq!(origin, "", "the origin was asked while a mirror answered");
        let mirror = self.mirror.access_log();
        for path in [
            "/bin/host-extract",
            "/ip-detect",
            ".bootstrap.tar.zst",
            "/packages/",
        ] {
            assert!(
                mirror.contains(path),
                "{path} not from the mirror: {mirror}"
            );
        }
    }
}

/// Builds, bundles and renders the example tree with the real tools.
fn served() -> Served {
    served_with(|_| {})
}

/// As [`served`], from a copy of the example tree changed by `edit`.
fn served_with(edit: impl FnOnce(&Path)) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let packages = d.join("packages");
    copy_tree(&repo_root().join("packages"), &packages);
    edit(&packages);
    ok(Command::new(env!("CARGO_BIN_EXE_pkg-build"))
        .current_dir(d)
        .arg("--packages")
        .arg(&packages)
        .args(["-q", "--tree", "--repo", "repo", "--cache", "cache"]));
    ok(Command::new(env!("CARGO_BIN_EXE_pkg-bundle"))
        .current_dir(d)
        .arg("--packages")
        .arg(&packages)
        .args(["-q", "--tree", "--repo", "repo", "--out", "dist"]));
    ok(Command::new(env!("CARGO_BIN_EXE_cfg-gen"))
        .current_dir(d)
        .arg("--genconf")
        .arg(repo_root().join("genconf"))
        .args(["--dist", "dist", "--output", "serve", "--bin-dir"])
        .arg(bin_dir()));
    let serve = d.join("serve");
    let script = std::fs::read_to_string(serve.join("dcos_install.sh")).unwrap();
    let pinned = |key: &str| -> String {
        script
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key}='")))
            .and_then(|rest| rest.strip_suffix('\''))
            .unwrap_or_else(|| panic!("{key} not pinned in dcos_install.sh"))
            .to_string()
    };
    let list =
        |key: &str| -> Vec<String> { pinned(key).split_whitespace().map(str::to_string).collect() };
    // TOOLS='SHA256 NAME\nSHA256 NAME...': several lines.
    let tools_start = script.find("\nTOOLS='").expect("TOOLS pinned") + "\nTOOLS='".len();
    let tools_len = script[tools_start..].find('\'').unwrap();
    let tools = script[tools_start..tools_start + tools_len]
        .lines()
        .map(|line| {
            let (sha, name) = line.split_once(' ').unwrap();
            (name.to_string(), sha.to_string())
        })
        .collect::<BTreeMap<_, _>>();
    assert_eq!(
        tools.keys().collect::<Vec<_>>(),
        ["host-extract", "ip-detect-run", "pkg-activate"]
    );
    Served {
        nginx: Nginx::serve(&serve),
        mirror: Nginx::serve(&serve),
        dead: tarmac_testkit::nginx::dead_url(),
        tools,
        ip_detect_sha256: pinned("IP_DETECT_SHA256"),
        bootstrap_id: pinned("BOOTSTRAP_ID"),
        bundle_blake3: pinned("BUNDLE_BLAKE3"),
        bundle_ids: list("BUNDLE_PACKAGES"),
        cluster_ids: list("CLUSTER_PACKAGES"),
        package_pins: list("PACKAGE_PINS"),
        _dir: dir,
    }
}

/// A managed host in `role`: a [`Host`] with DC/OS's paths in a temp dir
/// (the recipes create them), a user database copied from this machine's
/// (pkg-activate adds package users there), and an ip-detect script
/// printing a documentation address.
struct Managed {
    host: Host,
    role: &'static str,
}

const HOST_IP: &str = "192.0.2.10";

impl Managed {
    fn new(role: &'static str) -> Managed {
        let host = Host::dcos();
        // A real host has /etc; Puppet's `file` does not make parents.
        std::fs::create_dir_all(host.base().join("etc")).unwrap();
        let userdb = host.user_db().join("etc");
        std::fs::create_dir_all(&userdb).unwrap();
        for file in ["passwd", "group"] {
            std::fs::copy(Path::new("/etc").join(file), userdb.join(file)).unwrap();
        }
        let ip_detect = host.base().join("ip-detect");
        std::fs::write(&ip_detect, format!("#!/bin/sh\necho {HOST_IP}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ip_detect, std::fs::Permissions::from_mode(0o755)).unwrap();
        Managed { host, role }
    }

    fn path(&self, name: &str) -> String {
        self.host.base().join(name).display().to_string()
    }

    /// Every attribute the integrations take, by their shared key names.
    fn attributes(&self, served: &Served) -> BTreeMap<&'static str, Value> {
        let s = |v: String| Value::Str(v);
        BTreeMap::from([
            ("bootstrap_url", s(served.nginx.url())),
            (
                "mirrors",
                Value::List(vec![served.dead.clone(), served.mirror.url()]),
            ),
            ("bootstrap_id", s(served.bootstrap_id.clone())),
            ("bundle_blake3", s(served.bundle_blake3.clone())),
            ("bundle_ids", Value::List(served.bundle_ids.clone())),
            ("cluster_ids", Value::List(served.cluster_ids.clone())),
            ("package_pins", Value::List(served.package_pins.clone())),
            ("roles", Value::List(vec![self.role.into()])),
            ("tools", Value::Map(served.tools.clone())),
            ("ip_detect_sha256", s(served.ip_detect_sha256.clone())),
            ("bin", s(self.path("tools"))),
            ("ip_detect", s(self.path("ip-detect"))),
            ("root", s(self.host.root().display().to_string())),
            ("config_dir", s(self.host.config().display().to_string())),
            ("systemd_dir", s(self.host.systemd().display().to_string())),
            ("state_dir_root", s(self.host.state().display().to_string())),
            ("user_db_root", s(self.host.user_db().display().to_string())),
        ])
    }

    fn pkg_activate(&self, args: &[&str]) -> Run {
        self.host
            .pkg_activate(&tool("pkg-activate"))
            .args(args)
            .run()
    }

    /// The host runs exactly the served packages in its role.
    fn assert_installed(&self, served: &Served) {
        // Through pkg_activate: with --root alone, the recovery `active`
        // starts with would sync units into the machine's own
        // /etc/systemd/system.
        let mut active = self.pkg_activate(&["active"]).success().lines();
        active.sort();
        assert_eq!(active, served.wanted());
        // The recipe recorded the cluster's package set: nothing active
        // outside it (docs/emergency.md).
        let status = self
            .pkg_activate(&["status", "--json"])
            .success()
            .stdout_json();
        assert_eq!(status["cluster_set"], true, "{status}");
        assert_eq!(status["overrides"], serde_json::json!([]), "{status}");
        let roles = self.host.config().join("roles");
        let roles: Vec<String> = std::fs::read_dir(roles)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(roles, [self.role]);
        let ip = std::fs::read_to_string(self.host.config().join("setup-flags/detected-ip"));
        assert_eq!(ip.unwrap().trim_end(), HOST_IP);
        // The greeter package's unit is master-only (dcos.target.wants_master).
        let unit = self.host.systemd().join("dcos-greeter.service");
        assert_eq!(unit.is_file(), self.role == "master", "{}", unit.display());
    }
}

enum Value {
    Str(String),
    List(Vec<String>),
    Map(BTreeMap<String, String>),
}

impl Value {
    fn json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => s.clone().into(),
            Value::List(l) => l.clone().into(),
            Value::Map(m) => serde_json::to_value(m).unwrap(),
        }
    }

    fn puppet(&self) -> String {
        match self {
            Value::Str(s) => format!("'{s}'"),
            Value::List(l) => {
                let items: Vec<String> = l.iter().map(|s| format!("'{s}'")).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Map(m) => {
                let items: Vec<String> = m.iter().map(|(k, v)| format!("'{k}' => '{v}'")).collect();
                format!("{{{}}}", items.join(", "))
            }
        }
    }

    /// As the Chef recipe sees it after `.join(' ')`.
    fn words(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::List(l) => l.join(" "),
            Value::Map(_) => panic!("a map attribute is not in the documented parse"),
        }
    }
}

fn integration(path: &str) -> PathBuf {
    repo_root().join("scripts/integrations").join(path)
}

fn require_tool(tool: &str) {
    crate::workspace::require_tool(tool, "`apt-get install ansible-core puppet` (.ci/run does)");
}

#[test]
fn ansible_playbook_installs_two_hosts_then_reports_no_change() {
    require_tool("ansible-playbook");
    let served = served();
    // Two hosts of one inventory, each its own root (connection local).
    let hosts = [
        ("master-1", Managed::new("master")),
        ("agent-1", Managed::new("slave")),
    ];
    let mut inventory = serde_json::Map::new();
    for (name, host) in &hosts {
        let mut vars = serde_json::Map::new();
        for (key, value) in host.attributes(&served) {
            vars.insert(format!("tarmac_{key}"), value.json());
        }
        vars.insert(
            "tarmac_ip_detect_args".into(),
            vec!["--no-require-local"].into(),
        );
        vars.insert("tarmac_no_systemd".into(), true.into());
        vars.insert("ansible_connection".into(), "local".into());
        vars.insert(
            "ansible_python_interpreter".into(),
            "/usr/bin/python3".into(),
        );
        inventory.insert(name.to_string(), vars.into());
    }
    let work = tempfile::tempdir().unwrap();
    let inventory_file = work.path().join("inventory.json");
    let inventory = serde_json::json!({ "all": { "hosts": inventory } });
    std::fs::write(&inventory_file, inventory.to_string()).unwrap();

    // The recap line of each host.
    let play = || -> Vec<String> {
        let ansible = work.path().join("ansible");
        let output = run(Command::new("ansible-playbook")
            .arg("-i")
            .arg(&inventory_file)
            .arg(integration("ansible/tarmac-host.yml"))
            .env("ANSIBLE_HOME", &ansible)
            .env("ANSIBLE_LOCAL_TEMP", ansible.join("tmp"))
            .env("ANSIBLE_REMOTE_TEMP", ansible.join("tmp"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0"));
        let stdout = &output.success().stdout;
        hosts
            .iter()
            .map(|(name, _)| {
                let recap = stdout
                    .lines()
                    .find(|line| line.starts_with(&format!("{name} ")) && line.contains("changed="))
                    .unwrap_or_else(|| panic!("no recap for {name} in\n{stdout}"))
                    .to_string();
                assert!(recap.contains("failed=0"), "{recap}");
                recap
            })
            .collect()
    };
    for recap in play() {
        assert!(
            !recap.contains("changed=0 "),
            "first run changed nothing: {recap}"
        );
    }
    for (_, host) in &hosts {
        host.assert_installed(&served);
    }
    served.assert_served_by_the_mirror();
    let requests = served.requests();
    assert!(requests.1 > 0, "no package downloaded: {requests:?}");
    for recap in play() {
        assert!(recap.contains("changed=0 "), "second run: {recap}");
    }
    assert_eq!(
        served.requests(),
        requests,
        "the second run made HTTP requests"
    );
    for (_, host) in &hosts {
        host.assert_installed(&served);
    }
}

#[test]
fn puppet_manifest_installs_upgrades_then_reports_no_change() {
    require_tool("puppet");
    let served = served();
    let host = Managed::new("master");
    let puppet = host.path("puppet");
    // `puppet apply --detailed-exitcodes` of the class for a serve tree:
    // 2 = changes applied, 0 = nothing to change.
    let apply = |served: &Served| -> i32 {
        let mut params: Vec<String> = host
            .attributes(served)
            .iter()
            .map(|(key, value)| format!("{key} => {}", value.puppet()))
            .collect();
        params.push("ip_detect_args => '--no-require-local'".into());
        params.push("no_systemd => true".into());
        let class = format!("class {{ 'tarmac': {} }}", params.join(", "));
        let output = Command::new("puppet")
            .arg("apply")
            .arg("--modulepath")
            .arg(integration("puppet/modules"))
            .args(["--confdir", &puppet])
            .args(["--vardir", &format!("{puppet}/var")])
            .args(["--codedir", &format!("{puppet}/code")])
            .args(["--logdir", &format!("{puppet}/log")])
            .args(["--rundir", &format!("{puppet}/run")])
            .args(["--color", "false", "--detailed-exitcodes", "-e", &class])
            .run();
        let code = output.code;
        assert!(code == 0 || code == 2, "puppet apply: {output}");
        code
    };
    assert_eq!(apply(&served), 2);
    host.assert_installed(&served);
    served.assert_served_by_the_mirror();
    let requests = served.requests();
    assert!(requests.1 > 0, "no package downloaded: {requests:?}");
    assert_eq!(apply(&served), 0);
    assert_eq!(
        served.requests(),
        requests,
        "the second run made HTTP requests"
    );
    host.assert_installed(&served);

    // Upgrade: a serve tree where libgreet changed (so greeter, which
    // requires it, too). The guards see new ids: extract and activate.
    let upgraded = served_with(|packages| {
        let script = packages.join("libgreet/extra/greet.sh");
        let mut text = std::fs::read_to_string(&script).unwrap();
        text.push_str("# upgraded\n");
        std::fs::write(&script, text).unwrap();
    });
    assert_ne!(upgraded.bootstrap_id, served.bootstrap_id);
    assert_eq!(apply(&upgraded), 2);
    host.assert_installed(&upgraded);
    let requests = upgraded.requests();
    assert_eq!(apply(&upgraded), 0);
    assert_eq!(
        upgraded.requests(),
        requests,
        "the second run made HTTP requests"
    );
    host.assert_installed(&upgraded);
}

/// One `execute` resource of the Chef recipe, interpolated.
#[derive(Debug)]
struct Execute {
    title: String,
    command: String,
    creates: Option<String>,
    not_if: Option<String>,
}

/// Reads a Ruby double-quoted string literal at the start of `text` and
/// interpolates `#{NAME}` from `vars`. Only `\"` and `\\` escapes.
fn ruby_string(text: &str, vars: &BTreeMap<String, String>) -> String {
    let body = text.strip_prefix('"').expect("a double-quoted string");
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                assert_eq!(chars.as_str().trim(), "", "text after the string: {text}");
                return out;
            }
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\')) => out.push(e),
                other => panic!("escape \\{other:?} not in the documented parse: {text}"),
            },
            '#' if chars.as_str().starts_with('{') => {
                let rest = &chars.as_str()[1..];
                let end = rest.find('}').expect("closing }");
                let name = &rest[..end];
                let value = vars
                    .get(name)
                    .unwrap_or_else(|| panic!("#{{{name}}}: not a recipe variable"));
                out.push_str(value);
                chars = rest[end + 1..].chars();
            }
            c => out.push(c),
        }
    }
    panic!("unterminated string: {text}");
}

/// The documented parse of scripts/integrations/chef/tarmac/recipes/default.rb
/// (see its header): variables from node attributes or interpolated strings,
/// then each `execute` block's command and guards.
fn parse_recipe(recipe: &str, attributes: &BTreeMap<&str, Value>) -> Vec<Execute> {
    let mut vars = BTreeMap::new();
    let mut executes = Vec::new();
    let mut current: Option<Execute> = None;
    for line in recipe.lines().map(str::trim) {
        if let Some(execute) = current.as_mut() {
            if line == "end" {
                executes.push(current.take().unwrap());
            } else if let Some(rest) = line.strip_prefix("command ") {
                execute.command = ruby_string(rest, &vars);
            } else if let Some(rest) = line.strip_prefix("creates ") {
                execute.creates = Some(ruby_string(rest, &vars));
            } else if let Some(rest) = line.strip_prefix("not_if ") {
                execute.not_if = Some(ruby_string(rest, &vars));
            } else if line.starts_with("only_if") {
                panic!("only_if is not in the documented parse: {line}");
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("execute '") {
            let title = rest.strip_suffix("' do").expect("execute 'TITLE' do");
            current = Some(Execute {
                title: title.to_string(),
                command: String::new(),
                creates: None,
                not_if: None,
            });
        } else if let Some((name, value)) = line.split_once(" = ") {
            if name.contains(' ') || name.starts_with('#') {
                continue;
            }
            let value = if let Some(key) = value.strip_prefix("node['tarmac']['") {
                let key = key
                    .strip_suffix("'].join(' ')")
                    .or_else(|| key.strip_suffix("']"))
                    .unwrap_or_else(|| panic!("not in the documented parse: {line}"));
                attributes
                    .get(key)
                    .map(Value::words)
                    .unwrap_or_else(|| panic!("{key}: no attribute given"))
            } else {
                ruby_string(value, &vars)
            };
            vars.insert(name.to_string(), value);
        }
    }
    assert!(current.is_none(), "unterminated execute block");
    executes
}

/// Cross-checks the documented parse against Ruby itself: evaluates the
/// recipe with a stub of Chef's DSL (`node` from the attributes, `execute`
/// records its block's properties; other resources are no-ops) and compares
/// every command and guard string.
fn assert_parse_matches_ruby(
    recipe: &str,
    attributes: &BTreeMap<&str, Value>,
    executes: &[Execute],
) {
    require_tool("ruby");
    let dir = tempfile::tempdir().unwrap();
    let attrs: serde_json::Map<String, serde_json::Value> = attributes
        .iter()
        .map(|(k, v)| (k.to_string(), v.json()))
        .collect();
    std::fs::write(
        dir.path().join("attributes.json"),
        serde_json::to_vec(&attrs).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("recipe.rb"), recipe).unwrap();
    let stub = r#"
require 'json'
ATTRS = JSON.parse(File.read(ARGV[1]))
class Props
  attr_reader :props
  def initialize; @props = {}; end
  def method_missing(name, *args); @props[name.to_s] = args.first; end
  def respond_to_missing?(*) = true
end
$executes = []
def node = { 'tarmac' => ATTRS }
def execute(title, &block)
  r = Props.new
  r.instance_eval(&block)
  $executes << { 'title' => title }.merge(r.props)
end
def directory(*) = nil
def file(*) = nil
def remote_file(*) = nil
eval(File.read(ARGV[0]), binding, ARGV[0])
puts JSON.generate($executes)
"#;
    std::fs::write(dir.path().join("stub.rb"), stub).unwrap();
    let output = run(Command::new("ruby").current_dir(dir.path()).args([
        "stub.rb",
        "recipe.rb",
        "attributes.json",
    ]));
    let ruby: Vec<serde_json::Value> = serde_json::from_str(&output.success().stdout).unwrap();
    assert_eq!(ruby.len(), executes.len());
    for (ruby, ours) in ruby.iter().zip(executes) {
        assert_eq!(ruby["title"], ours.title.as_str());
        assert_eq!(ruby["command"], ours.command.as_str(), "{}", ours.title);
        assert_eq!(
            ruby["creates"].as_str(),
            ours.creates.as_deref(),
            "{}",
            ours.title
        );
        assert_eq!(
            ruby["not_if"].as_str(),
            ours.not_if.as_deref(),
            "{}",
            ours.title
        );
    }
}

/// Runs a guard as Chef does (`/bin/sh -c`): true when the step is done.
fn guard_holds(execute: &Execute) -> bool {
    if let Some(path) = &execute.creates {
        return Path::new(path).exists();
    }
    let not_if = execute.not_if.as_ref().unwrap();
    Command::new("sh")
        .args(["-c", not_if])
        .run()
        .status
        .success()
}

#[test]
fn chef_recipe_commands_and_guards_work_against_the_tools() {
    let recipe = std::fs::read_to_string(integration("chef/tarmac/recipes/default.rb")).unwrap();
    let served = served();
    let host = Managed::new("master");
    let mut attributes = host.attributes(&served);
    attributes.insert("ip_detect_args", Value::Str("--no-require-local".into()));
    attributes.insert("activate_flags", Value::Str("--no-systemd".into()));
    every_attribute_has_a_default(&attributes);
    let executes = parse_recipe(&recipe, &attributes);
    assert_parse_matches_ruby(&recipe, &attributes, &executes);
    the_recipe_has_four_commands(&executes);
    chef_resources_by_hand(&recipe, &host, &served);
    each_command_runs_once_its_guard_is_false(&executes);
    a_second_run_does_nothing(&executes, &host, &served);
    a_wrong_pin_stops_the_cluster_packages(&recipe, &host, &served);
}

/// Every attribute the recipe reads has a default in attributes/default.rb.
fn every_attribute_has_a_default(attributes: &BTreeMap<&'static str, Value>) {
    let defaults =
        std::fs::read_to_string(integration("chef/tarmac/attributes/default.rb")).unwrap();
    for key in attributes.keys() {
        assert!(
            defaults.contains(&format!("default['tarmac']['{key}']")),
            "{key}: no default"
        );
    }
}

/// The recipe's execute resources, in order.
fn the_recipe_has_four_commands(executes: &[Execute]) {
    let titles: Vec<&str> = executes.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "tarmac ip-detect",
            "tarmac extract bundle",
            "tarmac extract cluster packages",
            "tarmac activate"
        ]
    );
}

/// Chef's own remote_file, directory and file resources of the recipe,
/// done by hand: download each tool and ip-detect, check the sha256; the
/// role and the cluster's package set.
fn chef_resources_by_hand(recipe: &str, host: &Managed, served: &Served) {
    assert!(recipe.contains("remote_file \"#{bin}/#{tool}\""));
    assert!(recipe.contains(
        "source(*(node['tarmac']['mirrors'] + [bootstrap_url]).map { |url| \"#{url}/bin/#{tool}\" })"
    ));
    assert!(recipe.contains("remote_file \"#{bin}/ip-detect\""));
    let tools = host.host.base().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    let mut files: Vec<(String, String)> = served
        .tools
        .iter()
        .map(|(name, sha)| (format!("bin/{name}"), sha.clone()))
        .collect();
    files.push(("ip-detect".into(), served.ip_detect_sha256.clone()));
    for (path, sha256) in files {
        let name = path.rsplit('/').next().unwrap();
        let dest = tools.join(name);
        // remote_file with several sources: the first that serves it.
        let fetched = [&served.dead, &served.mirror.url(), &served.nginx.url()]
            .iter()
            .any(|url| {
                Command::new("curl")
                    .args(["-fsS", "-o"])
                    .arg(&dest)
                    .arg(format!("{url}/{path}"))
                    .status()
                    .unwrap()
                    .success()
            });
        assert!(fetched, "{path}");
        let sum = ok(Command::new("sha256sum").arg(&dest));
        assert!(sum.starts_with(&sha256));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert!(recipe.contains("directory \"#{config_dir}/roles\""));
    assert!(recipe.contains("file \"#{config_dir}/roles/#{role}\""));
    let roles = host.host.config().join("roles");
    std::fs::create_dir_all(&roles).unwrap();
    std::fs::create_dir_all(host.host.config().join("setup-flags")).unwrap();
    std::fs::write(roles.join("master"), "").unwrap();
    assert!(recipe.contains("file \"#{config_dir}/setup-flags/cluster-package-ids\""));
    let set: String = served.wanted().iter().map(|id| format!("{id}\n")).collect();
    std::fs::write(
        host.host.config().join("setup-flags/cluster-package-ids"),
        set,
    )
    .unwrap();
}

/// First run: each guard is false, the command succeeds, then the guard
/// holds (so a second chef-client run skips it).
fn each_command_runs_once_its_guard_is_false(executes: &[Execute]) {
    for execute in executes {
        assert!(execute.creates.is_some() || execute.not_if.is_some());
        assert!(
            !guard_holds(execute),
            "{}: guard true on a fresh host",
            execute.title
        );
        let output = Command::new("sh").args(["-c", &execute.command]).run();
        assert!(
            output.status.success(),
            "{}: {}: {}",
            execute.title,
            execute.command,
            output.stderr
        );
        assert!(
            guard_holds(execute),
            "{}: guard false after it ran",
            execute.title
        );
    }
}

/// The host is installed, from the mirror; a second run: nothing to do.
fn a_second_run_does_nothing(executes: &[Execute], host: &Managed, served: &Served) {
    host.assert_installed(served);
    served.assert_served_by_the_mirror();
    let requests = served.requests();
    assert!(requests.1 > 0, "no package downloaded: {requests:?}");
    // Second run: nothing to do.
    for execute in executes {
        assert!(guard_holds(execute), "{}", execute.title);
    }
    assert_eq!(served.requests(), requests, "a guard made HTTP requests");
}

/// A wrong pin for the config packages: the cluster packages command
/// fails (4, every mirror serves another tree hash), nothing extracted.
/// On another fresh host, with the tools the first one downloaded. Only
/// live mirrors: a dead one might still serve the pinned package once
/// back, so with it in the list the verdict is 75 (run again), not 4.
fn a_wrong_pin_stops_the_cluster_packages(recipe: &str, host: &Managed, served: &Served) {
    let other = Managed::new("slave");
    let mut forged = other.attributes(served);
    forged.insert("bin", Value::Str(host.path("tools")));
    forged.insert("mirrors", Value::List(vec![served.mirror.url()]));
    let pins: Vec<String> = served
        .package_pins
        .iter()
        .map(|pin| match pin.split_once('=') {
            Some((id, _)) if served.cluster_ids.iter().any(|c| c == id) => {
                format!("{id}={}", "0".repeat(64))
            }
            _ => pin.clone(),
        })
        .collect();
    assert_ne!(pins, served.package_pins);
    forged.insert("package_pins", Value::List(pins));
    forged.insert("ip_detect_args", Value::Str(String::new()));
    forged.insert("activate_flags", Value::Str(String::new()));
    let cluster = parse_recipe(recipe, &forged)
        .into_iter()
        .find(|e| e.title == "tarmac extract cluster packages")
        .unwrap();
    let output = Command::new("sh").args(["-c", &cluster.command]).run();
    assert_eq!(output.status.code(), Some(4), "{}", cluster.command);
    output.stderr_contains("is not the pinned one");
    assert!(!other
        .host
        .root()
        .join("packages")
        .join(&served.cluster_ids[0])
        .exists());
}
