//! The cloud provisioning files under `scripts/integrations/cloud/`
//! (issue 14 § 7), checked by the real linters: `cloud-init schema
//! --config-file` for the cloud-config user data, `cfn-lint` for the
//! CloudFormation template (each also shown to reject a broken copy, so a
//! linter that checks nothing would fail here). The template's user data is
//! the cloud-config file, byte for byte. The install commands themselves run
//! in tests/cfg_gen.rs (into a temp root, from a mirror) and tests/fleet.rs
//! (20 netns hosts), through [`runcmd_script`]: the script cloud-init's own
//! code writes from the file's `runcmd`.

use std::path::PathBuf;
use std::process::Command;

use tarmac_testkit::cmd::{Run, Runs};

use crate::workspace::repo_root;

/// The placeholders of the cloud-config file (CloudFormation Fn::Sub
/// variables).
const PLACEHOLDERS: [&str; 3] = ["${Role}", "${BootstrapUrl}", "${Mirrors}"];

pub(crate) fn user_data_path() -> PathBuf {
    repo_root().join("scripts/integrations/cloud/tarmac-host.cloud-config")
}

fn template_path() -> PathBuf {
    repo_root().join("scripts/integrations/cloud/tarmac-cluster.cfn.yaml")
}

fn require_tool(tool: &str) {
    crate::workspace::require_tool(
        tool,
        "scripts/test.sh installs it as root (apt-get install cloud-init; pip install cfn-lint)",
    );
}

/// The user data as a host gets it: every placeholder replaced (what
/// CloudFormation's Fn::Sub does with the template's parameters).
pub(crate) fn substitute(role: &str, bootstrap_url: &str, mirrors: &str) -> String {
    let text = std::fs::read_to_string(user_data_path()).unwrap();
    let text = text
        .replace("${Role}", role)
        .replace("${BootstrapUrl}", bootstrap_url)
        .replace("${Mirrors}", mirrors);
    assert!(!text.contains("${"), "a placeholder is left:\n{text}");
    text
}

/// The interpreter of the `cloud-init` command (its shebang): the Python
/// that has cloud-init's modules.
fn cloud_init_python() -> String {
    require_tool("cloud-init");
    let path = Command::new("sh")
        .args(["-c", "command -v cloud-init"])
        .run();
    let path = path.stdout;
    let text = std::fs::read_to_string(path.trim()).unwrap();
    let shebang = text.lines().next().unwrap();
    shebang
        .strip_prefix("#!")
        .unwrap_or_else(|| panic!("cloud-init has no shebang: {shebang}"))
        .trim()
        .to_string()
}

/// The runcmd script cloud-init writes from `user_data`
/// (`/var/lib/cloud/instance/scripts/runcmd`, run in its final stage):
/// made by cloud-init's own code (`cloudinit.util.shellify` of the parsed
/// `runcmd`, as its runcmd module does).
pub(crate) fn runcmd_script(user_data: &str) -> String {
    let output = python(
        "import sys, yaml\n\
         from cloudinit import util\n\
         config = yaml.safe_load(sys.stdin)\n\
         sys.stdout.write(util.shellify(config['runcmd']))\n",
        user_data,
    );
    let script = output.stdout;
    assert!(script.starts_with("#!/bin/sh\n"), "{script}");
    script
}

/// `code` run by cloud-init's Python with `input` on stdin; asserts it
/// succeeded.
fn python(code: &str, input: &str) -> Run {
    use std::io::Write;
    let mut child = Command::new(cloud_init_python())
        .args(["-c", code])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = Run::from_output(
        format!("python -c {code}"),
        child.wait_with_output().unwrap(),
    );
    output.success();
    output
}

fn schema(path: &std::path::Path) -> Run {
    Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(path)
        .run()
}

fn cfn_lint(path: &std::path::Path) -> Run {
    Command::new("cfn-lint").arg(path).run()
}

#[test]
fn cloud_init_schema_accepts_the_user_data_and_its_substitutions() {
    require_tool("cloud-init");
    let text = std::fs::read_to_string(user_data_path()).unwrap();
    // Exactly the three placeholders: a `${` that is not one of them would be
    // a CloudFormation variable the template does not define (or a shell
    // expansion Fn::Sub would eat).
    let mut rest = text.as_str();
    while let Some(at) = rest.find("${") {
        let end = rest[at..].find('}').unwrap() + at + 1;
        assert!(
            PLACEHOLDERS.contains(&&rest[at..end]),
            "unknown placeholder {}",
            &rest[at..end]
        );
        rest = &rest[end..];
    }
    let output = schema(&user_data_path());
    output.success();
    assert!(output.stdout.contains("Valid cloud-config"), "{output:?}");

    let dir = tempfile::tempdir().unwrap();
    for role in ["master", "slave", "slave_public"] {
        let path = dir.path().join(format!("{role}.cloud-config"));
        let text = substitute(
            role,
            "http://192.0.2.10:8080",
            "http://192.0.2.11 http://[2001:db8::1]",
        );
        std::fs::write(&path, text).unwrap();
        let output = schema(&path);
        assert!(output.status.success(), "{role}: {}", output.stderr);
    }
    // The linter checks: a runcmd that is not a list is refused.
    let broken = dir.path().join("broken.cloud-config");
    std::fs::write(&broken, text.replace("runcmd:\n  - |", "runcmd: |")).unwrap();
    let output = schema(&broken);
    assert!(!output.status.success(), "{output:?}");
    output.stderr_contains("runcmd");
}

