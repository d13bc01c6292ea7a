//! The table of config.yaml keys an operator may set: kind, default, check,
//! secrecy, and the switch that brings a key into scope.
//!
//! This mirrors gen/calc.py's `entry` (defaults and validators) plus the
//! keys gen's templates pull in through `{% switch %}` cases: a key whose
//! `when` switch has another value is out of scope, and setting it is a
//! warning (gen accepts and ignores it; `--strict` makes it an error).
//! Computed keys ("must" in gen) live in `resolve`; `GEN_ONLY` names the
//! keys gen knows that cfg-gen does not accept, each with the reason.
//! docs/cfg-gen.md has one row per key of all three tables, checked by
//! tests/cfg_gen.rs.

use crate::checks::{self, Check};

/// What YAML shape a key takes (see `value::stringify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bool,
    Int,
    List,
    Map,
}

/// Where a value comes from when the user does not give it.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    /// The user must set it ("Must set X, no way to calculate value.").
    Required,
    Value(&'static str),
    /// The resolved value of another (earlier) key.
    SameAs(&'static str),
    /// Computed from the resolved values of (earlier) keys, as gen's
    /// `calculate_*` defaults are; not computed if one of them is invalid.
    Derived(&'static [&'static str], fn(&[&str]) -> String),
    /// No value unless the user gives one (gen validates such a key only
    /// when it is set: `channel_name`, `os_type`).
    Absent,
}

