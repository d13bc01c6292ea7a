//! Per-value checks, each the counterpart of one gen/calc.py validator.
//!
//! Every function takes the DC/OS string form of a value and returns the
//! reason it is invalid; the caller adds the key and the value. Messages
//! follow gen's wording where gen has one, so operators find them.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

pub type Check = fn(&str) -> Result<(), String>;

pub fn true_false(value: &str) -> Result<(), String> {
    one_of(value, &["true", "false"])
}

pub fn one_of(value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        let options: Vec<String> = allowed.iter().map(|v| format!("'{v}'")).collect();
        Err(format!(
            "Must be one of {}. Got '{value}'.",
            options.join(", ")
        ))
    }
}

pub fn int_in_range(value: &str, low: i64, high: Option<i64>) -> Result<(), String> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| format!("Must be an integer but got a string: {value}"))?;
    match high {
        None if n < low => Err(format!("Must be above or equal to {low}")),
        Some(high) if n < low || n > high => {
            Err(format!("Must be between {low} and {high} inclusive"))
        }
        _ => Ok(()),
    }
}

pub fn port(value: &str) -> Result<(), String> {
    int_in_range(value, 1, Some(65535))
}

pub fn integer(value: &str) -> Result<(), String> {
    int_in_range(value, i64::MIN, None)
}

/// inet_pton(AF_INET) rules: four decimal octets, no leading zeros.
pub fn valid_ipv4(text: &str) -> bool {
    text.parse::<Ipv4Addr>().is_ok()
}

pub fn ipv4(value: &str) -> Result<(), String> {
    if valid_ipv4(value) {
        Ok(())
    } else {
        Err(format!("Invalid IPv4 addresses in list: {value}"))
    }
}

pub fn ipv6(value: &str) -> Result<(), String> {
    if value.parse::<Ipv6Addr>().is_ok() {
        Ok(())
    } else {
        Err(format!("Invalid IPv6 addresses in list: {value}"))
    }
}

pub fn absolute_path(value: &str) -> Result<(), String> {
    if value.starts_with('/') {
        Ok(())
    } else {
        Err("Must be an absolute filesystem path".into())
    }
}

/// A JSON list of strings (gen's validate_json_list).
pub fn json_list(value: &str) -> Result<Vec<String>, String> {
    let parsed: serde_json::Value = serde_json::from_str(value).map_err(|e| {
        format!("Must be a JSON formatted list, but couldn't be parsed the given value `{value}` as one because of: {e}")
    })?;
    let items = parsed
        .as_array()
        .ok_or_else(|| format!("Must be a JSON list. Got a {}", json_type(&parsed)))?;
    let mut strings = Vec::new();
    let mut bad = Vec::new();
    for item in items {
        match item.as_str() {
            Some(s) => strings.push(s.to_string()),
            None => bad.push(format!("{item} type {}", json_type(item))),
        }
    }
    if !bad.is_empty() {
        return Err(format!(
            "Items in list must be strings, got invalid values: {}",
            bad.join(", ")
        ));
    }
    Ok(strings)
}

pub fn json_dict(value: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let parsed: serde_json::Value =
        serde_json::from_str(value).map_err(|_| format!("Must be valid JSON. Got: {value}"))?;
    match parsed {
        serde_json::Value::Object(map) => Ok(map),
        other => Err(format!(
            "Must be a JSON dictionary. Got a {}",
            json_type(&other)
        )),
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "NoneType",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(n) if n.is_f64() => "float",
        serde_json::Value::Number(_) => "int",
        serde_json::Value::String(_) => "str",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Object(_) => "dict",
    }
}

pub fn no_duplicates(items: &[String]) -> Result<(), String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for item in items {
        *counts.entry(item).or_default() += 1;
    }
    let duplicates: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(item, n)| format!("{item} appears {n} times"))
        .collect();
    if duplicates.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "List cannot contain duplicates: {}",
            duplicates.join(", ")
        ))
    }
}

fn invalid_ipv4s(items: &[String]) -> Result<(), String> {
    let invalid: Vec<&str> = items
        .iter()
        .filter(|ip| !valid_ipv4(ip))
        .map(String::as_str)
        .collect();
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Invalid IPv4 addresses in list: {}",
            invalid.join(", ")
        ))
    }
}