#[test]
fn cfn_lint_accepts_the_template_whose_user_data_is_the_cloud_init_file() {
    require_tool("cfn-lint");
    let output = cfn_lint(&template_path());
    assert!(
        output.status.success(),
        "{}{}",
        output.stdout.as_str(),
        output.stderr.as_str()
    );

    // The linter checks: an Fn::Sub variable that is no parameter is refused.
    let template = std::fs::read_to_string(template_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.cfn.yaml");
    std::fs::write(&broken, template.replace("${Mirrors}", "${Mirorrs}")).unwrap();
    let output = cfn_lint(&broken);
    assert!(!output.status.success(), "{output:?}");
    assert!(output.stdout.contains("Mirorrs"), "{output:?}");

    // Structure (the template uses long-form intrinsics: plain YAML): the
    // parameters, masters from the master launch template, an Auto Scaling
    // group from the agent one, and each launch template's user data the
    // cloud-config file with Role set.
    let summary = python(
        "import sys, json, yaml\n\
         t = yaml.safe_load(sys.stdin)\n\
         r = t['Resources']\n\
         def user_data(name):\n\
         \x20   sub = r[name]['Properties']['LaunchTemplateData']['UserData']['Fn::Base64']['Fn::Sub']\n\
         \x20   return {'text': sub[0], 'vars': sub[1]}\n\
         json.dump({\n\
         \x20   'parameters': sorted(t['Parameters']),\n\
         \x20   'types': {k: v['Type'] for k, v in r.items()},\n\
         \x20   'master': user_data('MasterLaunchTemplate'),\n\
         \x20   'agent': user_data('AgentLaunchTemplate'),\n\
         \x20   'masters': [r[m]['Properties']['LaunchTemplate']['LaunchTemplateId'] for m in ('Master1', 'Master2', 'Master3')],\n\
         \x20   'agents': r['Agents']['Properties']['LaunchTemplate']['LaunchTemplateId'],\n\
         \x20   'role': t['Parameters']['AgentRole']['AllowedValues'],\n\
         }, sys.stdout)\n",
        &template,
    );
    let summary: serde_json::Value = summary.stdout_json();
    for parameter in ["BootstrapUrl", "Mirrors", "AgentRole"] {
        assert!(
            summary["parameters"]
                .as_array()
                .unwrap()
                .contains(&parameter.into()),
            "{summary}"
        );
    }
    assert_eq!(
        summary["role"],
        serde_json::json!(["slave", "slave_public"])
    );
    assert_eq!(
        summary["types"]["Agents"], "AWS::AutoScaling::AutoScalingGroup",
        "{summary}"
    );
    for master in ["Master1", "Master2", "Master3"] {
        assert_eq!(summary["types"][master], "AWS::EC2::Instance");
    }
    let reference = |name: &str| serde_json::json!({ "Ref": name });
    assert_eq!(
        summary["masters"],
        serde_json::json!([
            reference("MasterLaunchTemplate"),
            reference("MasterLaunchTemplate"),
            reference("MasterLaunchTemplate")
        ])
    );
    assert_eq!(summary["agents"], reference("AgentLaunchTemplate"));
    let file = std::fs::read_to_string(user_data_path()).unwrap();
    assert_eq!(summary["master"]["text"], file.as_str());
    assert_eq!(summary["agent"]["text"], file.as_str());
    assert_eq!(
        summary["master"]["vars"],
        serde_json::json!({ "Role": "master" })
    );
    assert_eq!(
        summary["agent"]["vars"],
        serde_json::json!({ "Role": reference("AgentRole") })
    );
}

/// The script cloud-init would run is the file's runcmd item under
/// `#!/bin/sh`, with the placeholders replaced.
#[test]
fn runcmd_script_is_the_substituted_runcmd_under_sh() {
    let user_data = substitute("slave", "http://192.0.2.10:8080", "");
    let script = runcmd_script(&user_data);
    assert!(
        script.contains("bash \"$dir/dcos_install.sh\" slave\n"),
        "{script}"
    );
    assert!(
        script.contains("TARMAC_MIRRORS='' TARMAC_BOOTSTRAP_URL='http://192.0.2.10:8080' "),
        "{script}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runcmd");
    std::fs::write(&path, &script).unwrap();
    let check = Command::new("sh").arg("-n").arg(&path).run();
    check.success();
    // POSIX sh (cloud-init runs it with /bin/sh: dash on Debian). With
    // mirrors: shellcheck warns of a one-word loop without them.
    let user_data = substitute(
        "slave",
        "http://192.0.2.10:8080",
        "http://192.0.2.11 http://192.0.2.12",
    );
    std::fs::write(&path, runcmd_script(&user_data)).unwrap();
    crate::workspace::require_tool("shellcheck", "apt-get install shellcheck");
    let check = Command::new("shellcheck").arg(&path).run();
    assert!(check.status.success(), "{}", check.stdout);
}
