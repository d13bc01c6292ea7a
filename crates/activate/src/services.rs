//! Whether the units the current generation wants are running: systemd's
//! view, read with `systemctl show`, beside (never inside) the integrity
//! verdict of `status`.
//!
//! `healthy` says the generation on disk is whole; `services` says what
//! systemd made of it. They are separate because they fail for different
//! reasons and call for different fixes: a damaged farm is repaired by
//! activating again, a failed unit by reading its journal.

use std::process::Command;

use serde::Serialize;

/// The `services` part of `status --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Services {
    /// `running`: every wanted unit is active; `failed`: at least one
    /// failed; `starting`: none failed, at least one is not active yet (or
    /// is restarting); `none`: the generation wants no unit; `skipped`:
    /// `--no-systemd`; `unknown`: systemctl could not be asked (`error`).
    pub verdict: &'static str,
    /// One entry per wanted unit, in unit name order.
    pub units: Vec<ServiceState>,
    /// Why systemd could not be asked, when it could not.
    pub error: Option<String>,
}

/// systemd's view of one unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    pub unit: String,
    /// `ActiveState`: active, activating, deactivating, inactive, failed, ...
    pub active_state: String,
    /// `SubState`: running, exited, dead, auto-restart, ...
    pub sub_state: String,
    /// `Result`: success, exit-code, signal, timeout, ...
    pub result: String,
    /// `StateChangeTimestamp`: since when it is in this state (empty when
    /// systemd has none).
    pub since: String,
}

impl ServiceState {
    fn failed(&self) -> bool {
        self.active_state == "failed"
    }

    fn running(&self) -> bool {
        self.active_state == "active"
    }
}

const PROPERTIES: &str = "Id,ActiveState,SubState,Result,StateChangeTimestamp";

/// Asks systemd about `units` (with `ask` false, says it was skipped).
pub fn services(units: &[String], ask: bool) -> Services {
    let verdict = |verdict, units, error| Services {
        verdict,
        units,
        error,
    };
    if !ask {
        return verdict("skipped", Vec::new(), None);
    }
    if units.is_empty() {
        return verdict("none", Vec::new(), None);
    }
    let output = Command::new("systemctl")
        .arg("show")
        .arg(format!("--property={PROPERTIES}"))
        .arg("--")
        .args(units)
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            let message = String::from_utf8_lossy(&output.stderr);
            let first = message.lines().next().unwrap_or("").trim();
            let error = format!("systemctl show failed ({}): {first}", output.status);
            return verdict("unknown", Vec::new(), Some(error));
        }
        Err(e) => {
            return verdict("unknown", Vec::new(), Some(format!("systemctl: {e}")));
        }
    };
    let states = match parse_show(&String::from_utf8_lossy(&output.stdout), units) {
        Ok(states) => states,
        Err(error) => return verdict("unknown", Vec::new(), Some(error)),
    };
    let verdict_name = if states.iter().any(ServiceState::failed) {
        "failed"
    } else if states.iter().all(ServiceState::running) {
        "running"
    } else {
        "starting"
    };
    verdict(verdict_name, states, None)
}

/// Reads `systemctl show`'s blocks (one per unit, in the order asked,
/// separated by blank lines) of `Key=value` lines.
fn parse_show(text: &str, units: &[String]) -> Result<Vec<ServiceState>, String> {
    let blocks: Vec<&str> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .collect();
    if blocks.len() != units.len() {
        return Err(format!(
            "systemctl show answered for {} units, asked for {}",
            blocks.len(),
            units.len()
        ));
    }
    Ok(units
        .iter()
        .zip(blocks)
        .map(|(unit, block)| {
            let get = |key: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                    .unwrap_or("")
                    .to_string()
            };
            ServiceState {
                unit: unit.clone(),
                active_state: get("ActiveState"),
                sub_state: get("SubState"),
                result: get("Result"),
                since: get("StateChangeTimestamp"),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_blocks_are_read_in_order() {
        let text = "Id=a.service\nActiveState=active\nSubState=running\nResult=success\nStateChangeTimestamp=Sun 2026-12-06 12:00:00 UTC\n\nId=b.service\nActiveState=failed\nSubState=failed\nResult=exit-code\nStateChangeTimestamp=\n";
        let units = ["a.service".to_string(), "b.service".to_string()];
        let states = parse_show(text, &units).unwrap();
        assert_eq!(states[0].sub_state, "running");
        assert_eq!(states[0].since, "Sun 2026-12-06 12:00:00 UTC");
        assert_eq!(states[1].result, "exit-code");
        assert!(states[1].failed());
        assert!(parse_show(text, &units[..1]).is_err());
    }

    #[test]
    fn skipped_and_none_need_no_systemctl() {
        assert_eq!(services(&[], true).verdict, "none");
        assert_eq!(services(&["a.service".into()], false).verdict, "skipped");
    }
}
