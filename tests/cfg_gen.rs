//! cfg-gen: the real binary on the repository's example genconf and on
//! broken copies of it; a real (small) bundle and repository built with the
//! archive crate's writer.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tarmac_archive::WriteOptions;
use tarmac_model::{PackageId, PackageManifest};
use tarmac_testkit::cmd::{Run, Runs};
use tarmac_testkit::host::Host;
use tarmac_testkit::nginx::Nginx;
use tarmac_testkit::tree::copy_tree;

const BIN: &str = env!("CARGO_BIN_EXE_cfg-gen");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A temp dir with a copy of the example genconf and a dist/repository
/// holding a two-package bundle, plus a bin dir of fake host tools.
struct Fixture {
    dir: tempfile::TempDir,
}

/// Writes a package tree of `files` under `work/<id>/`.
fn package_tree(work: &Path, id: &str, files: &[(&str, &str)]) -> (PackageId, PathBuf) {
    let id = PackageId::parse(id).unwrap();
    let tree = work.join(id.to_string());
    for (path, content) in files {
        let path = tree.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
    }
    (id, tree)
}

/// The unit files of [`Fixture::with_units`]'s packages.
const MESOS_UNIT: &str = "[Unit]\nDescription=mesos\n[Service]\nExecStart=/bin/true\n";
const EXHIBITOR_UNIT: &str = "[Unit]\nDescription=exhibitor\n[Service]\nExecStart=/bin/true\n";

impl Fixture {
    fn new() -> Fixture {
        Fixture::build(false)
    }

    /// Like [`Fixture::new`], but each bundle package ships a unit in
    /// `dcos.target.wants/`: dcos-mesos.service, dcos-exhibitor.service.
    fn with_units() -> Fixture {
        Fixture::build(true)
    }

    fn build(units: bool) -> Fixture {
        let fixture = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        copy_tree(&Path::new(REPO).join("genconf"), &fixture.genconf());
        // A serve tree left in the checkout is output, not input.
        let _ = fs::remove_dir_all(fixture.serve());
        let work = fixture.path().join("work");
        let dist = fixture.dist();
        let mut mesos = vec![("pkginfo.json", "{}"), ("bin/mesos", "#!/bin/sh\n")];
        let mut exhibitor = vec![("pkginfo.json", "{}"), ("lib/e.jar", "jar")];
        if units {
            mesos.push(("dcos.target.wants/dcos-mesos.service", MESOS_UNIT));
            exhibitor.push(("dcos.target.wants/dcos-exhibitor.service", EXHIBITOR_UNIT));
        }
        let packages = [
            package_tree(&work, "mesos--1.0", &mesos),
            package_tree(&work, "exhibitor--2.0", &exhibitor),
        ];
        tarmac_testkit::repo::write_dist(&dist, &packages);
        let bin = fixture.bin();
        fs::create_dir_all(&bin).unwrap();
        for tool in ["host-extract", "ip-detect-run", "pkg-activate"] {
            fs::write(bin.join(tool), format!("#!/bin/sh\necho {tool}\n")).unwrap();
            fs::set_permissions(bin.join(tool), fs::Permissions::from_mode(0o755)).unwrap();
        }
        fixture
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn genconf(&self) -> PathBuf {
        self.path().join("genconf")
    }
    fn dist(&self) -> PathBuf {
        self.path().join("dist")
    }
    fn bin(&self) -> PathBuf {
        self.path().join("tools")
    }
    fn serve(&self) -> PathBuf {
        self.genconf().join("serve")
    }

    fn set_config(&self, text: &str) {
        fs::write(self.genconf().join("config.yaml"), text).unwrap();
    }

    fn run(&self, extra: &[&str]) -> Run {
        Command::new(BIN)
            .current_dir(self.path())
            .args(["--genconf", "genconf"])
            .args(extra)
            .run()
    }

    fn generate(&self) -> Run {
        self.run(&["--dist", "dist", "--bin-dir", "tools"])
    }
}

const BASE: &str = "bootstrap_url: http://192.0.2.10:8080
cluster_name: test
master_discovery: static
exhibitor_storage_backend: static
master_list: [192.0.2.11]
resolvers: [8.8.8.8]
";

#[test]
fn example_genconf_generates_a_serve_tree() {
    let fixture = Fixture::new();
    let output = fixture.generate();
    output.code(0);
    let ids = output.stdout;
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids[0].starts_with("dcos-config--setup_"));
    assert!(ids[1].starts_with("dcos-metadata--setup_"));

    let serve = fixture.serve();
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(serve.join("config.json")).unwrap()).unwrap();
    let config_id = config["config_id"].as_str().unwrap();
    assert!(ids[0].ends_with(config_id));
    let values = &config["values"];
    assert_eq!(values["master_quorum"]["value"], "2");
    assert_eq!(values["master_quorum"]["source"], "computed");
    assert_eq!(values["telemetry_enabled"]["value"], "false");
    assert_eq!(values["telemetry_enabled"]["source"], "user");
    assert_eq!(values["check_time"]["value"], "true");
    assert_eq!(values["enable_ipv6"]["source"], "default");
    assert_eq!(
        values["exhibitor_static_ensemble"]["value"],
        "1:192.0.2.11,2:192.0.2.12,3:192.0.2.13"
    );
    assert_eq!(
        values["master_list"]["value"],
        r#"["192.0.2.11", "192.0.2.12", "192.0.2.13"]"#
    );

    // Bundle, active list and bundle packages are served.
    let bid = values["bootstrap_id"]["value"].as_str().unwrap();
    assert!(serve
        .join(format!("bootstrap/{bid}.bootstrap.tar.zst"))
        .is_file());
    assert!(serve.join(format!("bootstrap/{bid}.active.json")).is_file());
    assert!(serve.join("packages/mesos/mesos--1.0.tar.zst").is_file());
    assert!(serve.join("packages/mesos/mesos--1.0.json").is_file());

    // Config packages: real archives with manifests and rendered files.
    let id = ids[0];
    let archive = serve.join(format!("packages/dcos-config/{id}.tar.zst"));
    let manifest: PackageManifest = serde_json::from_slice(
        &fs::read(serve.join(format!("packages/dcos-config/{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest.id.to_string(), id);
    let root = fixture.path().join("extracted");
    fs::create_dir_all(&root).unwrap();
    let status = Command::new("tar")
        .args(["--zstd", "-xf"])
        .arg(&archive)
        .arg("-C")
        .arg(&root)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        tarmac_archive::tree_hash(&root).unwrap().hash,
        manifest.tree_hash
    );
    assert_eq!(
        fs::read_to_string(root.join("etc_master/mesos-master")).unwrap(),
        "MESOS_QUORUM=2\nMESOS_CLUSTER=tarmac-example\nMESOS_PORT=5050\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/dns_config")).unwrap(),
        "MASTER_SOURCE=master_list\nRESOLVERS=8.8.8.8,8.8.4.4:53\nSEARCH=example.com corp.example.com\n"
    );
    let detect = root.join("bin/detect_ip");
    assert_eq!(
        fs::read(&detect).unwrap(),
        fs::read(fixture.genconf().join("ip-detect")).unwrap()
    );
    assert_eq!(
        fs::metadata(&detect).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        fs::read_to_string(root.join("pkginfo.json")).unwrap(),
        "{}\n"
    );

    // cluster-packages.json, bin/ with sums, the install script.
    let cluster: serde_json::Value =
        serde_json::from_slice(&fs::read(serve.join("cluster-packages.json")).unwrap()).unwrap();
    assert_eq!(cluster["dcos-config"]["id"], id);
    let sums = fs::read_to_string(serve.join("bin/SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 3);
    assert!(sums.contains("  pkg-activate\n"));
    let script = fs::read_to_string(serve.join("dcos_install.sh")).unwrap();
    assert!(script.contains(&format!("BOOTSTRAP_ID='{bid}'")));
    assert!(script.contains(&format!("CONFIG_ID='{config_id}'")));
    let blake3 =
        blake3::hash(&fs::read(serve.join(format!("bootstrap/{bid}.bootstrap.tar.zst"))).unwrap());
    assert!(script.contains(&format!("BUNDLE_BLAKE3='{}'", blake3.to_hex())));
    assert!(!script.contains("{{"));
}

/// Every file under `dir` with its bytes, sorted.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    fs::read(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn same_input_same_bytes_and_a_change_changes_the_id() {
    let fixture = Fixture::new();
    assert!(fixture.generate().status.success());
    let first = snapshot(&fixture.serve());
    let output = fixture.generate();
    assert!(output.status.success());
    assert_eq!(
        first,
        snapshot(&fixture.serve()),
        "output bytes differ between runs"
    );
    let first_ids = output.stdout;

    let text = fs::read_to_string(fixture.genconf().join("config.yaml")).unwrap();
    fixture.set_config(&text.replace("cluster_name: tarmac-example", "cluster_name: other"));
    let output = fixture.generate();
    assert!(output.status.success());
    assert_ne!(first_ids, output.stdout);
    // No staging or aside directories are left next to serve/ (the lock
    // file stays, like every tarmac lock).
    let leftovers = || -> Vec<String> {
        fs::read_dir(fixture.genconf())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') && n != ".serve.lock")
            .collect()
    };
    assert!(leftovers().is_empty(), "{:?}", leftovers());
    // What a crashed run left is cleaned by the next run.
    fs::create_dir_all(fixture.genconf().join(".serve.tmp.99999/bootstrap")).unwrap();
    fs::create_dir_all(fixture.genconf().join(".serve.old.99999")).unwrap();
    assert!(fixture.generate().status.success());
    assert!(leftovers().is_empty(), "{:?}", leftovers());
    // A concurrent run is refused (exit 5) while the lock is held.
    let _lock = tarmac_fs::HostLock::acquire(
        &fixture.genconf().join(".serve.lock"),
        tarmac_fs::LockWait::NoWait,
    )
    .unwrap();
    let output = fixture.generate();
    output.code(5);
    output.stderr_contains("another cfg-gen is writing");
}

#[test]
fn every_problem_is_reported_at_once() {
    let fixture = Fixture::new();
    fixture.set_config(
        "bootstrap_url: http://192.0.2.10:8080/
cluster_name: test
master_discovery: static
exhibitor_storage_backend: static
master_list: [192.0.2.11, 192.0.2.12, 192.0.2.300]
agent_list: [192.0.2.11]
resolvers: {a: 1}
master_lst: []
oauth_enabled: maybe
master_quorum: 2
dns_search: a.com
dns_search: b.com
exhibitor_zk_hosts: 10.0.0.1:2181
ip_detect_filename: genconf/missing
",
    );
    let output = fixture.run(&["--validate-only"]);
    output.code(3);
    let text = output.stderr.as_str();
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("cfg-gen: error: genconf/config.yaml: "),
        "{first}"
    );
    for expected in [
        "genconf/config.yaml:1: bootstrap_url = http://192.0.2.10:8080/: Must not end in a '/'",
        "genconf/config.yaml:5: master_list = [\"192.0.2.11\", \"192.0.2.12\", \"192.0.2.300\"]: Invalid IPv4 addresses in list: 192.0.2.300",
        "genconf/config.yaml:7: resolvers = {\"a\": 1}: must be a list, got a map",
        "genconf/config.yaml:8: master_lst = []: unknown key (did you mean 'master_list'?)",
        "genconf/config.yaml:9: oauth_enabled = maybe: Must be one of 'true', 'false'. Got 'maybe'.",
        "genconf/config.yaml:10: master_quorum = 2: is computed by cfg-gen",
        "genconf/config.yaml:12: dns_search: key 'dns_search' appears twice",
        "ip_detect_filename = genconf/missing: ip-detect script",
        // A key of another switch case is a warning (gen ignores it), even
        // in a run that fails.
        "cfg-gen: warning: genconf/config.yaml:13: exhibitor_zk_hosts = 10.0.0.1:2181: only used when exhibitor_storage_backend is zookeeper",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let output = fixture.run(&["--validate-only", "--json"]);
    assert_eq!(output.status.code(), Some(3));
    let report: serde_json::Value = output.stdout_json();
    assert_eq!(report["valid"], false);
    crate::workspace::assert_documented("cfg-gen --validate-only", &report);
    let problems = report["problems"].as_array().unwrap();
    assert!(problems.len() >= 8, "{problems:?}");
    assert!(problems.iter().all(|p| p["key"] != "exhibitor_zk_hosts"));
    assert_eq!(report["warnings"][0]["key"], "exhibitor_zk_hosts");
    assert_eq!(report["warnings"][0]["line"], 13);
    let resolvers = problems.iter().find(|p| p["key"] == "resolvers").unwrap();
    assert_eq!(resolvers["line"], 7);
    assert_eq!(resolvers["value"], r#"{"a": 1}"#);
}

#[test]
fn validation_cases() {
    let fixture = Fixture::new();
    let cases: &[(&str, &str, &str)] = &[
        // (config.yaml, key, reason fragment)
        (
            "bootstrap_url: example.com\n",
            "bootstrap_url",
            "Must be a URL",
        ),
        (
            "master_list: [192.0.2.11, 192.0.2.12]\n",
            "num_masters",
            "Must have 1, 3, 5, 7, or 9 masters. Found 2",
        ),
        (
            "master_list: [192.0.2.11, 192.0.2.11, 192.0.2.12]\n",
            "master_list",
            "List cannot contain duplicates: 192.0.2.11 appears 2 times",
        ),
        (
            "agent_list: [192.0.2.21]\npublic_agent_list: [192.0.2.21]\n",
            "public_agent_list",
            "duplicate hosts: 192.0.2.21 is also in agent_list",
        ),
        (
            "master_discovery: dns\n",
            "master_discovery",
            "Must be one of 'static', 'master_http_loadbalancer'",
        ),
        (
            "cluster_name: {a: b}\n",
            "cluster_name",
            "must be a string, got a map",
        ),
        ("cluster_name: ~\n", "cluster_name", "has no value (null)"),
        (
            "dns_search: 'a.com,b.com'\n",
            "dns_search",
            "Commas are not allowed",
        ),
        (
            "resolvers: [198.51.100.1]\n",
            "resolvers",
            "Spartan addresses",
        ),
        ("calico_vxlan_vni: 1024\n", "calico_vxlan_vni", "conflicts"),
        (
            "mesos_container_log_sink: syslog\n",
            "mesos_container_log_sink",
            "Container logs must go to",
        ),
        (
            "adminrouter_grpc_proxy_port: 70000\n",
            "adminrouter_grpc_proxy_port",
            "Must be between 1 and 65535",
        ),
        (
            "oauth_enabled: 'yes'\n",
            "oauth_enabled",
            "Must be one of 'true', 'false'. Got 'yes'.",
        ),
        (
            "num_masters: 3\n",
            "num_masters",
            "is computed by cfg-gen when master_discovery is 'static'",
        ),
        (
            "rexray_config_preset: aws\nrexray_config: {a: 1}\n",
            "rexray_config",
            "is computed by cfg-gen when rexray_config_preset is 'aws'",
        ),
        (
            "dcos_overlay_network_default_name: nope\n",
            "dcos_overlay_network_default_name",
            "does not reference a defined overlay",
        ),
        (
            "calico_network_cidr: 9.1.0.0/16\n",
            "calico_network_cidr",
            "overlaps calico network",
        ),
        (
            "mesos_default_container_shm_size: 1.5GB\n",
            "mesos_default_container_shm_size",
            "Fractional bytes",
        ),
        (
            "marathon_new_group_enforce_role: all\n",
            "marathon_new_group_enforce_role",
            "Must be one of 'top', 'off', ''",
        ),
        (
            "bootstrap_mirrors: [http://192.0.2.20, http://192.0.2.21/]\n",
            "bootstrap_mirrors",
            "item 1 (http://192.0.2.21/): Must not end in a '/'",
        ),
        (
            "bootstrap_mirrors: [http://192.0.2.20, http://192.0.2.20]\n",
            "bootstrap_mirrors",
            "item 1 (http://192.0.2.20): the same URL as item 0",
        ),
        (
            "bootstrap_mirrors: [http://192.0.2.20, 'http://192.0.2.10:8080']\n",
            "bootstrap_mirrors",
            "item 1 (http://192.0.2.10:8080) is bootstrap_url, the origin",
        ),
        (
            "bootstrap_mirrors: [mirror.example]\n",
            "bootstrap_mirrors",
            "item 0 (mirror.example): Must be a URL",
        ),
        (
            "bootstrap_mirrors: http://192.0.2.20\n",
            "bootstrap_mirrors",
            "Must be a JSON formatted list",
        ),
        (
            "exhibitor_tls_enabled: 1.5\n",
            "exhibitor_tls_enabled",
            "float",
        ),
        // gen validators added for issue 13.
        (
            "exhibitor_bootstrap_ca_url: https://ca://x\n",
            "exhibitor_bootstrap_ca_url",
            "Failed to determine `exhibitor_bootstrap_ca_url` protocol.",
        ),
        (
            "exhibitor_bootstrap_ca_url: http://ca.example\n",
            "exhibitor_bootstrap_ca_url",
            "Expected `https://`",
        ),
        (
            "mesos_recovery_timeout: 99999999999999999999999hrs\n",
            "mesos_recovery_timeout",
            "not in supported range",
        ),
        (
            "mesos_recovery_timeout: 1.5.2hrs\n",
            "mesos_recovery_timeout",
            "Invalid decimal format.",
        ),
        (
            "superuser_service_account_public_key: |\n  -----BEGIN PUBLIC KEY-----\n  bm90IGEga2V5\n  -----END PUBLIC KEY-----\nsuperuser_service_account_uid: admin\n",
            "superuser_service_account_public_key",
            "must hold an RSA public key encoded in the OpenSSL PEM format",
        ),
        (
            "superuser_service_account_public_key: |\n  -----BEGIN PUBLIC KEY-----\n  MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEms5gQo95VrITSg35xjyHePWYIT4a\n  0uivfgKD4cIIHPgO8wU2hqKHNmoNj7kIMOKVR6eOKRVp0RnnvR8VP44CqQ==\n  -----END PUBLIC KEY-----\nsuperuser_service_account_uid: admin\n",
            "superuser_service_account_public_key",
            "must be of type RSA",
        ),
        (
            &format!("superuser_service_account_public_key: |\n{RSA_KEY}"),
            "superuser_service_account_uid",
            "must both be empty or both be non-empty",
        ),
        ("channel_name: /testing\n", "channel_name", "Must not start with a '/'"),
        ("os_type: ubuntu\n", "os_type", "Must be one of 'coreos', 'el7'"),
        (
            "custom_checks:\n  node_checks:\n    checks:\n      xz: {description: mine, cmd: [xz], timeout: 1s}\n    poststart: [xz]\n",
            "custom_checks",
            "Custom check names conflict with builtin checks. Reserved node check names: xz.",
        ),
        (
            "check_config:\n  node_checks:\n    checks:\n      a: {description: d, cmd: [x], timeout: 1s}\n    prestart: []\n",
            "check_config",
            "All node checks must be referenced in either prestart or poststart",
        ),
        ("ip_detect_contents: ' '\n", "ip_detect_contents", "empty"),
        (
            "agent_role: x\n",
            "agent_role",
            "only by DC/OS's AWS/Azure template builds",
        ),
        ("mesos_hooks: x\n", "mesos_hooks", "is computed by DC/OS's gen"),
    ];
    for (extra, key, reason) in cases {
        // Later keys override BASE by removing its line for the same key.
        let key_name = extra.split(':').next().unwrap();
        let base: String = BASE
            .lines()
            .filter(|l| !l.starts_with(&format!("{key_name}:")))
            .map(|l| format!("{l}\n"))
            .collect();
        fixture.set_config(&format!("{base}{extra}"));
        let output = fixture.run(&["--validate-only", "--json"]);
        assert_eq!(output.status.code(), Some(3), "{extra}: {}", output.stderr);
        let report: serde_json::Value = output.stdout_json();
        let problems = report["problems"].as_array().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p["key"] == *key && p["reason"].as_str().unwrap().contains(reason)),
            "{extra}: expected {key}: {reason}, got {problems:#?}"
        );
    }
}

