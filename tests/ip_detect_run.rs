//! ip-detect-run: the real binary on real scripts; the shipped samples in
//! network namespaces with two interfaces each, run by dash.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::atomic::{AtomicU32, Ordering};
use tarmac_testkit::cmd::{Run, Runs};

const BIN: &str = env!("CARGO_BIN_EXE_ip-detect-run");

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn run(args: &[&str]) -> Run {
    Command::new(BIN).args(args).run()
}

#[test]
fn prints_the_address_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), "ok", "echo 203.0.113.7\r");
    let script = script.to_str().unwrap();
    let output = run(&["--no-require-local", script]);
    output.code(0);
    assert_eq!(output.stdout_bytes, b"203.0.113.7\n");

    let output = run(&["--no-require-local", "--json", script]);
    let doc: serde_json::Value = output.stdout_json();
    assert_eq!(doc["address"], "203.0.113.7");
    assert_eq!(doc["family"], 4);
    assert_eq!(doc["pin"], serde_json::Value::Null);
}

#[test]
fn bad_output_is_exit_3_with_the_output_quoted() {
    let dir = tempfile::tempdir().unwrap();
    for (name, body, quoted) in [
        (
            "two",
            "echo 10.0.0.1; echo 10.0.0.2",
            r#""10.0.0.1\n10.0.0.2\n""#,
        ),
        (
            "metric",
            "echo '10.0.0.1 metric 100'",
            r#""10.0.0.1 metric 100\n""#,
        ),
        ("zeros", "echo 010.0.0.1", r#""010.0.0.1\n""#),
        ("loop", "echo 127.0.0.1", r#""127.0.0.1\n""#),
        ("empty", "true", r#""""#),
        ("v6", "echo fd00::1", r#""fd00::1\n""#),
    ] {
        let script = write_script(dir.path(), name, body);
        let output = run(&["--no-require-local", script.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(3), "{name}: {}", output.stderr);
        let first = output.stderr.as_str();
        let first = first.lines().next().unwrap();
        assert!(first.starts_with("ip-detect-run: error: "), "{first}");
        assert!(first.contains(script.to_str().unwrap()), "{first}");
        assert!(first.contains(quoted), "{name}: {first}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn failing_script_passes_stderr_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(
        dir.path(),
        "fail",
        "echo 'no route to metadata' >&2; exit 4",
    );
    let output = run(&[script.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = output.stderr.as_str();
    assert!(text.starts_with("no route to metadata\n"), "{text}");
    assert!(text.contains("exited with exit status: 4"), "{text}");
}

#[test]
fn missing_or_unexecutable_script_is_exit_3() {
    let output = run(&["/nonexistent/ip-detect"]);
    assert_eq!(output.status.code(), Some(3));
    output.stderr_contains("/nonexistent/ip-detect: ip-detect script not found");

    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), "plain", "echo 10.0.0.1");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = run(&[script.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    output.stderr_contains("ip-detect script is not executable");
}

#[test]
fn timeout_kills_children_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("child-survived");
    let script = write_script(
        dir.path(),
        "slow",
        &format!("(sleep 2; touch '{}') &\nsleep 60", marker.display()),
    );
    let output = run(&["--timeout", "1", script.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    output.stderr_contains("did not finish within 1s");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(!marker.exists());
}

/// A daemon the script leaves behind (holding stdout) is killed once the
/// script exits, and stderr says which; also when the script fails. A
/// clean script gets no such line.
#[test]
fn leftovers_in_the_process_group_are_killed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("daemon.pid");
    for (name, last, code) in [("ok", "echo 203.0.113.7", 0), ("fails", "exit 7", 1)] {
        let script = write_script(
            dir.path(),
            name,
            &format!("sleep 300 &\necho $! > '{}'\n{last}", pidfile.display()),
        );
        let started = std::time::Instant::now();
        let output = run(&["--no-require-local", script.to_str().unwrap()]);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        output.code(code);
        let pid = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .to_string();
        let text = output.stderr.as_str();
        // The daemon is named by its command: `sleep`, or the script's own
        // name when it was caught between the shell's fork and its exec.
        let named = |command: &str| {
            text.contains(&format!(
                "ip-detect-run: warning: {}: the script exited but left 1 process(es) in its process group; killed: {pid} ({command})",
                script.display()
            ))
        };
        assert!(named("sleep") || named(name), "{name}: {text}");
        // Gone, or a zombie waiting for a PID 1 that does not reap (SIGKILL
        // is delivered at once, the exit takes the kernel a moment).
        let dead = || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(") ").next().unwrap_or("").chars().next();
            matches!(state, None | Some('Z') | Some('X'))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !dead() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(dead(), "{name}: the daemon {pid} is still alive");
    }
    let clean = write_script(dir.path(), "clean", "echo 203.0.113.7");
    let output = run(&["--no-require-local", clean.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(!output.stderr.contains("warning"), "{}", output.stderr);
}

#[test]
fn require_local_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    // TEST-NET-3: documentation only, assigned to no interface here.
    let script = write_script(dir.path(), "far", "echo 203.0.113.250");
    let output = run(&[script.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    output.stderr_contains("not assigned to any local interface");
}

#[test]
fn pin_records_the_first_answer_and_refuses_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let pin = dir.path().join("state/ip");
    let pin_arg = pin.to_str().unwrap();
    let first = write_script(dir.path(), "a", "echo 203.0.113.1");
    let second = write_script(dir.path(), "b", "echo 203.0.113.2");
    let base = ["--no-require-local", "--json", "--pin", pin_arg];

    let output = run(&[&base[..], &[first.to_str().unwrap()]].concat());
    output.code(0);
    let doc: serde_json::Value = output.stdout_json();
    assert_eq!(doc["pin"], "recorded");
    crate::workspace::assert_documented("ip-detect-run", &doc);
    assert_eq!(std::fs::read_to_string(&pin).unwrap(), "203.0.113.1\n");

    let output = run(&[&base[..], &[first.to_str().unwrap()]].concat());
    let doc: serde_json::Value = output.stdout_json();
    assert_eq!(doc["pin"], "matched");

    let output = run(&[&base[..], &[second.to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(5));
    output.stderr_contains("pinned address is 203.0.113.1");
    assert_eq!(std::fs::read_to_string(&pin).unwrap(), "203.0.113.1\n");
}

#[test]
fn family_six() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), "six", "echo 2001:db8::5");
    let output = run(&[
        "--no-require-local",
        "--family",
        "6",
        script.to_str().unwrap(),
    ]);
    output.code(0);
    assert_eq!(output.stdout_bytes, b"2001:db8::5\n");
}

#[test]
fn sample_scripts_are_shellcheck_clean_posix_sh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ip-detect");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 4);
    crate::workspace::require_tool("shellcheck", "apt-get install shellcheck");
    let output = Command::new("shellcheck")
        .args(["-s", "sh"])
        .args(&scripts)
        .run();
    assert!(output.status.success(), "{}", output.stdout);
}

/// A network namespace with two veth interfaces, `eth0` (10.213.K.2/24) and
/// `eth1` (10.214.K.2/24, holding the default route); the host-side peers
/// are up and `eth1`'s peer has 10.214.K.1. Deleted on drop, which also
/// removes the veth pairs.
struct Netns {
    name: String,
    k: u32,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) {
    Command::new("ip").args(args).run().success();
}

impl Netns {
    fn new() -> Netns {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let k = (pid * 7 + n * 13) % 250 + 1;
        let name = format!("tarmac-{pid}-{n}");
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let ns = Netns { name, k };
        let peer0 = format!("tmc{}{}a", pid % 100_000, n);
        let peer1 = format!("tmc{}{}b", pid % 100_000, n);
        let name = ns.name.as_str();
        ip(&[
            "link", "add", &peer0, "type", "veth", "peer", "name", "eth0", "netns", name,
        ]);
        ip(&[
            "link", "add", &peer1, "type", "veth", "peer", "name", "eth1", "netns", name,
        ]);
        ip(&["link", "set", &peer0, "up"]);
        ip(&["addr", "add", &format!("10.214.{k}.1/24"), "dev", &peer1]);
        ip(&["link", "set", &peer1, "up"]);
        for dev in ["lo", "eth0", "eth1"] {
            ip(&["-n", name, "link", "set", dev, "up"]);
        }
        ip(&[
            "-n",
            name,
            "addr",
            "add",
            &format!("10.213.{k}.2/24"),
            "dev",
            "eth0",
        ]);
        ip(&[
            "-n",
            name,
            "addr",
            "add",
            &format!("10.214.{k}.2/24"),
            "dev",
            "eth1",
        ]);
        ip(&[
            "-n",
            name,
            "route",
            "add",
            "default",
            "via",
            &format!("10.214.{k}.1"),
            "dev",
            "eth1",
        ]);
        // IPv6 likewise (nodad: usable at once, not "tentative").
        for (dev, net) in [("eth0", "fd00:213"), ("eth1", "fd00:214")] {
            let address = format!("{net}:{k:x}::2/64");
            ip(&["-n", name, "addr", "add", &address, "dev", dev, "nodad"]);
        }
        let gateway = format!("fd00:214:{k:x}::1");
        ip(&[
            "-n", name, "-6", "route", "add", "default", "via", &gateway, "dev", "eth1",
        ]);
        ns
    }

    /// Runs ip-detect-run inside the namespace on a copy of the sample
    /// whose interpreter is dash, whatever /bin/sh is.
    fn detect(&self, sample: &str, env: &[(&str, &str)]) -> Run {
        self.detect_with(sample, env, &[])
    }

    fn detect_with(&self, sample: &str, env: &[(&str, &str)], args: &[&str]) -> Run {
        let dash = which("dash").expect("dash is installed (apt-get install -y dash)");
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scripts/ip-detect")
                .join(sample),
        )
        .unwrap();
        let body = text
            .strip_prefix("#!/bin/sh\n")
            .expect("sample starts with #!/bin/sh");
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join(sample);
        std::fs::write(&script, format!("#!{}\n{body}", dash.display())).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, BIN, "--timeout", "20"]);
        command.args(args);
        command.arg(&script);
        command.envs(env.iter().copied());
        command.run()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

fn assert_detects(output: Run, expected: String) {
    output.code(0);
    assert_eq!(output.stdout, expected + "\n");
}

#[test]
fn sample_scripts_in_a_network_namespace() {
    let ns = Netns::new();
    let k = ns.k;
    assert_detects(ns.detect("default-route.sh", &[]), format!("10.214.{k}.2"));
    assert_detects(
        ns.detect("first-non-loopback.sh", &[]),
        format!("10.213.{k}.2"),
    );
    assert_detects(
        ns.detect("named-interface.sh", &[("IP_DETECT_INTERFACE", "eth0")]),
        format!("10.213.{k}.2"),
    );
    assert_detects(
        ns.detect("named-interface.sh", &[("IP_DETECT_INTERFACE", "eth1")]),
        format!("10.214.{k}.2"),
    );
    let output = ns.detect("named-interface.sh", &[("IP_DETECT_INTERFACE", "nope0")]);
    assert_eq!(output.status.code(), Some(1));
    assert_detects(
        ns.detect_with("default-route6.sh", &[], &["--family", "6"]),
        format!("fd00:214:{k:x}::2"),
    );

    // Cloud metadata: a tiny IMDSv2 server on the host side of eth1.
    let listener = TcpListener::bind(format!("10.214.{k}.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = format!("10.214.{k}.2");
    let served = answer.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let request = String::from_utf8_lossy(&request[..n]);
            let aws = request.starts_with("GET /latest/meta-data/local-ipv4")
                && request.contains("X-aws-ec2-metadata-token: token-1");
            let gcp = request
                .starts_with("GET /computeMetadata/v1/instance/network-interfaces/0/ip ")
                && request.contains("Metadata-Flavor: Google");
            let azure = request.starts_with(
                "GET /metadata/instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress?",
            ) && request.contains("Metadata: true");
            let body = if request.starts_with("PUT /latest/api/token") {
                "token-1".to_string()
            } else if aws || gcp || azure {
                served.clone()
            } else {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let base = format!("http://10.214.{k}.1:{port}");
    for cloud in ["aws", "gcp", "azure"] {
        assert_detects(
            ns.detect(
                "cloud-metadata.sh",
                &[("METADATA_URL", &base), ("CLOUD", cloud)],
            ),
            answer.clone(),
        );
    }
    // No metadata service: the script fails (curl), ip-detect-run exits 1.
    let output = ns.detect(
        "cloud-metadata.sh",
        &[("METADATA_URL", &format!("http://10.214.{k}.1:1"))],
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn docs_ip_detect_run_reference_matches_help() {
    crate::workspace::check_help_doc(BIN, "ip-detect-run.md");
}