/// A JSON list of unique IPv4 addresses (master_list, agent_list, ...).
pub fn ip_list(value: &str) -> Result<(), String> {
    let items = json_list(value)?;
    no_duplicates(&items)?;
    invalid_ipv4s(&items)
}

/// A JSON list of unique `ip[:port]` (resolvers).
pub fn ip_port_list(value: &str) -> Result<(), String> {
    let items = json_list(value)?;
    no_duplicates(&items)?;
    let mut ips = Vec::new();
    for item in &items {
        match item.rsplit_once(':') {
            Some((ip, port_text)) => {
                port(port_text)?;
                ips.push(ip.to_string());
            }
            None => ips.push(item.clone()),
        }
    }
    invalid_ipv4s(&ips)
}

pub fn resolvers(value: &str) -> Result<(), String> {
    let items = json_list(value)?;
    no_duplicates(&items)?;
    const SPARTAN: [&str; 3] = ["198.51.100.1", "198.51.100.2", "198.51.100.3"];
    let hosts: Vec<&str> = items
        .iter()
        .map(|r| r.split(':').next().unwrap_or(""))
        .collect();
    let found: Vec<&str> = SPARTAN
        .iter()
        .copied()
        .filter(|s| hosts.contains(s))
        .collect();
    if !found.is_empty() {
        return Err(format!(
            "Spartan addresses found in `resolvers`: {}",
            found.join(", ")
        ));
    }
    ip_port_list(value)
}

pub fn bootstrap_url(value: &str) -> Result<(), String> {
    if value.len() <= 1 {
        return Err(
            "Should be a url (http://example.com/bar or file:///path/to/local/cache)".into(),
        );
    }
    if value.ends_with('/') {
        return Err("Must not end in a '/'".into());
    }
    // Stricter than gen: the installer downloads from it, so it must be a URL.
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err("Must be a URL: http://, https:// or file:// followed by a location".into());
    };
    if !matches!(scheme, "http" | "https" | "file") {
        return Err(format!(
            "Unsupported URL scheme '{scheme}': use http, https or file"
        ));
    }
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err("Must be a URL without spaces and with a location after the scheme".into());
    }
    Ok(())
}

/// A JSON list of unique URLs, each valid as `bootstrap_url` (mirrors of
/// the serve tree); the reason names the index and the value at fault.
pub fn mirror_list(value: &str) -> Result<(), String> {
    let items = json_list(value)?;
    for (index, item) in items.iter().enumerate() {
        bootstrap_url(item).map_err(|reason| format!("item {index} ({item}): {reason}"))?;
    }
    for (index, item) in items.iter().enumerate() {
        if let Some(first) = items[..index].iter().position(|earlier| earlier == item) {
            return Err(format!(
                "item {index} ({item}): the same URL as item {first}; list each mirror once"
            ));
        }
    }
    Ok(())
}

pub fn dns_search(value: &str) -> Result<(), String> {
    if value.contains('\n') {
        return Err("Newlines are not allowed".into());
    }
    if value.contains(',') {
        return Err("Commas are not allowed".into());
    }
    if value.len() >= 256 {
        return Err("Must be less than 256 characters long".into());
    }
    if value.split_whitespace().count() > 6 {
        return Err("Must contain no more than 6 domains".into());
    }
    Ok(())
}

pub fn num_masters(value: &str) -> Result<(), String> {
    match value.trim().parse::<i64>() {
        Ok(1 | 3 | 5 | 7 | 9) => Ok(()),
        _ => Err(format!("Must have 1, 3, 5, 7, or 9 masters. Found {value}")),
    }
}

pub fn zk_hosts(value: &str) -> Result<(), String> {
    if value.starts_with("zk://") {
        Err("Must be of the form `host:port,host:port', not start with zk://".into())
    } else if value.is_empty() {
        Err("Must not be empty".into())
    } else {
        Ok(())
    }
}