/// A throwaway RSA key (`openssl genrsa 1024 | openssl rsa -pubout`),
/// indented for a YAML block scalar.
const RSA_KEY: &str = "  -----BEGIN PUBLIC KEY-----
  MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCxDC+1fpYffTZv9njDQ+ac1VuR
  z/Tvta9qiOZY0/SizliAPDg4pVdqPu095hRcvZiR/R8X/SYzaq8zIEZtUo6yLiJN
  ozkHL6DeAlilDc4W5EKyB7nFuLrb77nxUmEahntub6ydaIWP0fdblQcpwpC5127B
  0OBs9cQ4luBpfcur3wIDAQAB
  -----END PUBLIC KEY-----
";

#[test]
fn configs_dcos_2_accepts_are_valid() {
    // Keys valid in DC/OS 2.x that cfg-gen refused before issue 13.
    let fixture = Fixture::new();
    fixture.set_config(&format!(
        "{BASE}platform: onprem
check_config:
  node_checks:
    checks:
      disk: {{description: Disk is fine, cmd: [/bin/true], timeout: 5s, roles: [agent]}}
    poststart: [disk]
custom_checks:
  cluster_checks:
    dns: {{description: DNS resolves, cmd: [host, example.com], timeout: 1.5s}}
cluster_docker_credentials_dcos_owned: false
cluster_docker_credentials:
  auths: {{'https://registry.example': {{auth: c2VjcmV0}}}}
cluster_docker_credentials_write_to_etc: true
cluster_docker_credentials_enabled: true
channel_name: testing/master
os_type: el7
bootstrap_tmp_dir: /var/tmp
exhibitor_bootstrap_ca_url: https://ca.example:8443
mesos_recovery_timeout: 1.5weeks
superuser_service_account_uid: admin
superuser_service_account_public_key: |
{RSA_KEY}"
    ));
    let output = fixture.run(&["--print-config"]);
    output.code(0);
    let config: serde_json::Value = output.stdout_json();
    let value = |key: &str| config["values"][key]["value"].as_str().unwrap().to_string();
    crate::workspace::assert_documented("cfg-gen --print-config", &config);
    let source = |key: &str| {
        config["values"][key]["source"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(value("platform"), "onprem");
    assert_eq!(value("cluster_docker_credentials_dcos_owned"), "false");
    assert_eq!(source("cluster_docker_credentials_dcos_owned"), "user");
    assert_eq!(
        value("cluster_docker_credentials_path"),
        "/etc/mesosphere/docker_credentials"
    );
    assert!(value("check_config").starts_with(r#"{"node_checks": {"checks": {"disk": "#));
    assert!(value("custom_checks").contains(r#""dns": {"description": "DNS resolves""#));
    assert_eq!(value("bootstrap_tmp_dir"), "/var/tmp");

    // Unset, they take gen's defaults: dcos_owned follows the credentials,
    // check_config is gen's built-in set (with the clock check: check_time).
    fixture.set_config(&format!(
        "{BASE}cluster_docker_credentials: {{auths: {{}}}}\nenable_ipv6: false\ndcos_l4lb_enable_ipv6: false\n"
    ));
    let output = fixture.run(&["--print-config"]);
    output.code(0);
    let config: serde_json::Value = output.stdout_json();
    let value = |key: &str| config["values"][key]["value"].as_str().unwrap().to_string();
    assert_eq!(value("cluster_docker_credentials_dcos_owned"), "true");
    assert_eq!(
        value("cluster_docker_credentials_path"),
        "/opt/mesosphere/etc/docker_credentials"
    );
    let checks: serde_json::Value = serde_json::from_str(&value("check_config")).unwrap();
    let poststart = checks["node_checks"]["poststart"].as_array().unwrap();
    assert_eq!(poststart.len(), 13, "{poststart:?}");
    assert_eq!(poststart[6], "docker");
    assert_eq!(poststart[12], "clock_sync");
    assert_eq!(value("custom_checks"), "{}");
    assert_eq!(value("platform"), "onprem");
    // gen's dcos_overlay_network_json: IPv6-only overlays off without IPv6.
    assert!(value("dcos_overlay_network_json").contains(
        r#"{"name": "dcos6", "subnet6": "fd01:b::/64", "prefix6": 80, "enabled": false}"#
    ));
}

#[test]
fn inline_ip_detect_contents_replaces_the_file() {
    let fixture = Fixture::new();
    fs::remove_file(fixture.genconf().join("ip-detect")).unwrap();
    fixture.set_config(&format!(
        "{BASE}ip_detect_contents: |\n  #!/bin/sh\n  echo 192.0.2.99\n"
    ));
    let output = fixture.generate();
    output.code(0);
    let served = fs::read_to_string(fixture.serve().join("ip-detect")).unwrap();
    assert_eq!(served, "#!/bin/sh\necho 192.0.2.99\n");
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(fixture.serve().join("config.json")).unwrap()).unwrap();
    assert_eq!(config["values"]["ip_detect_contents"]["source"], "user");
    assert_eq!(
        config["values"]["ip_detect_public_contents"]["value"],
        "#!/bin/sh\necho 192.0.2.99\n"
    );
}

#[test]
fn keys_gen_ignores_are_warnings_and_strict_makes_them_errors() {
    let fixture = Fixture::new();
    // Line 7: an exhibitor key with the static backend; line 8: a key
    // accepted for DC/OS compatibility that tarmac does not use.
    fixture.set_config(&format!(
        "{BASE}exhibitor_zk_path: /dcos\nssh_user: centos\n"
    ));
    let output = fixture.run(&["--validate-only"]);
    output.code(0);
    let text = output.stderr.as_str();
    for expected in [
        "cfg-gen: warning: genconf/config.yaml:7: exhibitor_zk_path = /dcos: only used when exhibitor_storage_backend is zookeeper; exhibitor_storage_backend is 'static', so it is ignored",
        "cfg-gen: warning: genconf/config.yaml:8: ssh_user = centos: accepted for DC/OS compatibility but has no effect here",
        "is valid (config id",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    let output = fixture.run(&["--validate-only", "--json"]);
    output.code(0);
    let report: serde_json::Value = output.stdout_json();
    assert_eq!(report["valid"], true);
    crate::workspace::assert_documented("cfg-gen --validate-only", &report);
    let warnings = report["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(warnings[0]["key"], "exhibitor_zk_path");
    assert_eq!(warnings[0]["line"], 7);
    assert_eq!(warnings[0]["value"], "/dcos");
    assert_eq!(warnings[1]["key"], "ssh_user");

    // Generation succeeds and reports them too; the ignored key is not part
    // of the configuration.
    let output = fixture.run(&["--dist", "dist", "--bin-dir", "tools", "--json"]);
    output.code(0);
    let generated: serde_json::Value = output.stdout_json();
    assert_eq!(generated["warnings"].as_array().unwrap().len(), 2);
    crate::workspace::assert_documented("cfg-gen", &generated);
    output.stderr_contains("cfg-gen: warning: genconf/config.yaml:7: exhibitor_zk_path");
    let config = fs::read_to_string(fixture.serve().join("config.json")).unwrap();
    assert!(!config.contains("exhibitor_zk_path"));

    // --strict: the same findings are problems, exit 3.
    let output = fixture.run(&["--validate-only", "--strict"]);
    output.code(3);
    output.stderr_contains("cfg-gen: error: genconf/config.yaml: 2 problems");
    output.stderr_contains("  genconf/config.yaml:7: exhibitor_zk_path = /dcos: only used when");
    let output = fixture.run(&["--validate-only", "--strict", "--json"]);
    assert_eq!(output.status.code(), Some(3));
    let report: serde_json::Value = output.stdout_json();
    let keys: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["exhibitor_zk_path", "ssh_user"]);
    assert!(report["problems"][0]["reason"]
        .as_str()
        .unwrap()
        .ends_with("(an error with --strict)"));
    let output = fixture.run(&["--dist", "dist", "--bin-dir", "tools", "--strict"]);
    output.code(3);

    // A template that reads an "unused" key makes it used: no warning.
    fs::write(
        fixture.genconf().join("templates/dcos-config/etc/ssh_user"),
        "{{ ssh_user }}\n",
    )
    .unwrap();
    let output = fixture.run(&["--validate-only", "--strict", "--json"]);
    assert_eq!(output.status.code(), Some(3));
    let report: serde_json::Value = output.stdout_json();
    assert_eq!(report["problems"].as_array().unwrap().len(), 1);
    assert_eq!(report["problems"][0]["key"], "exhibitor_zk_path");

    // num_masters under static discovery stays an error, as in gen ("must be
    // calculated, but was explicitly set").
    fixture.set_config(&format!("{BASE}num_masters: 1\n"));
    let output = fixture.run(&["--validate-only"]);
    output.code(3);
}

#[test]
fn yaml_1_1_booleans_are_read_like_dcos() {
    let fixture = Fixture::new();
    fixture.set_config(&format!(
        "{BASE}oauth_enabled: off\ntelemetry_enabled: YES\ncheck_time: False\nenable_lb: On\n"
    ));
    let output = fixture.run(&["--print-config"]);
    output.code(0);
    let config: serde_json::Value = output.stdout_json();
    let values = &config["values"];
    assert_eq!(values["oauth_enabled"]["value"], "false");
    assert_eq!(values["adminrouter_auth_enabled"]["value"], "false");
    assert_eq!(values["telemetry_enabled"]["value"], "true");
    assert_eq!(values["check_time"]["value"], "false");
    assert_eq!(values["enable_lb"]["value"], "true");
}

#[test]
fn storage_backends_and_discovery() {
    let fixture = Fixture::new();
    let base = "bootstrap_url: file:///opt/dcos_install_tmp\ncluster_name: c\nresolvers: []\n";
    // master_http_loadbalancer needs a non-static backend, exhibitor_address and num_masters.
    fixture.set_config(&format!(
        "{base}master_discovery: master_http_loadbalancer\nexhibitor_storage_backend: zookeeper\nexhibitor_zk_hosts: 10.0.0.1:2181\nexhibitor_zk_path: /dcos\nexhibitor_address: lb.example.com\nnum_masters: 3\n"
    ));
    // The example templates read master_list, which is out of scope here.
    fs::remove_dir_all(fixture.genconf().join("templates")).unwrap();
    let output = fixture.run(&["--print-config"]);
    output.code(0);
    let config: serde_json::Value = output.stdout_json();
    assert_eq!(config["values"]["master_quorum"]["value"], "2");
    assert!(config["values"].get("master_list").is_none());

    for (config, key, reason) in [
        (
            "master_discovery: master_http_loadbalancer\nexhibitor_storage_backend: static\nexhibitor_address: lb\nnum_masters: 3\n",
            "exhibitor_storage_backend",
            "must be non-static",
        ),
        (
            "master_discovery: static\nmaster_list: [10.0.0.1]\nexhibitor_storage_backend: aws_s3\naws_region: us-west-2\ns3_bucket: b\ns3_prefix: p/\nexhibitor_explicit_keys: true\n",
            "s3_prefix",
            "cannot end in a /",
        ),
        (
            "master_discovery: static\nmaster_list: [10.0.0.1]\nexhibitor_storage_backend: aws_s3\naws_region: us-west-2\ns3_bucket: b\ns3_prefix: p\nexhibitor_explicit_keys: true\n",
            "aws_access_key_id",
            "Must set aws_access_key_id",
        ),
        (
            "master_discovery: static\nmaster_list: [10.0.0.1]\nexhibitor_storage_backend: azure\nexhibitor_azure_account_name: n\n",
            "exhibitor_azure_prefix",
            "Must set exhibitor_azure_prefix",
        ),
        (
            "master_discovery: static\nmaster_list: [10.0.0.1]\nexhibitor_storage_backend: zookeeper\nexhibitor_zk_hosts: zk://10.0.0.1:2181\nexhibitor_zk_path: /dcos\n",
            "exhibitor_zk_hosts",
            "not start with zk://",
        ),
    ] {
        fixture.set_config(&format!("{base}{config}"));
        let output = fixture.run(&["--validate-only", "--json"]);
        assert_eq!(output.status.code(), Some(3), "{config}");
        let report: serde_json::Value = output.stdout_json();
        assert!(
            report["problems"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["key"] == key && p["reason"].as_str().unwrap().contains(reason)),
            "{config}: {report:#}"
        );
    }

    // A secret given by the user is hidden in the printed config.
    fixture.set_config(&format!(
        "{base}master_discovery: static\nmaster_list: [10.0.0.1]\nexhibitor_storage_backend: azure\nexhibitor_azure_account_name: n\nexhibitor_azure_prefix: p\nexhibitor_azure_account_key: s3cret\n"
    ));
    let output = fixture.run(&["--print-config"]);
    output.code(0);
    let text = output.stdout;
    assert!(!text.contains("s3cret"));
    assert!(text.contains("**HIDDEN**"));
}

#[test]
fn ip_detect_file_must_exist_and_not_be_empty() {
    let fixture = Fixture::new();
    fs::write(fixture.genconf().join("ip-detect"), "  \n").unwrap();
    let output = fixture.run(&["--validate-only"]);
    assert_eq!(output.status.code(), Some(3));
    output.stderr_contains("ip_detect_filename = genconf/ip-detect: ip-detect script");
    output.stderr_contains("is empty");
}

#[test]
fn template_errors_name_the_file() {
    let fixture = Fixture::new();
    let file = fixture.genconf().join("templates/dcos-config/etc/broken");
    fs::write(&file, "{{ cluster_name }\n").unwrap();
    let output = fixture.run(&["--validate-only"]);
    assert_eq!(output.status.code(), Some(3));
    output.stderr_contains("templates/dcos-config/etc/broken");

    // A variable no key provides becomes a required key.
    fs::write(&file, "{{ my_site_setting }}\n").unwrap();
    let output = fixture.run(&["--validate-only"]);
    assert_eq!(output.status.code(), Some(3));
    output.stderr_contains("my_site_setting: Must set my_site_setting");
    let text = fs::read_to_string(fixture.genconf().join("config.yaml")).unwrap();
    fixture.set_config(&format!("{text}my_site_setting: 42\n"));
    let output = fixture.run(&["--validate-only"]);
    output.code(0);
}

#[test]
fn generation_needs_the_bundle_and_tools() {
    let fixture = Fixture::new();
    let output = fixture.run(&[]);
    assert_eq!(output.status.code(), Some(3));
    output.stderr_contains("--dist");
    let output = fixture.run(&["--dist", "nowhere", "--bin-dir", "tools"]);
    assert_eq!(output.status.code(), Some(3));
    output.stderr_contains("nowhere/bootstrap: no bundle directory");
    fs::remove_file(fixture.bin().join("pkg-activate")).unwrap();
    let output = fixture.generate();
    assert_eq!(output.status.code(), Some(3));
    output.stderr_contains("tools/pkg-activate: host tool missing");
    assert!(!fixture.serve().exists());
}

#[test]
fn generated_install_script_is_shellcheck_clean() {
    let fixture = Fixture::new();
    assert!(fixture.generate().status.success());
    for script in [
        fixture.serve().join("dcos_install.sh"),
        Path::new(REPO).join("scripts/dcos_install.sh"),
    ] {
        crate::workspace::require_tool("shellcheck", "apt-get install shellcheck");
        let output = Command::new("shellcheck").arg(&script).run();
        assert!(
            output.status.success(),
            "{}: {}",
            script.display(),
            output.stdout.as_str()
        );
    }
}

#[test]
fn install_script_preflight_and_roles() {
    let fixture = Fixture::new();
    assert!(fixture.generate().status.success());
    let script = fixture.serve().join("dcos_install.sh");
    let root = fixture.path().join("host");
    let run = |args: &[&str]| {
        Command::new("bash")
            .arg(&script)
            .args(args)
            .env("TARMAC_ROOT", root.join("opt"))
            .env("TARMAC_CONFIG_DIR", root.join("etc"))
            .env("TARMAC_SYSTEMD_DIR", root.join("systemd"))
            .env("TARMAC_TOOLS_DIR", root.join("tools"))
            .env("TARMAC_NO_SYSTEMD", "1")
            .env("TARMAC_MIN_FREE_MB", "1")
            .run()
    };
    let output = run(&["--preflight-only", "master"]);
    output.code(0);
    output.stderr_contains("preflight passed");

    let output = run(&["--preflight-only", "boss"]);
    assert_eq!(output.status.code(), Some(1));
    output.stderr_contains("invalid role 'boss'");

    let output = run(&["--preflight-only", "slave", "slave_public"]);
    assert_eq!(output.status.code(), Some(1));

    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2));

    // An existing foreign install is detected.
    fs::create_dir_all(root.join("opt/packages")).unwrap();
    let output = run(&["--preflight-only", "slave"]);
    assert_eq!(output.status.code(), Some(1));
    output.stderr_contains("is not empty");
    // Nothing was written by a preflight.
    assert!(!root.join("etc").exists());
}

/// The real host tools in `dir/real-tools`, stripped when `strip` exists:
/// debug builds are 30-60 MB each and every install downloads them.
fn real_tools(dir: &Path) -> PathBuf {
    let tools = dir.join("real-tools");
    fs::create_dir_all(&tools).unwrap();
    for (name, exe) in [
        ("host-extract", env!("CARGO_BIN_EXE_host-extract")),
        ("ip-detect-run", env!("CARGO_BIN_EXE_ip-detect-run")),
        ("pkg-activate", env!("CARGO_BIN_EXE_pkg-activate")),
    ] {
        fs::copy(exe, tools.join(name)).unwrap();
        let _ = Command::new("strip").arg(tools.join(name)).status();
    }
    tools
}

/// The generated dcos_install.sh, end to end: nginx serves genconf/serve,
/// the real host tools download, extract and activate into temp roots.
#[test]
fn install_script_end_to_end_against_nginx() {
    let fixture = Fixture::new();
    // A TEST-NET address, accepted with --no-require-local (passed below).
    let nginx = serve_cluster(&fixture);
    let master = fixture.path().join("master");
    let agent = fixture.path().join("agent");
    a_failed_step_is_named_with_how_to_retry(&fixture, &master);
    a_master_installs_and_records_the_cluster_set(&fixture, &nginx, &master);
    a_rerun_after_success_does_nothing(&fixture, &master);
    a_tampered_tool_stops_the_install(&fixture, &agent);
    a_truncated_script_runs_nothing(&fixture);
    an_agent_gets_no_master_only_files(&fixture, &agent);
    an_upgrade_fetches_only_the_new_config(&fixture, &nginx, &master);
}

/// `command` with every TARMAC_* path of a temp host: DC/OS's layout
/// below `host`, the host tools in `tools`.
fn with_host_paths<'c>(command: &'c mut Command, host: &Path, tools: &Path) -> &'c mut Command {
    command
        .env("TARMAC_ROOT", host.join("opt/mesosphere"))
        .env("TARMAC_CONFIG_DIR", host.join("etc/mesosphere"))
        .env("TARMAC_SYSTEMD_DIR", host.join("etc/systemd/system"))
        .env("TARMAC_STATE_DIR_ROOT", host.join("var/lib/dcos"))
        .env("TARMAC_USER_DB_ROOT", host.join("userdb"))
        .env("TARMAC_TOOLS_DIR", tools)
}

/// The served dcos_install.sh of `fixture` for `role` on the temp host
/// `host` (every path under it), with `env` added (e.g. another
/// TARMAC_BOOTSTRAP_URL).
fn install(fixture: &Fixture, host: &Path, role: &str, env: &[(&str, &str)]) -> Run {
    let mut command = Command::new("bash");
    with_host_paths(&mut command, host, &host.join("var/lib/tarmac/bin"))
        .arg(fixture.serve().join("dcos_install.sh"))
        .arg(role)
        .env("TARMAC_NO_SYSTEMD", "1")
        .env("TARMAC_MIN_FREE_MB", "1")
        .env("TARMAC_IP_DETECT_ARGS", "--no-require-local")
        .envs(env.iter().copied());
    command.run()
}

/// A failure names its step and how to retry.
fn a_failed_step_is_named_with_how_to_retry(fixture: &Fixture, master: &Path) {
    let output = install(
        fixture,
        master,
        "master",
        &[("TARMAC_BOOTSTRAP_URL", "http://127.0.0.1:9")],
    );
    output.code(75);
    let text = output.stderr.as_str();
    assert!(
        text.contains("step 'download tools' failed (exit 75)"),
        "{text}"
    );
    assert!(text.contains("then rerun: "), "{text}");
}

/// The rerun resumes: every step runs, the master's files and flags are
/// there, and the recorded cluster set is exactly what was activated.
fn a_master_installs_and_records_the_cluster_set(fixture: &Fixture, nginx: &Nginx, master: &Path) {
    let output = install(fixture, master, "master", &[]);
    output.code(0);
    let text = output.stderr.as_str();
    for step in [
        "preflight",
        "download tools",
        "detect IP",
        "extract bundle",
        "activate",
    ] {
        assert!(
            text.contains(&format!("dcos_install: step: {step}\n")),
            "{text}"
        );
    }
    let root = master.join("opt/mesosphere");
    assert!(root.join("bin/mesos").exists());
    assert_eq!(
        fs::read_to_string(master.join("etc/systemd/system/dcos.target")).unwrap(),
        "[Install]\nWantedBy=multi-user.target\n"
    );
    assert!(root.join("bin/detect_ip").exists());
    assert_eq!(
        fs::read_to_string(root.join("etc/mesos-master")).unwrap(),
        "MESOS_QUORUM=2\nMESOS_CLUSTER=tarmac-example\nMESOS_PORT=5050\n"
    );
    let flags = master.join("etc/mesosphere/setup-flags");
    assert!(master.join("etc/mesosphere/roles/master").exists());
    assert_eq!(
        fs::read_to_string(flags.join("detected-ip")).unwrap(),
        "203.0.113.9\n"
    );
    assert_eq!(
        fs::read_to_string(flags.join("repository-url")).unwrap(),
        nginx.url()
    );
    let cluster: serde_json::Value =
        serde_json::from_slice(&fs::read(flags.join("cluster-packages.json")).unwrap()).unwrap();
    assert!(cluster["dcos-config"]["id"]
        .as_str()
        .unwrap()
        .starts_with("dcos-config--setup_"));
    // The cluster's set (bundle and config packages), one id per line:
    // exactly what was extracted and activated, so no override.
    let mut set: Vec<String> = fs::read_to_string(flags.join("cluster-package-ids"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    set.sort();
    let mut extracted: Vec<String> = fs::read_dir(root.join("packages"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    extracted.sort();
    assert_eq!(set, extracted);
    assert!(set.iter().any(|id| id.starts_with("dcos-config--setup_")));
}

/// Rerun after success: nothing to do.
fn a_rerun_after_success_does_nothing(fixture: &Fixture, master: &Path) {
    let output = install(fixture, master, "master", &[]);
    output.code(0);
    output.stderr_contains("nothing to do");
}

/// A served tool that does not match its pinned sha256 stops the install
/// (exit 4) before anything runs; once fixed, a rerun resumes.
fn a_tampered_tool_stops_the_install(fixture: &Fixture, agent: &Path) {
    let served_tool = fixture.serve().join("bin/pkg-activate");
    let good = fs::read(&served_tool).unwrap();
    fs::write(&served_tool, b"#!/bin/sh\necho tampered\n").unwrap();
    let output = install(fixture, agent, "slave", &[]);
    output.code(4);
    output.stderr_contains("bin/pkg-activate: sha256 does not match");
    assert!(!agent.join("var/lib/tarmac/bin/pkg-activate").exists());
    fs::write(&served_tool, good).unwrap();
}

/// A truncated download of the script runs nothing: the body is one
/// function called on the last line.
fn a_truncated_script_runs_nothing(fixture: &Fixture) {
    let script = fixture.serve().join("dcos_install.sh");
    let text = fs::read(&script).unwrap();
    let truncated = fixture.path().join("truncated.sh");
    fs::write(&truncated, &text[..text.len() * 2 / 3]).unwrap();
    let output = Command::new("bash")
        .arg(&truncated)
        .arg("slave")
        .env("TARMAC_ROOT", fixture.path().join("truncated-root"))
        .env("TARMAC_CONFIG_DIR", fixture.path().join("truncated-etc"))
        .env("TARMAC_SYSTEMD_DIR", fixture.path().join("truncated-etc"))
        .env(
            "TARMAC_STATE_DIR_ROOT",
            fixture.path().join("truncated-etc"),
        )
        .env("TARMAC_USER_DB_ROOT", fixture.path().join("truncated-etc"))
        .env("TARMAC_TOOLS_DIR", fixture.path().join("truncated-etc"))
        .env("TARMAC_NO_SYSTEMD", "1")
        .run();
    assert!(!fixture.path().join("truncated-root").exists());
    assert!(!fixture.path().join("truncated-etc").exists());
    assert!(
        !output.stderr.contains("dcos_install: step"),
        "{}",
        output.stderr
    );
}

/// An agent gets the common files but not the master-only ones.
fn an_agent_gets_no_master_only_files(fixture: &Fixture, agent: &Path) {
    let output = install(fixture, agent, "slave", &[]);
    output.code(0);
    let root = agent.join("opt/mesosphere");
    assert!(root.join("etc/dns_config").exists());
    assert!(!root.join("etc/mesos-master").exists());
}

/// Upgrade: a new config, generated with --upgrade-from the old serve
/// tree; the node upgrade script fetches only the new config packages,
/// activates them again after a rollback, and refuses a host at another
/// config.
fn an_upgrade_fetches_only_the_new_config(fixture: &Fixture, nginx: &Nginx, master: &Path) {
    let tools = fixture.path().join("real-tools");
    let flags = master.join("etc/mesosphere/setup-flags");
    let old_id = fs::read_to_string(flags.join("tarmac-installed")).unwrap();
    let text = fs::read_to_string(fixture.genconf().join("config.yaml")).unwrap();
    fixture.set_config(&text.replace("cluster_name: tarmac-example", "cluster_name: renamed"));
    let output = fixture.run(&[
        "--dist",
        "dist",
        "--bin-dir",
        tools.to_str().unwrap(),
        "--upgrade-from",
        "genconf/serve",
        "--json",
    ]);
    output.code(0);
    let generated: serde_json::Value = output.stdout_json();
    let relative = format!("upgrade/{old_id}/dcos_node_upgrade.sh");
    assert_eq!(generated["upgrade_script"], relative.as_str());
    crate::workspace::assert_documented("cfg-gen", &generated);
    let upgrade = fixture.serve().join(&relative);
    let before = nginx.access_log().lines().count();
    let run_upgrade = |host: &Path, args: &[&str]| {
        with_host_paths(
            &mut Command::new("bash"),
            host,
            &host.join("var/lib/tarmac/bin"),
        )
        .arg(&upgrade)
        .args(args)
        .env("TARMAC_NO_SYSTEMD", "1")
        .env("TARMAC_IP_DETECT_ARGS", "--no-require-local")
        .run()
    };
    let output = run_upgrade(master, &["master"]);
    assert_eq!(output.status.code(), Some(2), "roles are kept, not given");
    let output = run_upgrade(master, &[]);
    output.code(0);
    assert_eq!(
        fs::read_to_string(master.join("opt/mesosphere/etc/mesos-master")).unwrap(),
        "MESOS_QUORUM=2\nMESOS_CLUSTER=renamed\nMESOS_PORT=5050\n"
    );
    let requests: Vec<String> = nginx
        .access_log()
        .lines()
        .skip(before)
        .map(String::from)
        .collect();
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/packages/dcos-config/dcos-config--setup_")),
        "{requests:#?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("mesos--1.0.tar.zst") || r.contains(".bootstrap.tar.zst")),
        "an upgrade downloaded a package the host has: {requests:#?}"
    );
    let new_id = fs::read_to_string(flags.join("tarmac-installed")).unwrap();
    assert_ne!(new_id, old_id);
    assert_eq!(generated["config_id"], new_id.as_str());
    // Rerun: nothing to do.
    let output = run_upgrade(master, &[]);
    output.code(0);
    output.stderr_contains("nothing to do");
    // After a rollback the flags still name the new config, but the active
    // packages do not: a rerun activates the new set again (regression:
    // it used to say "nothing to do").
    let rollback = Command::new(master.join("var/lib/tarmac/bin/pkg-activate"))
        .arg("--root")
        .arg(master.join("opt/mesosphere"))
        .arg("--config-dir")
        .arg(master.join("etc/mesosphere"))
        .arg("--systemd-dir")
        .arg(master.join("etc/systemd/system"))
        .args(["--no-systemd", "rollback"])
        .run();
    rollback.success();
    let mesos_master = master.join("opt/mesosphere/etc/mesos-master");
    assert!(fs::read_to_string(&mesos_master)
        .unwrap()
        .contains("MESOS_CLUSTER=tarmac-example"));
    let output = run_upgrade(master, &[]);
    output.code(0);
    output.stderr_contains("is not active (rolled back?): activating it again");
    assert!(fs::read_to_string(&mesos_master)
        .unwrap()
        .contains("MESOS_CLUSTER=renamed"));
    let output = run_upgrade(master, &[]);
    output.stderr_contains("nothing to do");
    // A host at another config is refused by the preflight.
    let output = run_upgrade(&fixture.path().join("fresh"), &[]);
    output.code(3);
    output.stderr_contains("no finished install here");
}

#[test]
fn docs_cfg_gen_reference_matches_help() {
    crate::workspace::check_help_doc(BIN, "cfg-gen.md");
}

/// The rows of docs/cfg-gen.md's key table: (key, gen, accepted,
/// validated, use).
fn docs_key_rows() -> Vec<[String; 5]> {
    let docs = fs::read_to_string(Path::new(REPO).join("docs/cfg-gen.md")).unwrap();
    let table = docs
        .split("| Key | gen | Accepted | Validated | Use |\n|---|---|---|---|---|\n")
        .nth(1)
        .expect("docs/cfg-gen.md has the key table");
    table
        .lines()
        .take_while(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect();
            assert_eq!(cells.len(), 5, "{line}");
            let mut row: [String; 5] = Default::default();
            row.clone_from_slice(&cells);
            row[0] = row[0].trim_matches('`').to_string();
            row
        })
        .collect()
}

#[test]
fn docs_key_table_matches_the_key_table() {
    use tarmac_config::keys::{self, GEN_ONLY, KEYS};
    let rows = docs_key_rows();
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted, "rows sorted by key, each once");
    // Every key of the code is a row, and every row a key of the code.
    let mut code: Vec<&str> = KEYS
        .iter()
        .map(|k| k.name)
        .chain(keys::COMPUTED.iter().copied())
        .chain(GEN_ONLY.iter().map(|(k, _)| *k))
        .collect();
    code.sort();
    code.dedup();
    assert_eq!(
        names, code,
        "docs/cfg-gen.md key table vs keys::KEYS + COMPUTED + GEN_ONLY"
    );

    for [name, _gen, accepted, validated, usage] in &rows {
        let spec = keys::spec(name);
        let computed = keys::COMPUTED.contains(&name.as_str());
        let refused = keys::gen_only(name);
        let row = format!("{name}: {accepted} | {validated} | {usage}");
        assert_eq!(accepted.starts_with("yes"), spec.is_some(), "{row}");
        assert_eq!(accepted.contains("computed"), computed, "{row}");
        if let Some((switch, cases)) = spec.and_then(|s| s.when) {
            let cases: Vec<&str> = cases
                .iter()
                .map(|c| if c.is_empty() { "''" } else { c })
                .collect();
            let expected = format!("(when {switch}: {})", cases.join(" or "));
            assert!(accepted.contains(&expected), "{row}: want {expected}");
        } else {
            assert!(!accepted.contains("(when"), "{row}");
        }
        match refused {
            Some(reason) => {
                let why = if reason.contains("AWS/Azure") {
                    "no: AWS/Azure builds only"
                } else if reason.contains("built in") {
                    "no: gen built-in"
                } else {
                    "no: gen computes it"
                };
                assert_eq!(accepted, why, "{row}");
                assert_eq!((validated.as_str(), usage.as_str()), ("—", "—"), "{row}");
            }
            None => assert!(!accepted.starts_with("no"), "{row}"),
        }
        match spec {
            Some(spec) => {
                let checked = spec.check.is_some()
                    || tarmac_config::resolve::CROSS_CHECKED.contains(&spec.name);
                assert_eq!(validated.starts_with("yes"), checked, "{row}");
                assert_eq!(usage == "unused (warned)", spec.unused.is_some(), "{row}");
                if spec.unused.is_none() {
                    assert!(usage.ends_with("templates"), "{row}");
                }
            }
            None if computed => {
                assert_eq!(validated, "—", "{row}");
                assert!(usage.ends_with("templates"), "{row}");
            }
            None => {}
        }
    }
}

#[test]
fn docs_key_table_behaves_as_documented() {
    // Each refused row is refused with its reason; each "unused (warned)"
    // row with a default warns when set to it, and --strict refuses it.
    use tarmac_config::{keys, resolve, Input};
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("genconf")).unwrap();
    fs::write(
        dir.path().join("genconf/ip-detect"),
        "#!/bin/sh\necho 192.0.2.11\n",
    )
    .unwrap();
    let variables = Default::default();
    let run = |text: &str, strict: bool| {
        resolve(&Input {
            text,
            base_dir: dir.path(),
            template_variables: &variables,
            bootstrap_id: None,
            strict,
        })
    };
    assert!(run(BASE, true).is_ok(), "BASE has no warning");
    let mut warned = 0;
    for [name, _, accepted, _, usage] in docs_key_rows() {
        if accepted.starts_with("no") {
            let problems = run(&format!("{BASE}{name}: x\n"), false)
                .unwrap_err()
                .problems;
            let reason = keys::gen_only(&name).unwrap();
            assert!(
                problems
                    .iter()
                    .any(|p| p.key == name && p.reason == reason && p.line == Some(7)),
                "{name}: {problems:?}"
            );
        }
        if usage == "unused (warned)" {
            let spec = keys::spec(&name).unwrap();
            let keys::Default::Value(value) = spec.default else {
                continue;
            };
            let text = format!("{BASE}{name}: '{value}'\n");
            let text = if spec.kind == keys::Kind::Str {
                text
            } else {
                format!("{BASE}{name}: {value}\n")
            };
            let resolved = run(&text, false).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(
                resolved.warnings.len(),
                1,
                "{name}: {:?}",
                resolved.warnings
            );
            assert_eq!(resolved.warnings[0].key, name);
            assert_eq!(resolved.warnings[0].line, Some(7));
            let problems = run(&text, true).unwrap_err().problems;
            assert_eq!(problems[0].key, name, "{name}");
            warned += 1;
        }
    }
    assert!(
        warned >= 7,
        "{warned} unused keys with a default were tried"
    );
}

/// Issue 12: mirrors and pins in dcos_install.sh. One nginx serves the
/// origin (genconf/serve); another serves copies of it at /evil (the
/// pinned mirror from `bootstrap_mirrors`, whose dcos-config package is a
/// different but self-consistent package under the same id) and at
/// /badtools (an operator mirror, TARMAC_MIRRORS, serving a wrong
/// pkg-activate). The script tries the mirrors first, skips what does not
/// match its pins and installs the genuine packages from the origin; with
/// the forged mirror as its only URL it stops with exit 4.
#[test]
fn install_script_tries_every_mirror_and_catches_a_rewritten_package() {
    let fixture = Fixture::new();
    let mirrored = serve_with_mirrors(&fixture);
    every_package_is_pinned_by_its_tree_hash(&fixture);
    let genuine = forge_the_mirrors(&fixture);
    the_pinned_mirror_comes_first_and_its_forged_package_is_refused(&fixture, &mirrored, &genuine);
    a_wrong_tool_on_the_operator_mirror_is_skipped(&fixture, &mirrored);
    the_forged_mirror_alone_stops_the_install(&fixture, &mirrored, &genuine);
    a_mirror_list_that_is_not_urls_is_a_usage_error(&fixture);
}

/// The origin and the mirrors' nginx, and the mirrors' URLs.
struct Mirrored {
    origin: Nginx,
    mirrors: Nginx,
    evil: String,
    badtools: String,
}

fn mirrors_dir(fixture: &Fixture) -> PathBuf {
    fixture.path().join("mirrors")
}

/// The serve tree generated with /evil as its pinned mirror and the real
/// host tools; the origin and the (still empty) mirrors served.
fn serve_with_mirrors(fixture: &Fixture) -> Mirrored {
    let origin = Nginx::serve(&fixture.serve());
    let mirrors_dir = mirrors_dir(fixture);
    fs::create_dir_all(&mirrors_dir).unwrap();
    let mirrors = Nginx::serve(&mirrors_dir);
    let evil = format!("{}/evil", mirrors.url());
    let badtools = format!("{}/badtools", mirrors.url());
    let text = fs::read_to_string(fixture.genconf().join("config.yaml")).unwrap();
    let text = text.replace("http://192.0.2.10:8080", &origin.url());
    fixture.set_config(&format!("{text}bootstrap_mirrors:\n  - {evil}\n"));
    fs::write(
        fixture.genconf().join("ip-detect"),
        "#!/bin/sh\necho 203.0.113.9\n",
    )
    .unwrap();
    let tools = real_tools(fixture.path());
    let output = fixture.run(&["--dist", "dist", "--bin-dir", tools.to_str().unwrap()]);
    output.code(0);
    let serve = fixture.serve();
    let script_path = serve.join("dcos_install.sh");
    let script = fs::read_to_string(&script_path).unwrap();
    assert!(
        script.contains(&format!("BOOTSTRAP_MIRRORS='{evil}'\n")),
        "{script}"
    );
    Mirrored {
        origin,
        mirrors,
        evil,
        badtools,
    }
}

/// Every package is pinned by the tree hash of its served manifest.
fn every_package_is_pinned_by_its_tree_hash(fixture: &Fixture) {
    let serve = fixture.serve();
    let script = fs::read_to_string(serve.join("dcos_install.sh")).unwrap();
    let line = script
        .lines()
        .find(|l| l.starts_with("PACKAGE_PINS='"))
        .unwrap();
    let mut pins: Vec<String> = line["PACKAGE_PINS='".len()..line.len() - 1]
        .split(' ')
        .map(String::from)
        .collect();
    pins.sort();
    let mut expected = Vec::new();
    for entry in fs::read_dir(serve.join("packages")).unwrap() {
        for file in fs::read_dir(entry.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let manifest: PackageManifest =
                    serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
                expected.push(format!("{}={}", manifest.id, manifest.tree_hash));
            }
        }
    }
    expected.sort();
    assert_eq!(pins, expected);
    assert_eq!(pins.len(), 4, "two bundle and two config packages");
}

/// /evil: the served tree with dcos-config rewritten consistently;
/// /badtools: the served tree with a pkg-activate that is not the pinned
/// one. Returns the genuine dcos-config manifest.
fn forge_the_mirrors(fixture: &Fixture) -> PackageManifest {
    let serve = fixture.serve();
    let mirrors_dir = mirrors_dir(fixture);
    copy_tree(&serve, &mirrors_dir.join("evil"));
    let config_dir = mirrors_dir.join("evil/packages/dcos-config");
    let sidecar = fs::read_dir(&config_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let genuine: PackageManifest = serde_json::from_slice(&fs::read(&sidecar).unwrap()).unwrap();
    let forged_tree = fixture.path().join("forged");
    fs::create_dir_all(forged_tree.join("bin")).unwrap();
    fs::write(forged_tree.join("pkginfo.json"), "{}").unwrap();
    fs::write(
        forged_tree.join("bin/detect_ip"),
        "#!/bin/sh\necho 192.0.2.66\n",
    )
    .unwrap();
    let forged = tarmac_archive::pack_dir(
        &genuine.id,
        &forged_tree,
        &config_dir.join(format!("{}.tar.zst", genuine.id)),
        WriteOptions::default(),
    )
    .unwrap();
    assert_ne!(forged.tree_hash, genuine.tree_hash);
    fs::write(&sidecar, serde_json::to_vec_pretty(&forged).unwrap()).unwrap();
    // /badtools: the served tree with a pkg-activate that is not the pinned one.
    copy_tree(&serve, &mirrors_dir.join("badtools"));
    fs::write(
        mirrors_dir.join("badtools/bin/pkg-activate"),
        "#!/bin/sh\necho forged\n",
    )
    .unwrap();
    genuine
}

/// The tree hash of the config package `genuine` as installed on `host`.
fn config_package(host: &Path, genuine: &PackageManifest) -> String {
    tarmac_archive::tree_hash(
        &host
            .join("opt/mesosphere/packages")
            .join(genuine.id.to_string()),
    )
    .unwrap()
    .hash
}

/// How many lines of the access log `log` name `path`.
fn requested(log: &str, path: &str) -> usize {
    log.lines().filter(|l| l.contains(path)).count()
}

/// The pinned (forged) mirror first, then the origin: the forged config
/// package is refused by its pin and taken from the origin; tools and
/// the bundle came from the mirror.
fn the_pinned_mirror_comes_first_and_its_forged_package_is_refused(
    fixture: &Fixture,
    mirrored: &Mirrored,
    genuine: &PackageManifest,
) {
    let Mirrored {
        origin, mirrors, ..
    } = mirrored;
    let host = fixture.path().join("host-a");
    let output = install(fixture, &host, "slave", &[]);
    output.code(0);
    assert_eq!(config_package(&host, genuine), genuine.tree_hash);
    let config_json = format!("/packages/dcos-config/{}.json", genuine.id);
    let log = mirrors.access_log();
    assert!(
        requested(&log, &format!("/evil{config_json}")) >= 1,
        "{log}"
    );
    assert_eq!(requested(&log, "/evil/bin/"), 3, "{log}");
    let origin_log = origin.access_log();
    assert_eq!(requested(&origin_log, "/bin/"), 0, "{origin_log}");
    assert_eq!(requested(&origin_log, ".bootstrap.tar.zst"), 0);
    assert_eq!(requested(&origin_log, &config_json), 1, "{origin_log}");
}

/// The operator mirror (TARMAC_MIRRORS) first: its wrong pkg-activate is
/// skipped for the next URL.
fn a_wrong_tool_on_the_operator_mirror_is_skipped(fixture: &Fixture, mirrored: &Mirrored) {
    let Mirrored {
        mirrors, badtools, ..
    } = mirrored;
    let serve = fixture.serve();
    let host = fixture.path().join("host-b");
    let before = mirrors.access_log().lines().count();
    let output = install(
        fixture,
        &host,
        "slave",
        &[("TARMAC_MIRRORS", badtools.as_str())],
    );
    output.code(0);
    let text = output.stderr.as_str();
    assert!(
        text.contains(&format!(
            "{badtools}/bin/pkg-activate: sha256 does not match the pinned"
        )) && text.contains("trying the next URL"),
        "{text}"
    );
    let log: String = mirrors
        .access_log()
        .lines()
        .skip(before)
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(requested(&log, "/badtools/bin/"), 3, "{log}");
    assert_eq!(requested(&log, "/evil/bin/pkg-activate"), 1, "{log}");
    assert_eq!(requested(&log, "/evil/bin/"), 1, "{log}");
    assert_eq!(
        fs::read(host.join("var/lib/tarmac/bin/pkg-activate")).unwrap(),
        fs::read(serve.join("bin/pkg-activate")).unwrap()
    );
}

/// The forged mirror as the only URL: the pin stops the install (4).
fn the_forged_mirror_alone_stops_the_install(
    fixture: &Fixture,
    mirrored: &Mirrored,
    genuine: &PackageManifest,
) {
    let evil = &mirrored.evil;
    let host = fixture.path().join("host-c");
    let output = install(
        fixture,
        &host,
        "slave",
        &[("TARMAC_BOOTSTRAP_URL", evil.as_str())],
    );
    output.code(4);
    let text = output.stderr.as_str();
    assert!(
        text.contains(&format!(
            "package {} is not the pinned one: tree hash expected {}",
            genuine.id, genuine.tree_hash
        )) && text.contains("step 'extract cluster packages' failed (exit 4)"),
        "{text}"
    );
    assert!(!host
        .join("opt/mesosphere/packages")
        .join(genuine.id.to_string())
        .exists());
}

/// A mirror list that is not URLs is a usage error, before any step.
fn a_mirror_list_that_is_not_urls_is_a_usage_error(fixture: &Fixture) {
    let output = install(
        fixture,
        &fixture.path().join("host-d"),
        "slave",
        &[("TARMAC_MIRRORS", "mirror.example")],
    );
    output.code(2);
    output.stderr_contains("'mirror.example' is not an http://");
    assert!(!fixture.path().join("host-d").exists());
}

/// An HTTPS server (`openssl s_server -WWW`) serving `dir`, with a
/// self-signed certificate for 127.0.0.1; killed on drop.
struct TlsServer {
    child: std::process::Child,
    url: String,
    cert: PathBuf,
}

impl TlsServer {
    fn serve(dir: &Path, work: &Path) -> TlsServer {
        let cert = work.join("cert.pem");
        let key = work.join("key.pem");
        let output = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .run();
        output.success();
        let port = tarmac_testkit::nginx::free_port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(address).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "s_server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        TlsServer {
            child,
            url: format!("https://127.0.0.1:{port}"),
            cert,
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Issue 12: `TARMAC_CACERT` reaches curl (`--cacert`): the tools come
/// over https from a server whose certificate only that CA file trusts;
/// without it the same download fails (75) and nothing is installed.
#[test]
fn install_script_trusts_the_ca_of_tarmac_cacert() {
    let fixture = Fixture::new();
    let tools = real_tools(fixture.path());
    let output = fixture.run(&["--dist", "dist", "--bin-dir", tools.to_str().unwrap()]);
    output.code(0);
    let serve = fixture.serve();
    let tls = TlsServer::serve(&serve, fixture.path());
    let install = |host: &Path, cacert: Option<&Path>| {
        let mut command = Command::new("bash");
        with_host_paths(&mut command, host, &host.join("tools"))
            .arg(serve.join("dcos_install.sh"))
            .arg("slave")
            .env("TARMAC_NO_SYSTEMD", "1")
            .env("TARMAC_MIN_FREE_MB", "1")
            .env("TARMAC_BOOTSTRAP_URL", &tls.url)
            .env("TARMAC_IP_DETECT_ARGS", "--stop-here")
            .env_remove("TARMAC_CACERT");
        if let Some(cacert) = cacert {
            command.env("TARMAC_CACERT", cacert);
        }
        command.run()
    };
    let untrusted = fixture.path().join("untrusted");
    let output = install(&untrusted, None);
    output.code(75);
    output.stderr_contains("step 'download tools' failed (exit 75)");
    assert!(!untrusted.join("tools/host-extract").exists());

    // With the CA: every tool and ip-detect arrive, as served. The run is
    // stopped at the next step by a bad ip-detect-run flag (exit 2): what
    // host-extract does with TARMAC_CACERT is host-extract's own test.
    let trusted = fixture.path().join("trusted");
    let output = install(&trusted, Some(&tls.cert));
    let text = output.stderr.as_str();
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("dcos_install: step: write roles and setup flags")
            && text.contains("step 'detect IP' failed (exit 2)"),
        "{text}"
    );
    for name in ["host-extract", "ip-detect-run", "pkg-activate"] {
        assert_eq!(
            fs::read(trusted.join("tools").join(name)).unwrap(),
            fs::read(serve.join("bin").join(name)).unwrap(),
            "{name}"
        );
    }
    assert_eq!(
        fs::read(trusted.join("tools/ip-detect")).unwrap(),
        fs::read(serve.join("ip-detect")).unwrap()
    );
}

/// Progress (validate, tools, build, publish) on a terminal only (run under
/// `script(1)` for a pty), never with `--quiet`, never into a pipe.
#[test]
fn progress_on_a_terminal_only_and_quiet_silences_it() {
    let fixture = Fixture::new();
    let through_pty = |extra: &str| {
        let line = format!("'{BIN}' --genconf genconf --dist dist --bin-dir tools {extra}");
        let output = Command::new("script")
            .current_dir(fixture.path())
            .args(["-qec", &line, "/dev/null"])
            .run();
        assert!(output.status.success(), "{output:?}");
        output.stdout.clone()
    };
    let shown = through_pty("");
    for step in ["validate", "tools", "build", "publish"] {
        assert!(
            shown.contains(step),
            "no {step:?} on the terminal: {shown:?}"
        );
    }
    let quiet = through_pty("--quiet");
    assert!(!quiet.contains("publish"), "{quiet:?}");
    let piped = fixture.generate();
    piped.success();
    assert!(piped.stderr.is_empty(), "{}", piped.stderr);
}

/// The cloud-init user data's install commands (issue 14 § 7): the runcmd
/// script cloud-init makes from scripts/integrations/cloud/
/// tarmac-host.cloud-config, with the role and URLs substituted (a dead
/// mirror, a live one, the origin), installs an agent into a temp root from
/// the live mirror; rerun, it does nothing; left unsubstituted, it fails
/// before fetching anything.
#[test]
fn cloud_init_runcmd_installs_a_host_from_the_first_live_mirror() {
    let fixture = Fixture::new();
    let origin = serve_cluster(&fixture);
    let mirror = Nginx::serve(&fixture.serve());
    let mirrors = format!("{} {}", tarmac_testkit::nginx::dead_url(), mirror.url());
    let user_data = crate::cloud_init::substitute("slave", &origin.url(), &mirrors);
    let runcmd = fixture.path().join("runcmd");
    fs::write(&runcmd, crate::cloud_init::runcmd_script(&user_data)).unwrap();
    let host = Host::dcos_at(&fixture.path().join("agent"));
    let run = |script: &Path| {
        let mut command = Command::new("sh");
        command.arg(script);
        host.environment(command, None).run()
    };

    let output = run(&runcmd);
    let text = output.stderr.as_str();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("tarmac: dcos_install.sh from {}\n", mirror.url())),
        "{text}"
    );
    assert!(text.contains("dcos_install: step: activate\n"), "{text}");
    assert!(host.config().join("roles/slave").is_file());
    assert!(!host.config().join("roles/master").exists());
    let flags = host.config().join("setup-flags");
    assert_eq!(
        fs::read_to_string(flags.join("detected-ip")).unwrap(),
        "203.0.113.9\n"
    );
    assert!(flags.join("tarmac-installed").is_file());
    let status = host
        .installed_pkg_activate()
        .args(["status", "--json"])
        .run();
    status.success();
    let status: serde_json::Value = status.stdout_json();
    assert_eq!(status["cluster_set"], true, "{status}");
    // The mirrors come first: the origin served nothing.
    assert_eq!(origin.access_log(), "");
    let log = mirror.access_log();
    for path in [
        "/dcos_install.sh",
        "/bin/pkg-activate",
        ".bootstrap.tar.zst",
    ] {
        assert!(log.contains(path), "{path} not from the mirror: {log}");
    }
    let archives = |log: &str| log.lines().filter(|l| l.contains(".tar.zst")).count();
    let fetched = archives(&log);

    // A rerun (cloud-init's scripts_user again, or by hand) changes nothing.
    let output = run(&runcmd);
    output.code(0);
    assert_eq!(archives(&mirror.access_log()), fetched);

    // Placeholders left in place: sh stops at the first (set -u).
    let raw = fs::read_to_string(crate::cloud_init::user_data_path()).unwrap();
    let unsubstituted = fixture.path().join("runcmd-raw");
    fs::write(&unsubstituted, crate::cloud_init::runcmd_script(&raw)).unwrap();
    let before = mirror.access_log().lines().count();
    let output = run(&unsubstituted);
    assert_ne!(output.status.code(), Some(0), "{}", output.stderr);
    output.stderr_contains("Mirrors");
    assert_eq!(mirror.access_log().lines().count(), before);
    assert_eq!(origin.access_log(), "");
}

/// A served cluster for the host-script tests: `fixture`'s genconf pointed
/// at an nginx serving it, a TEST-NET ip-detect, the real host tools.
fn serve_cluster(fixture: &Fixture) -> Nginx {
    let nginx = Nginx::serve(&fixture.serve());
    let text = fs::read_to_string(fixture.genconf().join("config.yaml")).unwrap();
    fixture.set_config(&text.replace("http://192.0.2.10:8080", &nginx.url()));
    fs::write(
        fixture.genconf().join("ip-detect"),
        "#!/bin/sh\necho 203.0.113.9\n",
    )
    .unwrap();
    let tools = real_tools(fixture.path());
    let output = fixture.run(&["--dist", "dist", "--bin-dir", tools.to_str().unwrap()]);
    output.code(0);
    nginx
}

/// What the install-script tests ask of a host with DC/OS's paths below
/// one directory ([`Host::dcos_at`]): the script run on its paths, the
/// pkg-activate it downloaded, its units.
trait InstallHost {
    fn tools(&self) -> PathBuf;
    fn script(&self, script: &Path, args: &[&str], stub: Option<&Path>) -> Command;
    fn environment(&self, command: Command, stub: Option<&Path>) -> Command;
    fn installed_pkg_activate(&self) -> Command;
    fn current_units(&self) -> std::collections::BTreeMap<String, Vec<u8>>;
    fn synced_units(&self) -> std::collections::BTreeMap<String, Vec<u8>>;
}

impl InstallHost for Host {
    fn tools(&self) -> PathBuf {
        self.base().join("var/lib/tarmac/bin")
    }
    /// `bash script args` with this host's paths (TARMAC_NO_SYSTEMD=1
    /// unless `stub` is given: then a systemctl stand-in dir first on PATH
    /// answers every systemctl call; this machine's PID 1 is not systemd and
    /// the real systemctl must never run against it).
    fn script(&self, script: &Path, args: &[&str], stub: Option<&Path>) -> Command {
        let mut command = Command::new("bash");
        command.arg(script).args(args);
        self.environment(command, stub)
    }
    /// `command` with this host's TARMAC_* paths, as [`InstallHost::script`].
    fn environment(&self, mut command: Command, stub: Option<&Path>) -> Command {
        command
            // bash 5's compatibility level 4.2: the nearest this machine
            // gets to RHEL/CentOS 7's bash 4.2 (it does not bring back the
            // unbound "${a[@]}" of an empty array under set -u: see
            // install_script_avoids_bash_4_4_and_gnu_only_constructs).
            .env("BASH_COMPAT", "42");
        with_host_paths(&mut command, self.base(), &self.tools())
            .env("TARMAC_MIN_FREE_MB", "1")
            .env("TARMAC_IP_DETECT_ARGS", "--no-require-local");
        match stub {
            // The preflight's port check would read this machine's sockets
            // (other tests' servers): install_script_preflight_* drives it
            // with a TARMAC_PROC of its own instead.
            Some(stub) => {
                command
                    .env("PATH", stub_path(stub))
                    .env("TARMAC_NO_SYSTEMD", "0")
                    .env("TARMAC_PREFLIGHT_SKIP", "ports");
            }
            None => {
                command.env("TARMAC_NO_SYSTEMD", "1");
            }
        }
        command
    }
    /// The host's pkg-activate (as downloaded by the script) on its paths.
    fn installed_pkg_activate(&self) -> Command {
        self.pkg_activate(&self.tools().join("pkg-activate"))
    }
    /// The units `current` wants: name -> content of its unit file.
    fn current_units(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let record: serde_json::Value =
            serde_json::from_slice(&fs::read(self.root().join("current/generation.json")).unwrap())
                .unwrap();
        record["units"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, path)| (name.clone(), fs::read(path.as_str().unwrap()).unwrap()))
            .collect()
    }
    /// The DC/OS units in the systemd dir (wanted by dcos.target): name ->
    /// content of the copy.
    fn synced_units(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let wants = self.systemd().join("dcos.target.wants");
        let mut units = std::collections::BTreeMap::new();
        for entry in fs::read_dir(&wants).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            units.insert(name.clone(), fs::read(self.systemd().join(&name)).unwrap());
        }
        units
    }
}