#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Default,
    pub check: Option<Check>,
    /// Hidden in the served config.json (still part of the config id).
    pub secret: bool,
    /// In scope only when the (earlier) key has one of these values.
    pub when: Option<(&'static str, &'static [&'static str])>,
    /// Accepted for DC/OS compatibility but without effect in tarmac (the
    /// reason): setting it is a warning unless a template reads it.
    pub unused: Option<&'static str>,
}

const fn key(name: &'static str, kind: Kind, default: Default) -> KeySpec {
    KeySpec {
        name,
        kind,
        default,
        check: None,
        secret: false,
        when: None,
        unused: None,
    }
}

impl KeySpec {
    const fn check(mut self, check: Check) -> Self {
        self.check = Some(check);
        self
    }
    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
    const fn unused(mut self, reason: &'static str) -> Self {
        self.unused = Some(reason);
        self
    }
    const fn when(mut self, switch: &'static str, values: &'static [&'static str]) -> Self {
        self.when = Some((switch, values));
        self
    }
}

use self::Default::{Absent, Derived, Required, SameAs, Value};
use Kind::{Bool, Int, List, Map, Str};

const fn boolean(name: &'static str, default: &'static str) -> KeySpec {
    key(name, Bool, Value(default)).check(checks::true_false)
}

pub const MASTER_DISCOVERY: &[&str] = &["static", "master_http_loadbalancer"];
pub const STORAGE_BACKENDS: &[&str] = &[
    "static",
    "zookeeper",
    "aws_s3",
    "azure",
    "shared_filesystem",
    "agent_only_group_no_exhibitor",
];

const DEFAULT_OVERLAY: &str = r#"{"vtep_subnet": "44.128.0.0/20", "vtep_subnet6": "fd01:a::/64", "vtep_mac_oui": "70:B3:D5:00:00:00", "overlays": [{"name": "dcos", "subnet": "9.0.0.0/8", "prefix": 24}, {"name": "dcos6", "subnet6": "fd01:b::/64", "prefix6": 80}]}"#;
const DEFAULT_REXRAY: &str = r#"{"rexray": {"loglevel": "info", "modules": {"default-docker": {"disabled": true}}, "service": "vfs"}}"#;

/// Every user-settable key, in resolution order (a `when` or `SameAs` refers
/// only to earlier keys).
pub static KEYS: &[KeySpec] = &[
    key("bootstrap_url", Str, Required).check(checks::bootstrap_url),
    // tarmac: mirrors of the serve tree (bootstrap_url stays the origin).
    key("bootstrap_mirrors", List, Value("[]")).check(checks::mirror_list),
    key("cluster_name", Str, Required).check(checks::not_empty),
    key("master_discovery", Str, Required).check(|v| checks::one_of(v, MASTER_DISCOVERY)),
    key("exhibitor_storage_backend", Str, Required).check(|v| checks::one_of(v, STORAGE_BACKENDS)),
    // master_discovery: static
    key("master_list", List, Required)
        .check(checks::ip_list)
        .when("master_discovery", &["static"]),
    // master_discovery: master_http_loadbalancer
    key("exhibitor_address", Str, Required)
        .check(checks::not_empty)
        .when("master_discovery", &["master_http_loadbalancer"]),
    key("num_masters", Int, Required)
        .check(checks::num_masters)
        .when("master_discovery", &["master_http_loadbalancer"]),
    key("agent_list", List, Value("[]")).check(checks::ip_list),
    key("public_agent_list", List, Value("[]")).check(checks::ip_list),
    key("resolvers", List, Required).check(checks::resolvers),
    key("dns_search", Str, Value("")).check(checks::dns_search),
    key("dns_forward_zones", Map, Value("{}")).check(checks::dns_forward_zones),
    key("dns_bind_ip_blacklist", List, Value("[]")).check(checks::ip_list),
    key("ip_detect_filename", Str, Value("genconf/ip-detect")).check(checks::not_empty),
    key("ip_detect_public_filename", Str, Value("")),
    key("ip6_detect_filename", Str, Value("")),
    key(
        "fault_domain_detect_filename",
        Str,
        Value("genconf/fault-domain-detect"),
    ),
    key("dns_bind_ip_reserved", List, Value(r#"["198.51.100.4"]"#)).check(checks::ip_list),
    // exhibitor_storage_backend: zookeeper
    key("exhibitor_zk_hosts", Str, Required)
        .check(checks::zk_hosts)
        .when("exhibitor_storage_backend", &["zookeeper"]),
    key("exhibitor_zk_path", Str, Required)
        .check(checks::zk_path)
        .when("exhibitor_storage_backend", &["zookeeper"]),
    // exhibitor_storage_backend: aws_s3
    key("aws_region", Str, Required)
        .check(checks::not_empty)
        .when("exhibitor_storage_backend", &["aws_s3"]),
    key("s3_bucket", Str, Required)
        .check(checks::not_empty)
        .when("exhibitor_storage_backend", &["aws_s3"]),
    key("s3_prefix", Str, Required)
        .check(checks::s3_prefix)
        .when("exhibitor_storage_backend", &["aws_s3"]),
    key("exhibitor_explicit_keys", Bool, Required)
        .check(checks::true_false)
        .when("exhibitor_storage_backend", &["aws_s3"]),
    key("aws_access_key_id", Str, Required)
        .check(checks::not_empty)
        .when("exhibitor_explicit_keys", &["true"]),
    key("aws_secret_access_key", Str, Value(""))
        .secret()
        .when("exhibitor_explicit_keys", &["true"]),
    // exhibitor_storage_backend: azure
    key("exhibitor_azure_account_name", Str, Required)
        .check(checks::not_empty)
        .when("exhibitor_storage_backend", &["azure"]),
    key("exhibitor_azure_account_key", Str, Value(""))
        .secret()
        .when("exhibitor_storage_backend", &["azure"]),
    key("exhibitor_azure_prefix", Str, Required).when("exhibitor_storage_backend", &["azure"]),
    // exhibitor_storage_backend: shared_filesystem
    key("exhibitor_fs_config_dir", Str, Required)
        .check(checks::absolute_path)
        .when("exhibitor_storage_backend", &["shared_filesystem"]),
    boolean("exhibitor_tls_enabled", "false"),
    boolean("exhibitor_tls_required", "false"),
    key("exhibitor_bootstrap_ca_url", Str, Value("")).check(checks::exhibitor_bootstrap_ca_url),
    key("exhibitor_admin_password", Str, Value("")).secret(),
    key("master_external_loadbalancer", Str, Value("")),
    // Proxy
    boolean("use_proxy", "false"),
    key("http_proxy", Str, Required).when("use_proxy", &["true"]),
    key("https_proxy", Str, Required).when("use_proxy", &["true"]),
    key("no_proxy", List, Value("[]"))
        .check(checks::json_list_check)
        .when("use_proxy", &["true"]),
    // Security and authentication
    boolean("oauth_enabled", "true"),
    boolean("oauth_available", "true"),
    key("adminrouter_auth_enabled", Bool, SameAs("oauth_enabled")).check(checks::true_false),
    key("oauth_issuer_url", Str, Value("https://dcos.auth0.com/")),
    key(
        "oauth_client_id",
        Str,
        Value("3yF5TOSzdlI45Q1xspxzeoGBe9fNxm9m"),
    ),
    key("oauth_auth_redirector", Str, Value("https://auth.dcos.io")),
    key("oauth_auth_host", Str, Value("https://dcos.auth0.com")),
    boolean("auth_cookie_secure_flag", "false"),
    key("superuser_service_account_uid", Str, Value("")),
    key("superuser_service_account_public_key", Str, Value("")).check(checks::rsa_public_key_pem),
    boolean("adminrouter_tls_1_0_enabled", "false"),
    boolean("adminrouter_tls_1_1_enabled", "false"),
    boolean("adminrouter_tls_1_2_enabled", "true"),
    key("adminrouter_tls_cipher_suite", Str, Value("")),
    key("adminrouter_x_frame_options", Str, Value("DENY")).check(checks::x_frame_options),
    key("adminrouter_grpc_proxy_port", Int, Value("12379")).check(checks::port),
    // Docker credentials
    key("cluster_docker_credentials", Map, Value("{}"))
        .check(checks::json_dict_check)
        .secret(),
    boolean("cluster_docker_credentials_enabled", "false"),
    boolean("cluster_docker_credentials_write_to_etc", "false"),
    key("cluster_docker_registry_url", Str, Value("")),
    // Features
    boolean("telemetry_enabled", "true"),
    boolean("check_time", "true"),
    boolean("enable_lb", "true"),
    boolean("enable_ipv6", "true"),
    boolean("enable_gpu_isolation", "true"),
    boolean("gpus_are_scarce", "true"),
    boolean("enable_docker_gc", "false"),
    boolean("master_dns_bindall", "true"),
    boolean("mesos_dns_set_truncate_bit", "true"),
    boolean("mesos_cgroups_enable_cfs", "true"),
    key(
        "mesos_dns_ip_sources",
        List,
        Value(r#"["host", "netinfo"]"#),
    )
    .check(checks::json_list_check),
    // Mesos
    key("mesos_log_retention_mb", Int, Value("4000")).check(checks::mesos_log_retention_mb),
    key(
        "mesos_container_log_sink",
        Str,
        Value("fluentbit+logrotate"),
    )
    .check(checks::mesos_container_log_sink),
    key("mesos_max_completed_frameworks", Int, Value("10")).check(checks::integer),
    key("mesos_max_completed_tasks_per_framework", Int, Value("100")).check(checks::integer),
    key("mesos_recovery_timeout", Str, Value("24hrs")).check(checks::mesos_recovery_timeout),
    boolean("mesos_seccomp_enabled", "true"),
    key("mesos_seccomp_profile_name", Str, Value("default.json")),
    key(
        "mesos_master_work_dir",
        Str,
        Value("/var/lib/dcos/mesos/master"),
    )
    .check(checks::absolute_path),
    key("mesos_agent_work_dir", Str, Value("/var/lib/mesos/slave")).check(checks::absolute_path),
    key(
        "diagnostics_bundles_dir",
        Str,
        Value("/var/lib/dcos/dcos-diagnostics/diag-bundles"),
    )
    .check(checks::absolute_path),
    key("gc_delay", Str, Value("2days")),
    key("docker_remove_delay", Str, Value("1hrs")),
    key("docker_stop_timeout", Str, Value("20secs")),
    // Networking
    boolean("dcos_overlay_enable", "true"),
    key("dcos_overlay_mtu", Int, Value("1420")).check(|v| checks::int_in_range(v, 552, None)),
    key("dcos_overlay_config_attempts", Int, Value("4"))
        .check(|v| checks::int_in_range(v, 0, Some(10))),
    key("dcos_overlay_network", Map, Value(DEFAULT_OVERLAY)).check(checks::dcos_overlay_network),
    key("dcos_l4lb_min_named_ip", Str, Value("11.0.0.0")).check(checks::ipv4),
    key("dcos_l4lb_max_named_ip", Str, Value("11.255.255.255")).check(checks::ipv4),
    key("dcos_l4lb_min_named_ip6", Str, Value("fd01:c::")).check(checks::ipv6),
    key(
        "dcos_l4lb_max_named_ip6",
        Str,
        Value("fd01:c::ffff:ffff:ffff:ffff"),
    )
    .check(checks::ipv6),
    boolean("dcos_l4lb_enable_ipv6", "true"),
    boolean("calico_enabled", "true"),
    key("calico_network_cidr", Str, Value("172.29.0.0/16")).check(checks::subnet4),
    key("calico_ipinip_mtu", Int, Value("1480")).check(|v| checks::int_in_range(v, 552, None)),
    key("calico_veth_mtu", Int, Value("1500")).check(|v| checks::int_in_range(v, 552, None)),
    key("calico_vxlan_mtu", Int, Value("1450")).check(|v| checks::int_in_range(v, 552, None)),
    boolean("calico_vxlan_enabled", "true"),
    key("calico_vxlan_port", Int, Value("64000"))
        .check(|v| checks::int_in_range(v, 1025, Some(65535))),
    key("calico_vxlan_vni", Int, Value("4096")).check(checks::vxlan_vni),
    key("zk_client_port", Int, Value("2181")).check(checks::port),
    // Storage
    key("rexray_config_preset", Str, Value("")).check(|v| checks::one_of(v, &["", "aws"])),
    // With the aws preset, gen computes rexray_config: the user may not set it.
    key("rexray_config", Map, Value(DEFAULT_REXRAY))
        .check(checks::json_dict_check)
        .when("rexray_config_preset", &[""]),
    // More of gen's defaults and validators (calc.py `entry`).
    boolean("dcos_net_cluster_identity", "false"),
    boolean("dcos_net_rest_enable", "true"),
    boolean("dcos_net_watchdog", "true"),
    boolean("dcos_remove_dockercfg_enable", "false"),
    boolean("dcos_l4lb_enable_ipset", "true"),
    key("dcos_net_push_ops_timeout", Int, Value("1000"))
        .check(|v| checks::int_in_range(v, 50, Some(120_000))),
    key("dcos_overlay_network_default_name", Str, Value("dcos")),
    key(
        "dcos_ucr_default_bridge_subnet",
        Str,
        Value("172.31.254.0/24"),
    )
    .check(checks::subnet4),
    key(
        "dcos_ucr_default_bridge_network_name",
        Str,
        Value("mesos-bridge"),
    ),
    key(
        "dcos_cni_data_dir",
        Str,
        Value("/var/run/dcos/cni/networks"),
    )
    .check(checks::absolute_path),
    boolean("aws_masters_have_public_ip", "false")
        .unused("DC/OS's AWS templates pick their public ip-detect script by it"),
    boolean("mesos_docker_volume_chown", "false"),
    boolean("mesos_disallow_sharing_agent_ipc_namespace", "false"),
    boolean("mesos_http_executor_domain_sockets", "true"),
    boolean("enable_mesos_ipv6_discovery", "false"),
    boolean("log_offers", "true"),
    boolean("mesos_cni_root_dir_persist", "false"),
    boolean("enable_mesos_input_plugin", "true"),
    boolean("intercom_enabled", "true"),
    key("mesos_logrotate_file_size_mb", Int, Value("2")).check(checks::integer),
    key("mesos_default_container_shm_size", Str, Value("")).check(checks::shm_size),
    key("marathon_new_group_enforce_role", Str, Value("top"))
        .check(|v| checks::one_of(v, &["top", "off", ""])),
    key(
        "metronome_gpu_scheduling_behavior",
        Str,
        Value("restricted"),
    )
    .check(|v| checks::one_of(v, &["restricted", "unrestricted", ""])),
    key("marathon_gpu_scheduling_behavior", Str, Value("restricted"))
        .check(|v| checks::one_of(v, &["restricted", "unrestricted", ""])),
    key("marathon_java_args", Str, Value("")),
    key("weights", Str, Value("")),
    key("bootstrap_tmp_dir", Str, Value("tmp")).check(checks::not_empty),
    key("custom_checks", Map, Value("{}")).check(checks::check_config),
    key("license_key_contents", Str, Value("")).secret(),
    key("ui_banner_background_color", Str, Value("#1E232F")),
    key("ui_banner_foreground_color", Str, Value("#FFFFFF")),
    key("ui_banner_header_title", Str, Value("null")),
    key("ui_banner_header_content", Str, Value("null")),
    key("ui_banner_footer_content", Str, Value("null")),
    key("ui_banner_image_path", Str, Value("null")),
    key("ui_banner_dismissible", Str, Value("null")),
    key("ui_banner", Bool, Value("false")).check(checks::true_false),
    key("ui_tracking", Bool, Value("true")).check(checks::true_false),
    key("ui_update_enabled", Bool, Value("true")).check(checks::true_false),
    // Installer (SSH deployment keys of dcos_installer; accepted, unused here)
    key("process_timeout", Int, Value("10000"))
        .check(checks::integer)
        .unused(SSH_INSTALLER),
    key("ssh_user", Str, Value("")).unused(SSH_INSTALLER),
    key("ssh_port", Int, Value("22"))
        .check(checks::port)
        .unused(SSH_INSTALLER),
    key("ssh_parallelism", Int, Value("20"))
        .check(checks::integer)
        .unused(SSH_INSTALLER),
    key("ssh_key_path", Str, Value("")).unused(SSH_INSTALLER),
    // Issue 13: more keys gen accepts (gen/calc.py `entry` and
    // gen/build_deploy/bash.py's onprem source).
    key("platform", Str, Value("onprem")).unused(
        "DC/OS's build_deploy picks its cloud templates by it; cfg-gen writes one on-premises tree",
    ),
    key("bootstrap_variant", Str, Value("")).unused(
        "DC/OS picks its enterprise or open package set by it; the bundle (--dist) decides here",
    ),
    key("channel_name", Str, Absent)
        .check(checks::channel_name)
        .unused("DC/OS's release channels; cfg-gen serves one tree"),
    key("os_type", Str, Absent)
        .check(|v| checks::one_of(v, &["coreos", "el7"]))
        .unused("only DC/OS's AWS templates read it"),
    key("custom_auth_json", Str, Absent).unused(
        "gen reads it only under custom_auth: true, which it fixes to false (DC/OS Enterprise)",
    ),
    key(
        "cluster_docker_credentials_dcos_owned",
        Bool,
        Derived(
            &["cluster_docker_credentials"],
            docker_credentials_dcos_owned,
        ),
    )
    .check(checks::true_false),
    key(
        "check_config",
        Map,
        Derived(&["check_time"], builtin_check_config),
    )
    .check(checks::check_config),
    // The scripts inline (DC/OS documents `ip_detect_contents`); when absent,
    // cfg-gen reads the *_filename files (resolve::compute).
    key("ip_detect_contents", Str, Absent).check(checks::script_text),
    key("ip_detect_public_contents", Str, Absent).check(checks::script_text),
    key("ip6_detect_contents", Str, Absent),
    key("fault_domain_detect_contents", Str, Absent),
    key("dcos_overlay_network6_default_name", Str, Value("dcos6")),
    key(
        "dcos_overlay_network_json",
        Map,
        Derived(
            &["dcos_overlay_network", "enable_ipv6"],
            overlay_network_json,
        ),
    )
    .check(checks::dcos_overlay_network),
];

const SSH_INSTALLER: &str =
    "DC/OS 1.x's SSH installer deployed with it; hosts run dcos_install.sh here";

/// gen's calculate_docker_credentials_dcos_owned: credentials given.
fn docker_credentials_dcos_owned(inputs: &[&str]) -> String {
    (inputs.first() != Some(&"{}")).to_string()
}

/// gen's calculate_dcos_overlay_network_json: with IPv6 disabled, the
/// overlays without an IPv4 `subnet` are marked `"enabled": false`.
fn overlay_network_json(inputs: &[&str]) -> String {
    let (Some(network), Some(ipv6)) = (inputs.first(), inputs.get(1)) else {
        return String::new();
    };
    let Ok(mut network) = serde_json::from_str::<serde_json::Value>(network) else {
        return (*network).to_string();
    };
    if *ipv6 == "false" {
        if let Some(overlays) = network.get_mut("overlays").and_then(|o| o.as_array_mut()) {
            for overlay in overlays {
                if let Some(overlay) = overlay.as_object_mut() {
                    if !overlay.contains_key("subnet") {
                        overlay.insert("enabled".into(), serde_json::Value::Bool(false));
                    }
                }
            }
        }
    }
    crate::value::python_json_value(&network)
}

/// gen's calculate_check_config: the node checks DC/OS runs on every host,
/// plus the clock check when `check_time` is true.
fn builtin_check_config(inputs: &[&str]) -> String {
    const BIN: &str = "/opt/mesosphere/bin/dcos-checks";
    let check = |description: &str, args: &[&str], timeout: &str, role: Option<&str>| {
        let mut cmd = vec![BIN];
        cmd.extend_from_slice(args);
        let mut check = serde_json::json!({
            "description": description,
            "cmd": cmd,
            "timeout": timeout,
        });
        if let (Some(role), Some(map)) = (role, check.as_object_mut()) {
            map.insert("roles".into(), serde_json::json!([role]));
        }
        check
    };
    let mut checks = vec![
        (
            "components_master",
            check(
                "All DC/OS components are healthy.",
                &[
                    "--role",
                    "master",
                    "components",
                    "--exclude=dcos-checks-poststart.timer,dcos-checks-poststart.service",
                ],
                "30s",
                Some("master"),
            ),
        ),
        (
            "components_agent",
            check(
                "All DC/OS components are healthy",
                &[
                    "--role",
                    "agent",
                    "components",
                    "--port",
                    "61001",
                    "--exclude=dcos-checks-poststart.service,dcos-checks-poststart.timer",
                ],
                "30s",
                Some("agent"),
            ),
        ),
        (
            "xz",
            check(
                "The xz utility is available",
                &["executable", "xz"],
                "5s",
                None,
            ),
        ),
        (
            "tar",
            check(
                "The tar utility is available",
                &["executable", "tar"],
                "5s",
                None,
            ),
        ),
        (
            "curl",
            check(
                "The curl utility is available",
                &["executable", "curl"],
                "5s",
                None,
            ),
        ),
        (
            "unzip",
            check(
                "The unzip utility is available",
                &["executable", "unzip"],
                "5s",
                None,
            ),
        ),
        (
            "ip_detect_script",
            check(
                "The IP detect script produces valid output",
                &["ip"],
                "30s",
                None,
            ),
        ),
        (
            "docker",
            check(
                "Docker is installed",
                &["executable", "docker"],
                "30s",
                None,
            ),
        ),
        (
            "mesos_master_replog_synchronized",
            check(
                "The Mesos master has synchronized its replicated log",
                &["--role", "master", "mesos-metrics"],
                "30s",
                Some("master"),
            ),
        ),
        (
            "mesos_agent_registered_with_masters",
            check(
                "The Mesos agent has registered with the masters",
                &["--role", "agent", "mesos-metrics"],
                "30s",
                Some("agent"),
            ),
        ),
        (
            "journald_dir_permissions",
            check(
                "Journald directory has the right owners and permissions",
                &["journald"],
                "5s",
                None,
            ),
        ),
        (
            "cockroachdb_replication",
            check(
                "CockroachDB is fully replicated",
                &["cockroachdb", "ranges"],
                "30s",
                Some("master"),
            ),
        ),
    ];
    let mut poststart: Vec<&str> = checks.iter().map(|(name, _)| *name).collect();
    // gen lists ip_detect_script after docker in poststart.
    poststart.swap(6, 7);
    if inputs.first() == Some(&"true") {
        checks.push((
            "clock_sync",
            check("System clock is in sync.", &["time"], "5s", None),
        ));
        poststart.push("clock_sync");
    }
    let checks: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, check)| (name.to_string(), check))
        .collect();
    crate::value::python_json_value(&serde_json::json!({
        "node_checks": {
            "checks": checks,
            "prestart": [],
            "poststart": poststart,
        }
    }))
}

/// Keys gen knows that cfg-gen refuses, with the reason (shown when set).
/// gen refuses to let a user set them as well: it computes them itself
/// ("must") or only its AWS/Azure template builds know them.
pub static GEN_ONLY: &[(&str, &str)] = &[
    ("adminrouter_tls_cipher_override", GEN_COMPUTES),
    ("check_config_contents", GEN_COMPUTES),
    ("check_ld_library_path", GEN_COMPUTES),
    ("check_search_path", GEN_COMPUTES),
    ("cluster_packages", GEN_BUILTIN),
    ("cluster_package_list_id", GEN_BUILTIN),
    ("config_yaml", GEN_BUILTIN),
    ("config_yaml_full", GEN_BUILTIN),
    ("config_package_names", GEN_BUILTIN),
    ("custom_auth", GEN_COMPUTES),
    ("custom_check_bins_dir", GEN_COMPUTES),
    ("custom_check_bins_hash", GEN_COMPUTES),
    ("custom_check_bins_package_id", GEN_COMPUTES),
    ("custom_check_bins_package_name", GEN_COMPUTES),
    ("custom_check_bins_provided", GEN_COMPUTES),
    ("dcos_image_commit", GEN_COMPUTES),
    ("dcos_l4lb_forward_metrics", GEN_COMPUTES),
    ("dcos_l4lb_max_named_ip6_erltuple", GEN_COMPUTES),
    ("dcos_l4lb_max_named_ip_erltuple", GEN_COMPUTES),
    ("dcos_l4lb_min_named_ip6_erltuple", GEN_COMPUTES),
    ("dcos_l4lb_min_named_ip_erltuple", GEN_COMPUTES),
    ("dcos_variant", GEN_COMPUTES),
    ("expanded_config", GEN_BUILTIN),
    ("expanded_config_full", GEN_BUILTIN),
    ("fair_sharing_excluded_resource_names", GEN_COMPUTES),
    ("fault_domain_enabled", GEN_COMPUTES),
    ("has_marathon_gpu_scheduling_behavior", GEN_COMPUTES),
    ("has_marathon_new_group_enforce_role", GEN_COMPUTES),
    ("has_mesos_default_container_shm_size", GEN_COMPUTES),
    ("has_mesos_seccomp_profile_name", GEN_COMPUTES),
    ("has_metronome_gpu_scheduling_behavior", GEN_COMPUTES),
    ("licensing_enabled", GEN_COMPUTES),
    ("mesos_agent_log_file", GEN_COMPUTES),
    ("mesos_hooks", GEN_COMPUTES),
    ("mesos_log_directory_max_files", GEN_COMPUTES),
    ("mesos_log_retention_count", GEN_COMPUTES),
    ("mesos_master_log_file", GEN_COMPUTES),
    ("no_proxy_final", GEN_COMPUTES),
    ("package_ids", GEN_COMPUTES),
    ("profile_symlink_source", GEN_COMPUTES),
    ("profile_symlink_target", GEN_COMPUTES),
    ("profile_symlink_target_dir", GEN_COMPUTES),
    ("provider", GEN_COMPUTES),
    ("rexray_config_contents", GEN_COMPUTES),
    ("template_filenames", GEN_BUILTIN),
    ("ui_branding", GEN_COMPUTES),
    ("ui_external_links", GEN_COMPUTES),
    ("ui_networking", GEN_COMPUTES),
    ("ui_organization", GEN_COMPUTES),
    ("ui_telemetry_metadata", GEN_COMPUTES),
    ("use_mesos_hooks", GEN_COMPUTES),
    ("user_arguments", GEN_BUILTIN),
    ("user_arguments_full", GEN_BUILTIN),
    ("agent_private_cloud_config", GEN_CLOUD),
    ("agent_public_cloud_config", GEN_CLOUD),
    ("agent_role", GEN_CLOUD),
    ("aws_stack_id", GEN_CLOUD),
    ("aws_stack_name", GEN_CLOUD),
    ("cloud_config", GEN_CLOUD),
    ("master_cloud_config", GEN_CLOUD),
    ("master_role", GEN_CLOUD),
    ("nat_ami_mapping", GEN_CLOUD),
    ("num_private_slaves", GEN_CLOUD),
    ("num_public_slaves", GEN_CLOUD),
    ("region_to_ami_mapping", GEN_CLOUD),
    ("slave_cloud_config", GEN_CLOUD),
    ("slave_public_cloud_config", GEN_CLOUD),
];

const GEN_COMPUTES: &str = "is computed by DC/OS's gen for its own templates and cannot be set in config.yaml (gen refuses it too; cfg-gen does not provide it)";
const GEN_BUILTIN: &str = "is built in by DC/OS's gen (the rendered configuration itself) and cannot be set in config.yaml";
const GEN_CLOUD: &str =
    "is set only by DC/OS's AWS/Azure template builds; its on-premises installer refuses it too";

/// The reason a key gen knows is refused, if it is one of `GEN_ONLY`.
pub fn gen_only(name: &str) -> Option<&'static str> {
    GEN_ONLY.iter().find(|(k, _)| *k == name).map(|(_, r)| *r)
}

/// Keys cfg-gen computes; setting one in config.yaml is an error.
pub static COMPUTED: &[&str] = &[
    "_superuser_service_account_public_key_json",
    "adminrouter_tls_version_override",
    "bootstrap_id",
    "cluster_docker_credentials_path",
    "cluster_docker_registry_enabled",
    "curly_pound",
    "dcos_gen_resolvconf_search_str",
    "dcos_version",
    "dns_bind_ip_blacklist_json",
    "exhibitor_admin_password_enabled",
    "exhibitor_port",
    "exhibitor_static_ensemble",
    "has_master_external_loadbalancer",
    "marathon_port",
    "master_quorum",
    "mesos_agent_port",
    "mesos_dns_port",
    "mesos_dns_resolvers_str",
    "mesos_isolation",
    "mesos_master_port",
    "metronome_port",
    "num_masters",
    "resolvers_str",
    "rexray_config",
];

pub fn spec(name: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == name)
}

/// The known key nearest to `name` (a likely typo), if it is close.
pub fn suggestion(name: &str, extra: &[String]) -> Option<String> {
    let candidates = KEYS
        .iter()
        .map(|k| k.name.to_string())
        .chain(extra.iter().cloned());
    candidates
        .map(|c| (edit_distance(name, &c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 5))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::BTreeSet::new();
        for (i, spec) in KEYS.iter().enumerate() {
            assert!(seen.insert(spec.name), "{} twice", spec.name);
            assert!(
                !COMPUTED.contains(&spec.name) || spec.when.is_some(),
                "{}",
                spec.name
            );
            let earlier = |name: &str| KEYS[..i].iter().any(|k| k.name == name);
            if let Some((switch, _)) = spec.when {
                assert!(earlier(switch), "{} depends on later {switch}", spec.name);
            }
            if let SameAs(other) = spec.default {
                assert!(earlier(other), "{}", spec.name);
            }
            if let Derived(inputs, _) = spec.default {
                assert!(inputs.iter().all(|k| earlier(k)), "{}", spec.name);
            }
            assert!(
                gen_only(spec.name).is_none(),
                "{} refused and accepted",
                spec.name
            );
            // Every default passes its own check.
            if let (Value(default), Some(check)) = (spec.default, spec.check) {
                assert!(check(default).is_ok(), "default of {} fails", spec.name);
            }
        }
    }

    #[test]
    fn gen_only_keys_are_neither_computed_nor_listed_twice() {
        let mut seen = std::collections::BTreeSet::new();
        for (name, reason) in GEN_ONLY {
            assert!(seen.insert(*name), "{name} twice");
            assert!(!COMPUTED.contains(name), "{name}");
            assert!(!reason.is_empty());
        }
    }

    #[test]
    fn derived_defaults_follow_gen() {
        assert_eq!(docker_credentials_dcos_owned(&["{}"]), "false");
        assert_eq!(docker_credentials_dcos_owned(&[r#"{"auths": {}}"#]), "true");
        let with_clock = builtin_check_config(&["true"]);
        let without = builtin_check_config(&["false"]);
        assert!(with_clock.contains(r#""clock_sync": {"description": "System clock is in sync.", "cmd": ["/opt/mesosphere/bin/dcos-checks", "time"], "timeout": "5s"}"#));
        assert!(!without.contains("clock_sync"));
        // Both pass gen's schema, as gen's own default does.
        assert_eq!(checks::check_config(&with_clock), Ok(()));
        assert_eq!(checks::check_config(&without), Ok(()));
        let network = r#"{"overlays": [{"name": "a", "subnet": "9.0.0.0/8"}, {"name": "b", "subnet6": "fd01:b::/64"}]}"#;
        assert_eq!(overlay_network_json(&[network, "true"]), network);
        assert_eq!(
            overlay_network_json(&[network, "false"]),
            r#"{"overlays": [{"name": "a", "subnet": "9.0.0.0/8"}, {"name": "b", "subnet6": "fd01:b::/64", "enabled": false}]}"#
        );
    }

    #[test]
    fn suggests_near_keys() {
        assert_eq!(
            suggestion("master_lst", &[]).as_deref(),
            Some("master_list")
        );
        assert_eq!(suggestion("resolver", &[]).as_deref(), Some("resolvers"));
        assert_eq!(suggestion("completely_else", &[]), None);
    }
}