pub fn zk_path(value: &str) -> Result<(), String> {
    if value.starts_with('/') {
        Ok(())
    } else {
        Err("Must be of the form /path/to/znode".into())
    }
}

pub fn s3_prefix(value: &str) -> Result<(), String> {
    if value.ends_with('/') {
        Err("Must be a file path and cannot end in a /".into())
    } else {
        Ok(())
    }
}

/// gen's validate_channel_name (run only when the key is set).
pub fn channel_name(value: &str) -> Result<(), String> {
    if value.chars().count() <= 1 {
        return Err("Must be more than 2 characters".into());
    }
    if value.starts_with('/') {
        return Err("Must not start with a '/'".into());
    }
    if value.ends_with('/') {
        return Err("Must not end with a '/'".into());
    }
    Ok(())
}

/// An ip-detect script given inline: not blank (stricter than gen, as for
/// the script files).
pub fn script_text(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err("the ip-detect script is empty".into())
    } else {
        Ok(())
    }
}

pub fn not_empty(value: &str) -> Result<(), String> {
    if value.is_empty() {
        Err("Must not be empty".into())
    } else {
        Ok(())
    }
}

pub fn exhibitor_bootstrap_ca_url(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    if value.ends_with('/') {
        return Err("Must not end in a '/'".into());
    }
    // gen splits on `://` and wants exactly two parts.
    match value.split("://").collect::<Vec<_>>().as_slice() {
        ["https", _] => Ok(()),
        [_, _] => Err("Expected `https://` as `exhibitor_bootstrap_ca_url` protocol.".into()),
        _ => Err("Failed to determine `exhibitor_bootstrap_ca_url` protocol.".into()),
    }
}

/// A CIDR subnet of one family (gen's validate_config_subnet).
pub fn subnet(value: &str, v6: bool) -> Result<(), String> {
    let ok = value.split_once('/').is_some_and(|(address, prefix)| {
        let prefix: Option<u8> = prefix.parse().ok();
        match (v6, prefix) {
            (false, Some(p)) if p <= 32 => address
                .parse::<Ipv4Addr>()
                .is_ok_and(|a| host_bits_zero4(a, p)),
            (true, Some(p)) if p <= 128 => address
                .parse::<Ipv6Addr>()
                .is_ok_and(|a| host_bits_zero6(a, p)),
            _ => false,
        }
    }) || (!value.contains('/')
        && if v6 {
            value.parse::<Ipv6Addr>().is_ok()
        } else {
            valid_ipv4(value)
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Incorrect value: `{value}`. Only IPv{} subnets are allowed",
            if v6 { 6 } else { 4 }
        ))
    }
}

fn host_bits_zero4(address: Ipv4Addr, prefix: u8) -> bool {
    let bits = u32::from(address);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    bits & !mask == 0
}

fn host_bits_zero6(address: Ipv6Addr, prefix: u8) -> bool {
    let bits = u128::from(address);
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    bits & !mask == 0
}

pub fn subnet4(value: &str) -> Result<(), String> {
    subnet(value, false)
}

pub fn dns_forward_zones(value: &str) -> Result<(), String> {
    let err = |msg: String| format!("Invalid \"dns_forward_zones\": {msg}");
    let parsed: serde_json::Value =
        serde_json::from_str(value).map_err(|e| err(format!("{value} is not valid JSON: {e}")))?;
    let zones = parsed
        .as_object()
        .ok_or_else(|| err(format!("{parsed} is not a a dict")))?;
    for upstreams in zones.values() {
        let list = upstreams
            .as_array()
            .ok_or_else(|| err(format!("{upstreams} is not a list")))?;
        for upstream in list {
            let text = upstream
                .as_str()
                .ok_or_else(|| err(format!("{upstream} is not a string")))?;
            let ip = match text.rsplit_once(':') {
                Some((ip, port_text)) => {
                    port(port_text)?;
                    ip
                }
                None => text,
            };
            if !valid_ipv4(ip) {
                return Err(err(format!("{ip} not a valid IP address")));
            }
        }
    }
    Ok(())
}