/// A dir holding a `systemctl` stand-in: it appends its arguments to
/// `systemctl.log` beside it and answers `show` with the states in
/// `unit-state` beside it ("ActiveState SubState Result" for every unit
/// asked; "active running success" when the file is missing). After
/// `unit-state.after` calls of `show` (a count in that file) it answers
/// with `unit-state.later` instead; "unanswerable" makes `show` fail as
/// systemctl does without a bus. `systemd-version` and `system-state`
/// beside it answer `--version` and `is-system-running` (252, running).
fn systemctl_stub(dir: &Path) -> PathBuf {
    let stub = dir.join("stub");
    fs::create_dir_all(&stub).unwrap();
    let script = r#"#!/bin/bash
here=$(dirname "$0")
echo "$*" >>"$here/systemctl.log"
case "$1" in
--version) echo "systemd $(cat "$here/systemd-version" 2>/dev/null || echo 252) (stand-in)"; echo "+PAM +AUDIT"; exit 0 ;;
is-system-running) state=$(cat "$here/system-state" 2>/dev/null || echo running); echo "$state"; [ "$state" = running ] ;;
show) ;;
*) exit 0 ;;
esac
calls=$(( $(cat "$here/show-calls" 2>/dev/null || echo 0) + 1 ))
echo "$calls" >"$here/show-calls"
state="active running success"
[ -f "$here/unit-state" ] && state=$(cat "$here/unit-state")
if [ -f "$here/unit-state.after" ] && [ "$calls" -gt "$(cat "$here/unit-state.after")" ]; then
    state=$(cat "$here/unit-state.later")
