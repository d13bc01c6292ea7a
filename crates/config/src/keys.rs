//! The table of config.yaml keys an operator may set: kind, default, check,
//! secrecy, and the switch that brings a key into scope.
//!
//! This mirrors gen/calc.py's `entry` (defaults and validators) plus the
//! keys gen's templates pull in through `{% switch %}` cases: a key whose
//! `when` switch has another value is out of scope, and setting it is an
//! error (gen accepts and ignores it; a typo'd backend then silently loses
//! its settings). Computed keys ("must" in gen) live in `resolve`.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// The user must set it ("Must set X, no way to calculate value.").
    Required,
    Value(&'static str),
    /// The resolved value of another (earlier) key.
    SameAs(&'static str),
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
}

const fn key(name: &'static str, kind: Kind, default: Default) -> KeySpec {
    KeySpec {
        name,
        kind,
        default,
        check: None,
        secret: false,
        when: None,
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
    const fn when(mut self, switch: &'static str, values: &'static [&'static str]) -> Self {
        self.when = Some((switch, values));
        self
    }
}

use self::Default::{Required, SameAs, Value};
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
    key("superuser_service_account_public_key", Str, Value("")),
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
    boolean("aws_masters_have_public_ip", "false"),
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
    key("bootstrap_tmp_dir", Str, Value("tmp")).check(checks::bootstrap_tmp_dir),
    key("custom_checks", Map, Value("{}")).check(checks::json_dict_check),
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
    key("process_timeout", Int, Value("10000")).check(checks::integer),
    key("ssh_user", Str, Value("")),
    key("ssh_port", Int, Value("22")).check(checks::port),
    key("ssh_parallelism", Int, Value("20")).check(checks::integer),
    key("ssh_key_path", Str, Value("")),
];

/// Keys cfg-gen computes; setting one in config.yaml is an error.
pub static COMPUTED: &[&str] = &[
    "_superuser_service_account_public_key_json",
    "adminrouter_tls_version_override",
    "bootstrap_id",
    "cluster_docker_credentials_dcos_owned",
    "cluster_docker_credentials_path",
    "cluster_docker_registry_enabled",
    "curly_pound",
    "dcos_gen_resolvconf_search_str",
    "dcos_version",
    "dns_bind_ip_blacklist_json",
    "exhibitor_admin_password_enabled",
    "exhibitor_port",
    "exhibitor_static_ensemble",
    "fault_domain_detect_contents",
    "has_master_external_loadbalancer",
    "ip_detect_contents",
    "ip_detect_public_contents",
    "ip6_detect_contents",
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
            // Every default passes its own check.
            if let (Value(default), Some(check)) = (spec.default, spec.check) {
                assert!(check(default).is_ok(), "default of {} fails", spec.name);
            }
        }
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