pub fn mesos_container_log_sink(value: &str) -> Result<(), String> {
    const SINKS: [&str; 5] = [
        "fluentbit",
        "journald",
        "logrotate",
        "fluentbit+logrotate",
        "journald+logrotate",
    ];
    if SINKS.contains(&value) {
        Ok(())
    } else {
        Err("Container logs must go to 'fluentbit', 'journald', 'logrotate', 'fluentbit+logrotate', or 'journald+logrotate'.".into())
    }
}

pub fn vxlan_vni(value: &str) -> Result<(), String> {
    int_in_range(value, 1, Some(16_777_215))?;
    // gen compares the string with the integer 1024, so its check never
    // fires (COMPAT.md); tarmac compares numbers.
    if value.trim().parse::<i64>() == Ok(1024) {
        return Err("VXLAN VNI 1024 conflicts with that of the dcos overlay".into());
    }
    Ok(())
}

pub fn x_frame_options(value: &str) -> Result<(), String> {
    let upper = value.to_ascii_uppercase();
    let ok = upper == "DENY"
        || upper == "SAMEORIGIN"
        || (upper.starts_with("ALLOW-FROM")
            && value[10..].starts_with([' ', '\t'])
            && value[11..].chars().any(|c| c != '\n'));
    if ok {
        Ok(())
    } else {
        Err("X-Frame-Options must be set to one of DENY, SAMEORIGIN, ALLOW-FROM".into())
    }
}

pub fn mesos_log_retention_mb(value: &str) -> Result<(), String> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= 1024 => Ok(()),
        Ok(_) => Err("Must retain at least 1024 MB of logs".into()),
        Err(_) => Err(format!("Must be an integer but got a string: {value}")),
    }
}

pub fn mesos_recovery_timeout(value: &str) -> Result<(), String> {
    const UNITS: [&str; 8] = ["ns", "us", "ms", "secs", "mins", "hrs", "days", "weeks"];
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    if number.is_empty() || unit.is_empty() {
        return Err(format!(
            "Error parsing 'mesos_recovery_timeout' value: {value}."
        ));
    }
    if number.matches('.').count() > 1 {
        return Err("Invalid decimal format.".into());
    }
    // gen: float(value) <= 2**64 (a lone "." does not parse there either).
    match number.parse::<f64>() {
        Ok(n) if n <= 18_446_744_073_709_551_616.0 => {}
        Ok(_) => return Err(format!("Value {number} not in supported range.")),
        Err(_) => {
            return Err(format!(
                "Error parsing 'mesos_recovery_timeout' value: {value}."
            ))
        }
    }
    if !UNITS.contains(&unit) {
        return Err(format!("Unit '{unit}' not in {UNITS:?}."));
    }
    Ok(())
}

/// `mesos_default_container_shm_size`: empty, or a whole number and a unit.
pub fn shm_size(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    if number.is_empty() || unit.is_empty() {
        return Err(format!(
            "Error parsing 'mesos_default_container_shm_size' value: {value}."
        ));
    }
    if number.contains('.') {
        return Err(format!("Fractional bytes: {number}."));
    }
    let unit = unit.to_ascii_uppercase();
    if !UNITS.contains(&unit.as_str()) {
        return Err(format!("Unit '{unit}' not in {UNITS:?}."));
    }
    Ok(())
}

/// The IPv4 networks of two CIDRs overlap.
pub fn subnets_overlap(a: &str, b: &str) -> bool {
    let parse = |text: &str| -> Option<(u32, u32)> {
        let (address, prefix) = text.split_once('/')?;
        let address = u32::from(address.parse::<Ipv4Addr>().ok()?);
        let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        Some((address & mask, mask))
    };
    match (parse(a), parse(b)) {
        (Some((a, mask_a)), Some((b, mask_b))) => {
            let mask = mask_a & mask_b;
            a & mask == b & mask
        }
        _ => false,
    }
}

pub fn json_dict_check(value: &str) -> Result<(), String> {
    json_dict(value).map(|_| ())
}

pub fn json_list_check(value: &str) -> Result<(), String> {
    json_list(value).map(|_| ())
}