fi
if [ "$state" = unanswerable ]; then
    echo "Failed to connect to bus: No such file or directory" >&2
    exit 1
fi
read -r active sub result <<<"$state"
shift
for arg in "$@"; do
    case "$arg" in
    --*) continue ;;
    esac
    printf 'Id=%s\nActiveState=%s\nSubState=%s\nResult=%s\nStateChangeTimestamp=Sun 2026-12-06 12:00:00 UTC\n\n' \
        "$arg" "$active" "$sub" "$result"
done
"#;
    fs::write(stub.join("systemctl"), script).unwrap();
    fs::set_permissions(stub.join("systemctl"), fs::Permissions::from_mode(0o755)).unwrap();
    // The preflight's time check: timedatectl answers from `ntp-sync`
    // beside it ("yes" when missing), as systemd 239+ does for `show`.
    let timedatectl = r#"#!/bin/sh
here=$(dirname "$0")
[ "$1" = show ] || exit 1
if [ -f "$here/ntp-sync" ]; then cat "$here/ntp-sync"; else echo yes; fi
"#;
    fs::write(stub.join("timedatectl"), timedatectl).unwrap();
    fs::set_permissions(stub.join("timedatectl"), fs::Permissions::from_mode(0o755)).unwrap();
    stub
}

fn stub_path(stub: &Path) -> String {
    format!(
        "{}:{}",
        stub.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The words of a unit's `ExecStart=` line, unquoted as systemd reads the
/// ones dcos_install.sh writes (double quotes, `%%`, and `$$` in the
/// arguments: systemd expands no variable in the command's path).
fn exec_start(unit: &str) -> Vec<String> {
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart= line");
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => continue,
            '"' => {
                let mut word = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.push(chars.next().unwrap()),
                        '%' => {
                            assert_eq!(chars.next(), Some(c), "unescaped {c} in {line}");
                            word.push(c);
                        }
                        '$' if !words.is_empty() => {
                            assert_eq!(chars.next(), Some(c), "unescaped {c} in {line}");
                            word.push(c);
                        }
                        c => word.push(c),
                    }
                }
                words.push(word);
            }
            c => panic!("unquoted word starting with {c:?} in {line}"),
        }
    }
    words
}

/// Issue 14 § 2: dcos_install.sh installs tarmac-recover.service, a oneshot
/// ordered before basic.target and dcos.target that runs `pkg-activate
/// recover` with the host's paths. A crash right after an activation's
/// commit (TARMAC_FAILPOINT=after-commit, test builds) leaves the old units
/// in the systemd dir; "rebooting" (running the unit's ExecStart, parsed
/// from the installed file) syncs them to `current`. systemd is not PID 1
/// here: the reboot's systemctl calls go to a stand-in on PATH.
#[test]
fn recover_unit_repairs_a_crash_after_the_commit_at_boot() {
    let fixture = Fixture::with_units();
    let _nginx = serve_cluster(&fixture);
    let script = fixture.serve().join("dcos_install.sh");
    // A path systemd would misread unescaped: a space, a specifier (%h),
    // a variable ($x). systemd-analyze below checks the binary it names.
    let host = Host::dcos_at(&fixture.path().join("host %h $x"));
    let output = host.script(&script, &["master"], None).run();
    output.code(0);

    let unit_path = host.systemd().join("tarmac-recover.service");
    let unit = fs::read_to_string(&unit_path).unwrap();
    for line in [
        "Type=oneshot",
        "DefaultDependencies=no",
        "Before=basic.target dcos.target shutdown.target",
        "WantedBy=basic.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
    }
    assert_eq!(
        fs::read_link(
            host.systemd()
                .join("basic.target.wants/tarmac-recover.service")
        )
        .unwrap(),
        Path::new("../tarmac-recover.service")
    );
    let words = exec_start(&unit);
    let expected: Vec<String> = [
        host.tools().join("pkg-activate"),
        "--root".into(),
        host.root(),
        "--config-dir".into(),
        host.config(),
        "--systemd-dir".into(),
        host.systemd(),
        "--state-dir-root".into(),
        host.base().join("var/lib/dcos"),
        "--user-db-root".into(),
        host.base().join("userdb"),
        "recover".into(),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect();
    assert_eq!(words, expected);
    // systemd's own checker, where its binaries exist (systemd 252 here,
    // though PID 1 is not systemd: verify reads files only).
    match Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit_path)
        .output()
    {
        Ok(verify) => assert!(
            verify.status.success()
                && !String::from_utf8_lossy(&verify.stderr).contains("tarmac-recover"),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&verify.stderr)
        ),
        Err(e) => eprintln!("systemd-analyze not available ({e}): unit not verified"),
    }

    let all: Vec<String> = {
        let out = host.installed_pkg_activate().arg("active").run();
        out.stdout.lines().map(String::from).collect()
    };
    assert!(all.iter().any(|id| id == "exhibitor--2.0"), "{all:?}");
    assert!(host.synced_units().contains_key("dcos-exhibitor.service"));
    let stub = systemctl_stub(fixture.path());
    let log = stub.join("systemctl.log");
    let reboot = || {
        let _ = fs::remove_file(&log);
        let out = Command::new(&words[0])
            .args(&words[1..])
            .env("PATH", stub_path(&stub))
            .run();
        assert!(out.status.success(), "recover: {}", out.stderr);
        fs::read_to_string(&log).unwrap_or_default()
    };

    // Crash 1: exhibitor (and its unit) goes; killed after the commit.
    let without: Vec<&String> = all.iter().filter(|id| *id != "exhibitor--2.0").collect();
    let crash = host
        .installed_pkg_activate()
        .args(["--no-systemd", "activate"])
        .args(&without)
        .env("TARMAC_FAILPOINT", "after-commit")
        .run();
    assert!(!crash.status.success(), "the failpoint did not fire");
    assert!(!host.current_units().contains_key("dcos-exhibitor.service"));
    assert_ne!(host.synced_units(), host.current_units(), "no crash state");
    let calls = reboot();
    assert_eq!(host.synced_units(), host.current_units());
    assert!(!host.systemd().join("dcos-exhibitor.service").exists());
    assert_eq!(
        calls,
        "stop dcos-exhibitor.service\ndaemon-reload\nstart --no-block dcos.target\n"
    );

    // Crash 2: it comes back; the unit copy is missing until the reboot.
    let crash = host
        .installed_pkg_activate()
        .args(["--no-systemd", "activate"])
        .args(&all)
        .env("TARMAC_FAILPOINT", "after-commit")
        .run();
    assert!(!crash.status.success(), "the failpoint did not fire");
    assert_ne!(host.synced_units(), host.current_units(), "no crash state");
    reboot();
    assert_eq!(host.synced_units(), host.current_units());
    assert_eq!(
        fs::read_to_string(host.systemd().join("dcos-exhibitor.service")).unwrap(),
        EXHIBITOR_UNIT
    );
    // A second boot with nothing to repair changes nothing, calls nothing.
    assert_eq!(reboot(), "");
    assert_eq!(host.synced_units(), host.current_units());
}