pub fn dcos_overlay_network(value: &str) -> Result<(), String> {
    let network =
        json_dict(value).map_err(|_| format!("Provided input was not valid JSON: {value}"))?;
    let overlays = network
        .get("overlays")
        .and_then(|o| o.as_array())
        .ok_or_else(|| "Missing \"overlays\" in overlay configuration".to_string())?;
    if overlays.is_empty() {
        return Err("\"Overlays\" network configuration is empty".into());
    }
    if !network.contains_key("vtep_mac_oui") {
        return Err("Missing \"vtep_mac_oui\" in overlay configuration".into());
    }
    for (field, v6) in [("vtep_subnet", false), ("vtep_subnet6", true)] {
        let text = network
            .get(field)
            .and_then(|s| s.as_str())
            .ok_or_else(|| format!("Missing \"{field}\" in overlay configuration"))?;
        subnet(text, v6).map_err(|e| format!("{field}: {e}"))?;
    }
    for overlay in overlays {
        let name = overlay
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or_else(|| format!("Missing \"name\" in overlay configuration: {overlay}"))?;
        if name.len() > 13 {
            return Err(format!("Overlay name cannot exceed 13 characters: {name}"));
        }
        let subnet4_text = overlay.get("subnet").and_then(|s| s.as_str());
        let subnet6_text = overlay.get("subnet6").and_then(|s| s.as_str());
        if subnet4_text.is_none() && subnet6_text.is_none() {
            return Err(format!(
                "Missing \"subnet\" or \"subnet6\" in overlay configuration: {overlay}"
            ));
        }
        if let Some(s) = subnet4_text {
            subnet(s, false)?;
        }
        if let Some(s) = subnet6_text {
            subnet(s, true)?;
        }
    }
    Ok(())
}

/// gen's validate_check_config (`check_config` and `custom_checks`): a JSON
/// map of optional `cluster_checks` (name -> {description, cmd, timeout})
/// and `node_checks` ({checks: name -> {description, cmd, timeout, roles?},
/// prestart?, poststart?}), nothing else; every node check is listed in
/// prestart or poststart and every listed name is a check.
pub fn check_config(value: &str) -> Result<(), String> {
    let config = json_dict(value)?;
    for key in config.keys() {
        if key != "cluster_checks" && key != "node_checks" {
            return Err(format!(
                "Wrong key '{key}': only cluster_checks and node_checks are allowed"
            ));
        }
    }
    if let Some(cluster) = config.get("cluster_checks") {
        let checks = object(cluster, "cluster_checks")?;
        for (name, check) in checks {
            check_definition(name, check, "cluster_checks", false)?;
        }
    }
    let Some(node) = config.get("node_checks") else {
        return Ok(());
    };
    let node = object(node, "node_checks")?;
    for key in node.keys() {
        if !matches!(key.as_str(), "checks" | "prestart" | "poststart") {
            return Err(format!(
                "Wrong key '{key}' in node_checks: only checks, prestart and poststart are allowed"
            ));
        }
    }
    let checks = object(
        node.get("checks")
            .ok_or("Missing key: 'checks' in node_checks")?,
        "node_checks.checks",
    )?;
    for (name, check) in checks {
        check_definition(name, check, "node_checks.checks", true)?;
    }
    let mut listed = std::collections::BTreeSet::new();
    for phase in ["prestart", "poststart"] {
        let Some(names) = node.get(phase) else {
            continue;
        };
        let names = names
            .as_array()
            .ok_or_else(|| format!("node_checks.{phase} must be a list of check names"))?;
        for name in names {
            let name = name
                .as_str()
                .ok_or_else(|| format!("node_checks.{phase}: {name} is not a check name"))?;
            check_name(name)?;
            listed.insert(name.to_string());
        }
    }
    if !node.contains_key("prestart") && !node.contains_key("poststart") {
        return Err("At least one of prestart or poststart must be defined in node_checks".into());
    }
    let defined: std::collections::BTreeSet<String> = checks.keys().cloned().collect();
    if defined != listed {
        return Err(
            "All node checks must be referenced in either prestart or poststart, or both".into(),
        );
    }
    Ok(())
}