/// Issue 14 § 1, the postflight: `--wait-services SECONDS` polls
/// `pkg-activate status --json`'s services verdict after the start (or an
/// upgrade's restart): 0 once every unit is active, 6 naming the failed
/// units, 7 after SECONDS naming those not active yet. This machine's PID 1
/// is not systemd, so every systemctl call (pkg-activate's and the
/// script's) goes to a stand-in on PATH whose `show` answers the states
/// the test writes; with TARMAC_NO_SYSTEMD=1 the wait is skipped.
#[test]
fn install_script_waits_for_services() {
    let fixture = Fixture::with_units();
    let _nginx = serve_cluster(&fixture);
    let w = Waiting {
        script: fixture.serve().join("dcos_install.sh"),
        stub: systemctl_stub(fixture.path()),
        host: Host::dcos_at(&fixture.path().join("host")),
        fixture: &fixture,
    };
    starting_then_running_units_are_waited_for(&w);
    a_failed_unit_is_exit_6_naming_it(&w);
    units_never_active_are_exit_7_after_the_timeout(&w);
    a_systemctl_that_cannot_answer_is_exit_7_saying_why(&w);
    without_wait_services_nothing_is_asked(&w);
    without_systemd_the_wait_is_skipped(&w);
    the_node_upgrade_script_waits_the_same_way(&w);
}

/// A served cluster, a host installing it with the systemctl stand-in
/// `stub`, and the served dcos_install.sh.
struct Waiting<'a> {
    fixture: &'a Fixture,
    script: PathBuf,
    stub: PathBuf,
    host: Host,
}

impl Waiting<'_> {
    /// The stand-in's units are in state `now`, and `later` after that
    /// many `show` calls.
    fn state(&self, now: &str, later: Option<(u32, &str)>) {
        let stub = &self.stub;
        fs::write(stub.join("unit-state"), now).unwrap();
        let _ = fs::remove_file(stub.join("show-calls"));
        match later {
            Some((after, later)) => {
                fs::write(stub.join("unit-state.after"), after.to_string()).unwrap();
                fs::write(stub.join("unit-state.later"), later).unwrap();
            }
            None => {
                let _ = fs::remove_file(stub.join("unit-state.after"));
            }
        }
    }

    fn show_calls(&self) -> u32 {
        fs::read_to_string(self.stub.join("show-calls"))
            .map(|n| n.trim().parse::<u32>().unwrap())
            .unwrap_or(0)
    }

    /// dcos_install.sh `args` on the host, polling every 0.2 s.
    fn run(&self, args: &[&str]) -> Run {
        self.host
            .script(&self.script, args, Some(&self.stub))
            .env("TARMAC_WAIT_INTERVAL", "0.2")
            .run()
    }
}

/// Starting, then running: the install waits and succeeds.
fn starting_then_running_units_are_waited_for(w: &Waiting) {
    w.state(
        "activating start success",
        Some((2, "active running success")),
    );
    let output = w.run(&["--wait-services", "60", "master"]);
    let text = output.stderr.as_str();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("dcos_install: step: wait for services\n"),
        "{text}"
    );
    assert!(text.contains("services: all 2 units active"), "{text}");
    assert!(w.show_calls() >= 3, "polled {} times", w.show_calls());
    let calls = fs::read_to_string(w.stub.join("systemctl.log")).unwrap();
    assert!(calls.contains("start --no-block dcos.target"), "{calls}");
}

/// A failed unit: exit 6, naming it (a rerun of a finished install only
/// waits).
fn a_failed_unit_is_exit_6_naming_it(w: &Waiting) {
    w.state("failed failed exit-code", None);
    let output = w.run(&["--wait-services", "60", "master"]);
    let text = output.stderr.as_str();
    assert_eq!(output.status.code(), Some(6), "{text}");
    assert!(text.contains("nothing to do"), "{text}");
    assert!(
        text.contains(
            "services failed: dcos-exhibitor.service (failed/failed, result exit-code) \
             dcos-mesos.service (failed/failed, result exit-code)"
        ),
        "{text}"
    );
    assert!(
        text.contains("step 'wait for services' failed (exit 6)"),
        "{text}"
    );
    assert!(text.contains("journalctl -u"), "{text}");
}

/// Never active: exit 7 after the timeout, naming the units.
fn units_never_active_are_exit_7_after_the_timeout(w: &Waiting) {
    w.state("activating start success", None);
    let output = w.run(&["--wait-services", "1", "master"]);
    let text = output.stderr.as_str();
    assert_eq!(output.status.code(), Some(7), "{text}");
    assert!(
        text.contains(
            "services not active after 1s: dcos-exhibitor.service (activating/start) \
             dcos-mesos.service (activating/start)"
        ),
        "{text}"
    );
    assert!(
        text.contains("step 'wait for services' failed (exit 7)"),
        "{text}"
    );
}

/// systemctl cannot answer (verdict unknown): waits, then 7 with why.
fn a_systemctl_that_cannot_answer_is_exit_7_saying_why(w: &Waiting) {
    w.state("unanswerable", None);
    let output = w.run(&["--wait-services", "1", "master"]);
    let text = output.stderr.as_str();
    assert_eq!(output.status.code(), Some(7), "{text}");
    assert!(
        text.contains("services unknown after 1s: systemctl show failed")
            && text.contains("Failed to connect to bus"),
        "{text}"
    );
    assert!(w.show_calls() >= 2, "polled {} times", w.show_calls());
}

/// Without --wait-services nothing is asked; a bad value is usage.
fn without_wait_services_nothing_is_asked(w: &Waiting) {
    let before = w.show_calls();
    let output = w.run(&["master"]);
    output.code(0);
    assert_eq!(w.show_calls(), before);
    let output = w.run(&["--wait-services", "soon", "master"]);
    output.code(2);
}

/// TARMAC_NO_SYSTEMD=1: nothing was started, the wait says it is skipped.
fn without_systemd_the_wait_is_skipped(w: &Waiting) {
    let plain = Host::dcos_at(&w.fixture.path().join("plain"));
    let output = plain
        .script(&w.script, &["--wait-services", "60", "slave"], None)
        .run();
    let text = output.stderr.as_str();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("TARMAC_NO_SYSTEMD=1: --wait-services skipped"),
        "{text}"
    );
}

/// The node upgrade script waits the same way after its restart (and its
/// preflight alone, as JSON, runs the upgrade's own checks).
fn the_node_upgrade_script_waits_the_same_way(w: &Waiting) {
    let (fixture, host) = (w.fixture, &w.host);
    let old_id = fs::read_to_string(host.config().join("setup-flags/tarmac-installed")).unwrap();
    let text = fs::read_to_string(fixture.genconf().join("config.yaml")).unwrap();
    w.fixture
        .set_config(&text.replace("cluster_name: tarmac-example", "cluster_name: renamed"));
    let tools = fixture.path().join("real-tools");
    let output = fixture.run(&[
        "--dist",
        "dist",
        "--bin-dir",
        tools.to_str().unwrap(),
        "--upgrade-from",
        "genconf/serve",
    ]);
    output.code(0);
    let upgrade = fixture
        .serve()
        .join(format!("upgrade/{old_id}/dcos_node_upgrade.sh"));
    // Its preflight alone, as JSON: the upgrade's own checks.
    let output = host
        .script(&upgrade, &["--preflight-only"], Some(&w.stub))
        .run();
    output.code(0);
    let json: serde_json::Value = output.stdout_json();
    assert_eq!(json["mode"], "upgrade");
    assert_eq!(json["passed"], true);
    let names: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "root",
            "commands",
            "installed",
            "systemd",
            "selinux",
            "filesystem",
            "time"
        ]
    );
    fs::write(w.stub.join("ntp-sync"), "no").unwrap();
    let output = host
        .script(&upgrade, &["--wait-services", "60"], Some(&w.stub))
        .run();
    output.code(3);
    output.stderr_contains("preflight time: FAIL: the clock is not synchronized");
    fs::remove_file(w.stub.join("ntp-sync")).unwrap();
    w.state(
        "activating start success",
        Some((1, "active running success")),
    );
    let output = host
        .script(&upgrade, &["--wait-services", "60"], Some(&w.stub))
        .env("TARMAC_WAIT_INTERVAL", "0.2")
        .run();
    let text = output.stderr.as_str();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("dcos_install: step: wait for services\n"),
        "{text}"
    );
    assert!(text.contains("services: all 2 units active"), "{text}");
    let calls = fs::read_to_string(w.stub.join("systemctl.log")).unwrap();
    assert!(
        calls.contains("restart --no-block dcos-mesos.service"),
        "{calls}"
    );
    w.state("failed failed exit-code", None);
    let output = host
        .script(&upgrade, &["--wait-services", "60"], Some(&w.stub))
        .run();
    let text = output.stderr.as_str();
    assert_eq!(output.status.code(), Some(6), "{text}");
    assert!(
        text.contains("services failed: dcos-exhibitor.service"),
        "{text}"
    );
}

/// A fake /proc for the preflight (TARMAC_PROC): `mounts` puts `mount` on
/// `fstype`; net/tcp has LISTEN sockets on `tcp` ports, net/udp bound
/// sockets on `udp` ports (the kernel's hex format).
fn fake_proc(dir: &Path, mount: &Path, fstype: &str, tcp: &[u16], udp: &[u16]) -> PathBuf {
    let proc_dir = dir.join("proc");
    fs::create_dir_all(proc_dir.join("net")).unwrap();
    fs::write(
        proc_dir.join("mounts"),
        format!(
            "/dev/vda / ext4 rw 0 0\n/dev/vdb {} {fstype} rw 0 0\n",
            mount.display()
        ),
    )
    .unwrap();
    let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    let table = |ports: &[u16], state: &str| {
        let mut text = header.to_string();
        // An established connection from a listed port does not count.
        text.push_str("   0: 0100007F:13BB 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1\n");
        for (i, port) in ports.iter().enumerate() {
            text.push_str(&format!(
                "   {}: 00000000:{port:04X} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000     0        0 {}\n",
                i + 1,
                i + 2
            ));
        }
        text
    };
    fs::write(proc_dir.join("net/tcp"), table(tcp, "0A")).unwrap();
    fs::write(proc_dir.join("net/udp"), table(udp, "07")).unwrap();
    fs::write(proc_dir.join("net/tcp6"), header).unwrap();
    fs::write(proc_dir.join("net/udp6"), header).unwrap();
    proc_dir
}

/// Issue 14 § 5, the preflight: each check reports pass, fail or skip with
/// its reason, every failure says how to fix it, `--preflight-only` prints
/// the results as JSON on stdout. This machine's PID 1 is not systemd and
/// it has no SELinux or xfs: systemctl, timedatectl, getenforce and
/// xfs_info are stand-ins on PATH and /proc is a fake (TARMAC_PROC) that
/// the test writes, so every check is driven both ways.
#[test]
fn install_script_preflight_checks_report_json() {
    let fixture = Fixture::new();
    assert!(fixture.generate().status.success());
    let host = Host::dcos_at(&fixture.path().join("host"));
    fs::create_dir_all(host.base()).unwrap();
    let p = Preflight {
        script: fixture.serve().join("dcos_install.sh"),
        stub: systemctl_stub(fixture.path()),
        host,
        fixture: &fixture,
    };
    p.tool(
        "getenforce",
        &format!("cat {}", p.stub.join("selinux").display()),
    );
    p.tool(
        "xfs_info",
        &format!(
            "echo \"naming   =version 2 bsize=4096 ascii-ci=0, ftype=$(cat {})\"",
            p.stub.join("ftype").display()
        ),
    );
    let good = fake_proc(
        &fixture.path().join("good"),
        p.host.base(),
        "xfs",
        &[22],
        &[68],
    );
    let bad = fake_proc(
        &fixture.path().join("bad"),
        p.host.base(),
        "xfs",
        &[5050, 22],
        &[53],
    );
    everything_as_dcos_wants_passes(&p, &good);
    everything_wrong_fails_each_check_with_a_fix(&p, &bad);
    systemd_installed_but_not_pid_1_fails(&p, &good);
    skips_say_why(&p, &bad);
}

/// A host whose preflight sees stand-ins for systemctl, timedatectl,
/// getenforce and xfs_info (in `stub`, answering what the test writes).
struct Preflight<'a> {
    fixture: &'a Fixture,
    script: PathBuf,
    stub: PathBuf,
    host: Host,
}

type Checks = std::collections::BTreeMap<String, serde_json::Value>;