fn object<'a>(
    value: &'a serde_json::Value,
    path: &str,
) -> Result<&'a serde_json::Map<String, serde_json::Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{path} must be a map, got a {}", json_type(value)))
}

fn check_name(name: &str) -> Result<(), String> {
    // Python's string.whitespace: space, \t \n \r \x0b \x0c.
    if name.is_empty() || name.contains([' ', '\t', '\n', '\r', '\x0b', '\x0c']) {
        Err(format!(
            "Check name must be a nonzero length string with no whitespace: {name:?}"
        ))
    } else {
        Ok(())
    }
}

fn check_definition(
    name: &str,
    check: &serde_json::Value,
    path: &str,
    roles_allowed: bool,
) -> Result<(), String> {
    check_name(name)?;
    let path = format!("{path}.{name}");
    let check = object(check, &path)?;
    for key in check.keys() {
        let known = matches!(key.as_str(), "description" | "cmd" | "timeout")
            || (roles_allowed && key == "roles");
        if !known {
            return Err(format!("Wrong key '{key}' in {path}"));
        }
    }
    for required in ["description", "cmd", "timeout"] {
        if !check.contains_key(required) {
            return Err(format!("Missing key: '{required}' in {path}"));
        }
    }
    if !check["description"].is_string() {
        return Err(format!("{path}.description must be a string"));
    }
    let cmd_ok = check["cmd"]
        .as_array()
        .is_some_and(|items| items.iter().all(serde_json::Value::is_string));
    if !cmd_ok {
        return Err(format!("{path}.cmd must be a list of strings"));
    }
    let timeout_ok = check["timeout"].as_str().is_some_and(check_timeout);
    if !timeout_ok {
        return Err(format!(
            "{path}.timeout: Timeout must be a string containing an integer or float followed by a unit: ns, us, µs, ms, s, m, h"
        ));
    }
    if let Some(roles) = check.get("roles") {
        let ok = roles.as_array().is_some_and(|items| {
            items
                .iter()
                .all(|r| r.as_str().is_some_and(|r| r == "master" || r == "agent"))
        });
        if !ok {
            return Err(format!(
                "{path}.roles: roles must be a list containing master or agent or both"
            ));
        }
    }
    Ok(())
}

/// `^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$`
fn check_timeout(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let Some(number) = ["ns", "us", "µs", "ms", "s", "m", "h"]
        .iter()
        .filter_map(|unit| text.strip_suffix(unit))
        .find(|number| match number.split_once('.') {
            Some((whole, fraction)) => digits(whole) && digits(fraction),
            None => digits(number),
        })
    else {
        return false;
    };
    !number.is_empty()
}

/// gen's validate_custom_checks: no custom check may reuse a built-in
/// check's name. Both values have passed `check_config`.
pub fn custom_checks_conflicts(custom: &str, builtin: &str) -> Result<(), String> {
    let names = |text: &str, section: &str| -> std::collections::BTreeSet<String> {
        let parsed: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let checks = match section {
            "cluster" => parsed.get("cluster_checks"),
            _ => parsed.get("node_checks").and_then(|n| n.get("checks")),
        };
        checks
            .and_then(|c| c.as_object())
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut message = String::new();
    for (section, label) in [("cluster", "cluster"), ("node", "node")] {
        let shared: Vec<String> = names(custom, section)
            .intersection(&names(builtin, section))
            .cloned()
            .collect();
        if !shared.is_empty() {
            message.push_str(&format!(
                " Reserved {label} check names: {}.",
                shared.join(", ")
            ));
        }
    }
    if message.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Custom check names conflict with builtin checks.{message}"
        ))
    }
}