impl Preflight<'_> {
    /// A stand-in `name` running the shell `body`.
    fn tool(&self, name: &str, body: &str) {
        fs::write(self.stub.join(name), format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(self.stub.join(name), fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// What a stand-in answers (its file `name`).
    fn set(&self, name: &str, value: &str) {
        fs::write(self.stub.join(name), value).unwrap()
    }

    /// `--preflight-only master` with the fake /proc `proc_dir` and `extra`
    /// environment: the run, its JSON, its checks by name.
    fn run(&self, proc_dir: &Path, extra: &[(&str, &str)]) -> (Run, serde_json::Value, Checks) {
        let mut command = self.host.script(
            &self.script,
            &["--preflight-only", "master"],
            Some(&self.stub),
        );
        command
            .env("TARMAC_PROC", proc_dir)
            .env_remove("TARMAC_PREFLIGHT_SKIP");
        for (key, value) in extra {
            command.env(key, value);
        }
        let output = command.run();
        let json = output.stdout_json();
        let checks: Checks = json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_string(), c.clone()))
            .collect();
        (output, json, checks)
    }
}

/// Everything as DC/OS wants it: every check passes.
fn everything_as_dcos_wants_passes(p: &Preflight, good: &Path) {
    let names = [
        "commands",
        "existing-install",
        "filesystem",
        "inodes",
        "ports",
        "roles",
        "root",
        "selinux",
        "space",
        "systemd",
        "time",
    ];
    p.set("selinux", "Permissive");
    p.set("ftype", "1");
    let (output, json, checks) = p.run(good, &[]);
    output.code(0);
    assert_eq!(json["passed"], true);
    assert_eq!(json["mode"], "install");
    assert_eq!(checks.keys().cloned().collect::<Vec<_>>(), names);
    for (name, check) in &checks {
        assert_eq!(check["status"], "pass", "{name}: {check}");
        assert_eq!(check["fix"], "", "{name}: {check}");
    }
    assert_eq!(checks["systemd"]["detail"], "systemd 252, running");
    assert!(checks["filesystem"]["detail"]
        .as_str()
        .unwrap()
        .contains("xfs with ftype=1"));
    output.stderr_contains("preflight passed");
}

/// A PATH without curl: every other command the script needs, then the
/// stand-ins.
fn path_without_curl(p: &Preflight) -> String {
    let partial = p.fixture.path().join("partial-bin");
    fs::create_dir_all(&partial).unwrap();
    for name in [
        "awk",
        "basename",
        "bash",
        "cat",
        "chmod",
        "cksum",
        "cut",
        "df",
        "dirname",
        "id",
        "ln",
        "mkdir",
        "mktemp",
        "mv",
        "rm",
        "sed",
        "sha256sum",
        "sleep",
        "sort",
        "tail",
        "tr",
        "uname",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .run();
        let path = found.stdout;
        std::os::unix::fs::symlink(path.trim(), partial.join(name)).unwrap();
    }
    format!("{}:{}", p.stub.display(), partial.display())
}

/// Everything wrong at once: each check fails, names the problem and how
/// to fix it; nothing is written.
fn everything_wrong_fails_each_check_with_a_fix(p: &Preflight, bad: &Path) {
    p.set("systemd-version", "199");
    p.set("ntp-sync", "no");
    p.set("selinux", "Enforcing");
    p.set("ftype", "0");
    let path = path_without_curl(p);
    let (output, json, checks) = p.run(
        bad,
        &[
            ("PATH", path.as_str()),
            ("TARMAC_MIN_FREE_MB", "999999999"),
            ("TARMAC_MIN_FREE_INODES", "999999999999"),
        ],
    );
    let text = output.stderr.as_str();
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_eq!(json["passed"], false);
    for name in [
        "commands",
        "space",
        "inodes",
        "systemd",
        "ports",
        "selinux",
        "filesystem",
        "time",
    ] {
        let check = &checks[name];
        assert_eq!(check["status"], "fail", "{name}: {check}");
        assert!(
            !check["fix"].as_str().unwrap().is_empty(),
            "{name}: {check}"
        );
        assert!(
            text.contains(&format!("preflight {name}: FAIL: ")),
            "{name}: {text}"
        );
    }
    assert_eq!(checks["commands"]["detail"], "not found: curl");
    assert_eq!(
        checks["ports"]["detail"],
        "in use, but DC/OS's services bind them: 53/udp 5050/tcp"
    );
    assert!(checks["systemd"]["detail"]
        .as_str()
        .unwrap()
        .contains("systemd 199: DC/OS needs 200 or newer"));
    assert!(checks["filesystem"]["fix"]
        .as_str()
        .unwrap()
        .contains("mkfs.xfs -n ftype=1"));
    assert!(text.contains("  to fix: "), "{text}");
    assert!(!p.host.config().exists() && !p.host.root().exists());
}

/// systemd installed but not PID 1 (this machine's own case).
fn systemd_installed_but_not_pid_1_fails(p: &Preflight, good: &Path) {
    p.set("systemd-version", "252");
    p.set("system-state", "offline");
    let (output, _, checks) = p.run(good, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        checks["systemd"]["detail"]
            .as_str()
            .unwrap()
            .contains("not running as PID 1 (is-system-running: offline)"),
        "{}",
        checks["systemd"]
    );
}

/// Skips say why: TARMAC_PREFLIGHT_SKIP, and TARMAC_NO_SYSTEMD=1 for the
/// checks of the services' environment.
fn skips_say_why(p: &Preflight, bad: &Path) {
    let (output, json, checks) = p.run(
        bad,
        &[(
            "TARMAC_PREFLIGHT_SKIP",
            "systemd ports time selinux filesystem",
        )],
    );
    output.code(0);
    assert_eq!(json["passed"], true);
    for name in ["systemd", "ports", "time", "selinux", "filesystem"] {
        assert_eq!(checks[name]["status"], "skip");
        assert_eq!(checks[name]["detail"], "skipped by TARMAC_PREFLIGHT_SKIP");
    }
    p.set("selinux", "Disabled");
    p.set("ftype", "1");
    let (output, _, checks) = p.run(bad, &[("TARMAC_NO_SYSTEMD", "1")]);
    output.code(0);
    for name in ["systemd", "ports", "time"] {
        assert_eq!(checks[name]["status"], "skip");
        assert_eq!(
            checks[name]["detail"],
            "TARMAC_NO_SYSTEMD=1: no service starts here"
        );
    }
    assert_eq!(checks["selinux"]["detail"], "SELinux is Disabled");
}

/// Issue 14 § 5, portability: the script must run on bash 4.2 (RHEL/CentOS
/// 7). No bash 4.2 is available here (only package registries are
/// reachable, and they carry bash 5), so this is a static check of the
/// template: no possibly empty array expanded as "${a[@]}" (bash < 4.4
/// fails under `set -u`), no bash 4.3+ feature, no GNU-only option, and
/// every external command it runs is listed in HOST_COMMANDS (checked by
/// the preflight) or is an optional tool of one check.
#[test]
fn install_script_avoids_bash_4_4_and_gnu_only_constructs() {
    let text = fs::read_to_string(Path::new(REPO).join("scripts/dcos_install.sh")).unwrap();
    let code = code_lines(&text);
    let mut problems = unguarded_arrays_and_gnu_options(&code);
    problems.extend(commands_not_in_host_commands(&text, &code));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The check itself finds what it is for.
    assert_eq!(
        regex_lite_arrays()(r#"for x in "${a[@]}" ${b[@]+"${b[@]}"}; do"#).len(),
        2
    );
}

/// The script's code lines, numbered: comments and heredoc bodies (unit
/// file, usage) dropped.
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    // Code only: comments and heredoc bodies (unit file, usage) dropped.
    let mut code = Vec::new();
    let mut heredoc: Option<String> = None;
    for (number, line) in text.lines().enumerate() {
        if let Some(end) = &heredoc {
            if line.trim() == end {
                heredoc = None;
            }
            continue;
        }
        if let Some(at) = line.find("<<'").or_else(|| line.find("<<EOF")) {
            let rest = line[at + 2..].trim_start_matches('\'');
            let end: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            heredoc = Some(end);
        }
        if line.trim_start().starts_with('#') {
            continue;
        }
        code.push((number + 1, line));
    }
    assert!(heredoc.is_none(), "unterminated heredoc");
    code
}

/// Every possibly empty array expanded unguarded, and every bash 4.3+ or
/// GNU-only construct.
fn unguarded_arrays_and_gnu_options(code: &[(usize, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    let array = regex_lite_arrays();
    let mut function = "";
    for (number, line) in code {
        if let Some(name) = line.strip_suffix("() {") {
            function = name;
        }
        // "${name[@]}" must be the guarded ${name[@]+"${name[@]}"}; ROLES
        // in write_flags is never empty (install: a role is required;
        // upgrade: the host's roles, checked just before).
        for (at, name) in array(line) {
            let guarded = line[..at].ends_with(&format!("${{{name}[@]+"));
            let never_empty = name == "ROLES" && function == "write_flags";
            if !guarded && !never_empty {
                problems.push(format!("{number}: unguarded \"${{{name}[@]}}\": {line}"));
            }
        }
        for bad in [
            "-printf",
            "-quit",
            "-mindepth",
            "-maxdepth",
            "sed -i",
            "grep -P",
            "readlink -f",
            "realpath",
            "xargs -r",
            "stat -c",
            "date -d",
            "local -n",
            "declare -n",
            "wait -n",
            "mapfile -d",
            "readarray -d",
            "EPOCHSECONDS",
            "EPOCHREALTIME",
            "@Q}",
            "sort -V",
            "--no-dereference",
        ] {
            if line.contains(bad) {
                problems.push(format!("{number}: {bad:?} (bash 4.3+ or GNU only): {line}"));
            }
        }
    }
    problems
}

/// External commands in command position: each is listed in HOST_COMMANDS
/// (or an optional tool of one check), and each listed one is run.
fn commands_not_in_host_commands(text: &str, code: &[(usize, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    let listed: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("HOST_COMMANDS=\""))
        .expect("HOST_COMMANDS")
        .trim_end_matches('"')
        .split(' ')
        .collect();
    let optional = [
        "systemctl",
        "getenforce",
        "xfs_info",
        "timedatectl",
        "ntpstat",
    ];
    let candidates = [
        "awk",
        "basename",
        "cat",
        "chmod",
        "chown",
        "cksum",
        "cp",
        "curl",
        "cut",
        "date",
        "dd",
        "df",
        "dirname",
        "du",
        "env",
        "find",
        "getent",
        "grep",
        "gzip",
        "head",
        "hostname",
        "id",
        "install",
        "ip",
        "jq",
        "ln",
        "ls",
        "mkdir",
        "mktemp",
        "mv",
        "netstat",
        "od",
        "perl",
        "python",
        "python3",
        "readlink",
        "rm",
        "rmdir",
        "sed",
        "seq",
        "sha256sum",
        "sleep",
        "sort",
        "ss",
        "stat",
        "tail",
        "tar",
        "tee",
        "timeout",
        "touch",
        "tr",
        "uname",
        "uniq",
        "useradd",
        "wc",
        "xargs",
        "zstd",
        "systemctl",
        "getenforce",
        "xfs_info",
        "timedatectl",
        "ntpstat",
    ];
    let mut used = std::collections::BTreeSet::new();
    for (_, line) in code {
        commands_in_line(line, &candidates, &mut used);
    }
    for command in &used {
        if !listed.contains(&command.as_str()) && !optional.contains(&command.as_str()) {
            problems.push(format!("runs {command} but HOST_COMMANDS does not list it"));
        }
    }
    for command in &listed {
        if *command != "bash" && !used.contains(*command) {
            problems.push(format!(
                "HOST_COMMANDS lists {command}, which the script never runs"
            ));
        }
    }
    problems
}

/// The `"${name[@]}"` expansions in a line: (byte offset, name).
fn regex_lite_arrays() -> impl Fn(&str) -> Vec<(usize, String)> {
    |line: &str| {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(at) = line[from..].find("\"${") {
            let start = from + at;
            let rest = &line[start + 3..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].starts_with("[@]}\"") {
                found.push((start, name));
            }
            from = start + 3;
        }
        found
    }
}

/// Adds to `used` the `candidates` that `line` runs: words in command
/// position (line start, after `| ; & ( !` or a keyword), outside single
/// quotes and outside double quotes except inside their `$(...)`.
fn commands_in_line(
    line: &str,
    candidates: &[&str],
    used: &mut std::collections::BTreeSet<String>,
) {
    // Contexts: 'c' code, '"' a double-quoted string, '(' a $( inside one.
    let mut stack = vec!['c'];
    let mut at_command = true;
    let mut word = String::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut end_word = |word: &mut String, at_command: &mut bool, next: char| {
        let keyword = [
            "if", "then", "do", "else", "elif", "while", "until", "command", "exec",
        ]
        .contains(&word.as_str());
        if *at_command && candidates.contains(&word.as_str()) {
            used.insert(word.clone());
        }
        let was_word = !word.is_empty();
        word.clear();
        *at_command = match next {
            '|' | ';' | '&' | '(' | '!' => true,
            ' ' | '\t' if keyword => true,
            ' ' | '\t' if was_word => false,
            ' ' | '\t' => *at_command,
            _ => false,
        };
    };
    while i < chars.len() {
        let c = chars[i];
        let top = *stack.last().unwrap();
        if top == '"' {
            match c {
                '\\' => i += 1,
                '"' => {
                    stack.pop();
                }
                '$' if chars.get(i + 1) == Some(&'(') => {
                    stack.push('(');
                    at_command = true;
                    i += 1;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            '\'' => {
                end_word(&mut word, &mut at_command, c);
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
            }
            '"' => {
                end_word(&mut word, &mut at_command, c);
                stack.push('"');
            }
            ')' if top == '(' => {
                end_word(&mut word, &mut at_command, c);
                stack.pop();
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => word.push(c),
            c => end_word(&mut word, &mut at_command, c),
        }
        i += 1;
    }
    end_word(&mut word, &mut at_command, ' ');
}