/// gen's check of `superuser_service_account_public_key`: empty, or an RSA
/// public key in PEM (see `pem`).
pub fn rsa_public_key_pem(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    crate::pem::rsa_public_key(value).map_err(|e| {
        format!("superuser_service_account_public_key has an invalid value. It must hold an RSA public key encoded in the OpenSSL PEM format. Error: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert!(ip_list(r#"["10.0.0.1", "10.0.0.2"]"#).is_ok());
        assert_eq!(
            ip_list(r#"["10.0.0.1", "10.0.0.1"]"#).unwrap_err(),
            "List cannot contain duplicates: 10.0.0.1 appears 2 times"
        );
        assert_eq!(
            ip_list(r#"["10.0.0.1", "10.0.0.256", "x"]"#).unwrap_err(),
            "Invalid IPv4 addresses in list: 10.0.0.256, x"
        );
        assert!(ip_list(r#"[1]"#).unwrap_err().contains("must be strings"));
        assert!(resolvers(r#"["8.8.8.8:53", "1.1.1.1"]"#).is_ok());
        assert!(resolvers(r#"["8.8.8.8:0"]"#).is_err());
        assert!(resolvers(r#"["198.51.100.1"]"#)
            .unwrap_err()
            .contains("Spartan"));
    }

    #[test]
    fn urls_and_subnets() {
        assert!(bootstrap_url("http://10.0.0.1:8080").is_ok());
        assert!(bootstrap_url("file:///opt/dcos_install_tmp").is_ok());
        assert_eq!(
            bootstrap_url("http://x/").unwrap_err(),
            "Must not end in a '/'"
        );
        assert!(bootstrap_url("example.com").is_err());
        assert!(mirror_list(r#"["http://m1:80", "https://m2"]"#).is_ok());
        assert!(mirror_list("[]").is_ok());
        assert_eq!(
            mirror_list(r#"["http://m1", "http://m2/"]"#).unwrap_err(),
            "item 1 (http://m2/): Must not end in a '/'"
        );
        assert_eq!(
            mirror_list(r#"["http://m1", "http://m1"]"#).unwrap_err(),
            "item 1 (http://m1): the same URL as item 0; list each mirror once"
        );
        assert!(mirror_list(r#"["ftp://m1"]"#)
            .unwrap_err()
            .starts_with("item 0 (ftp://m1): Unsupported URL scheme"));
        assert!(bootstrap_url("ftp://example.com").is_err());
        assert!(subnet4("172.29.0.0/16").is_ok());
        assert!(subnet4("172.29.0.1/16").is_err());
        assert!(subnet("fd01:a::/64", true).is_ok());
        assert!(subnet4("fd01:a::/64").is_err());
    }

    #[test]
    fn scalars() {
        assert!(true_false("true").is_ok());
        assert_eq!(
            true_false("yes").unwrap_err(),
            "Must be one of 'true', 'false'. Got 'yes'."
        );
        assert!(num_masters("3").is_ok());
        assert!(num_masters("2").is_err());
        assert!(vxlan_vni("1024").is_err());
        assert!(vxlan_vni("4096").is_ok());
        assert!(x_frame_options("ALLOW-FROM https://x").is_ok());
        assert!(x_frame_options("ALLOW").is_err());
        assert!(mesos_recovery_timeout("24hrs").is_ok());
        assert!(mesos_recovery_timeout("24h").is_err());
        assert!(dns_search("a.com b.com").is_ok());
        assert!(dns_search("a.com,b.com").is_err());
        assert!(dns_forward_zones(r#"{"a.com": ["1.1.1.1:53"]}"#).is_ok());
        assert!(dns_forward_zones(r#"{"a.com": ["1.1.1"]}"#).is_err());
    }

    #[test]
    fn gen_validators_added_for_issue_13() {
        // exhibitor_bootstrap_ca_url: exactly one "://", https, no trailing /.
        assert!(exhibitor_bootstrap_ca_url("").is_ok());
        assert!(exhibitor_bootstrap_ca_url("https://ca.example:8443").is_ok());
        assert_eq!(
            exhibitor_bootstrap_ca_url("https://a://b").unwrap_err(),
            "Failed to determine `exhibitor_bootstrap_ca_url` protocol."
        );
        assert!(exhibitor_bootstrap_ca_url("ca.example")
            .unwrap_err()
            .contains("Failed to determine"));
        assert!(exhibitor_bootstrap_ca_url("http://ca")
            .unwrap_err()
            .contains("Expected `https://`"));
        assert_eq!(
            exhibitor_bootstrap_ca_url("https://ca/").unwrap_err(),
            "Must not end in a '/'"
        );
        // mesos_recovery_timeout: number <= 2^64, one dot, a known unit.
        assert!(mesos_recovery_timeout("1.5weeks").is_ok());
        assert!(mesos_recovery_timeout("18446744073709551616ns").is_ok());
        assert_eq!(
            mesos_recovery_timeout("18446744073709551617000ns").unwrap_err(),
            "Value 18446744073709551617000 not in supported range."
        );
        assert_eq!(
            mesos_recovery_timeout("1.2.3hrs").unwrap_err(),
            "Invalid decimal format."
        );
        assert!(mesos_recovery_timeout(".hrs").is_err());
        assert!(mesos_recovery_timeout("hrs").is_err());
        // channel_name and os_type (only when set).
        assert!(channel_name("testing/pull/1").is_ok());
        assert!(channel_name("x").is_err());
        assert!(channel_name("/x").unwrap_err().contains("start"));
        assert!(channel_name("x/").unwrap_err().contains("end"));
    }

    #[test]
    fn check_configs_follow_gen_schema() {
        let good = r#"{"cluster_checks": {"c1": {"description": "d", "cmd": ["a"], "timeout": "1.5s"}}, "node_checks": {"checks": {"n1": {"description": "d", "cmd": [], "timeout": "10ms", "roles": ["agent"]}}, "poststart": ["n1"]}}"#;
        assert_eq!(check_config(good), Ok(()));
        assert_eq!(check_config("{}"), Ok(()));
        for (bad, expected) in [
            (r#"[]"#, "Must be a JSON dictionary"),
            (r#"{"other": {}}"#, "Wrong key 'other'"),
            (
                r#"{"cluster_checks": {"c 1": {"description": "d", "cmd": ["a"], "timeout": "1s"}}}"#,
                "Check name must be a nonzero length string with no whitespace",
            ),
            (
                r#"{"cluster_checks": {"c": {"description": "d", "cmd": ["a"]}}}"#,
                "Missing key: 'timeout' in cluster_checks.c",
            ),
            (
                r#"{"cluster_checks": {"c": {"description": "d", "cmd": ["a"], "timeout": "1 s"}}}"#,
                "Timeout must be a string",
            ),
            (
                r#"{"cluster_checks": {"c": {"description": "d", "cmd": [1], "timeout": "1s"}}}"#,
                "cmd must be a list of strings",
            ),
            (
                r#"{"cluster_checks": {"c": {"description": "d", "cmd": [], "timeout": "1s", "roles": ["master"]}}}"#,
                "Wrong key 'roles' in cluster_checks.c",
            ),
            (
                r#"{"node_checks": {"checks": {"n": {"description": "d", "cmd": [], "timeout": "1s", "roles": ["leader"]}}, "prestart": ["n"]}}"#,
                "roles must be a list containing master or agent",
            ),
            (
                r#"{"node_checks": {"checks": {}}}"#,
                "At least one of prestart or poststart",
            ),
            (
                r#"{"node_checks": {"checks": {"n": {"description": "d", "cmd": [], "timeout": "1s"}}, "prestart": []}}"#,
                "All node checks must be referenced",
            ),
        ] {
            let error = check_config(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
        }
        assert!(check_timeout("5s") && check_timeout("2.5µs") && check_timeout("1h"));
        assert!(!check_timeout("s") && !check_timeout("1.s") && !check_timeout("1d"));
    }

    #[test]
    fn custom_checks_may_not_shadow_builtin_ones() {
        let builtin =
            r#"{"cluster_checks": {"a": {}}, "node_checks": {"checks": {"xz": {}, "tar": {}}}}"#;
        assert_eq!(
            custom_checks_conflicts(r#"{"node_checks": {"checks": {"mine": {}}}}"#, builtin),
            Ok(())
        );
        assert_eq!(
            custom_checks_conflicts(
                r#"{"cluster_checks": {"a": {}}, "node_checks": {"checks": {"xz": {}, "tar": {}}}}"#,
                builtin
            )
            .unwrap_err(),
            "Custom check names conflict with builtin checks. Reserved cluster check names: a. Reserved node check names: tar, xz."
        );
    }
}
