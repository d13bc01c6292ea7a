//! Issue 14 § 4: a rolling upgrade driven by Ansible
//! (`scripts/integrations/ansible/tarmac-upgrade.yml`) on the 20-host netns
//! fleet of [`crate::fleet`]: masters one at a time, then agents in batches
//! of 25% (4 of the 17), each host gated on `pkg-activate status --json`
//! and `pkg-activate check` before the next batch.
//!
//! The upgrade's hello-git ships a check that fails on a host where a file
//! marks it broken (`/var/lib/dcos/hello-broken`, written by the test on one
//! agent of the second agent batch only): the same package set everywhere,
//! one host where it does not work. The play must stop at that batch, with
//! that host named and rolled back to its old generation, and never touch
//! the later batches.
//!
//! How Ansible reaches a host: the inventory is the operator's (groups
//! masters, agents_private, agents_public; the playbook is the one run over
//! ssh), with `ansible_connection=local` and, per host, an
//! `ansible_python_interpreter` that is a wrapper entering that host's
//! network namespace and mount namespace (tests/fleet-host-mounts.sh, as
//! every fleet command does) before running python3. So every module the
//! playbook runs (get_url, command) runs inside the host, at DC/OS's
//! default paths; the playbook knows nothing of it. The one other setting
//! for the fleet is `tarmac_no_systemd` (no systemd in a namespace).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::fleet::{
    assert_state, build_and_bundle, bundle, cluster_ids, generate, is_root, requests,
    serve_from_one_nginx, spawn_installs, wait_all, Cluster, Fleet, Host, Served, MASTERS, REPO,
};

/// The agents per batch: `tarmac_agent_batch=25%` of the fleet's 17 agents
/// (Ansible rounds down).
const BATCH: &str = "25%";
const BATCH_SIZE: usize = 4;

/// A python3 that runs in `host`'s namespaces: its `ansible_python_interpreter`.
fn interpreter(host: &Host, dir: &Path) -> String {
    let path = dir.join(format!("python-{}", host.name));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n\
             # {name} of the fleet: Ansible's modules run in its namespaces.\n\
             export HOST_DIR='{dir}' HOST_NAME='{name}'\n\
             exec ip netns exec '{ns}' unshare --mount --uts --propagation private \\\n    \
             bash '{REPO}/tests/fleet-host-mounts.sh' /usr/bin/python3 \"$@\"\n",
            name = host.name,
            dir = host.dir.display(),
            ns = host.ns,
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// The operator's inventory for the fleet, as JSON.
fn inventory(hosts: &[Host], dir: &Path, url: &str, from: &str) -> serde_json::Value {
    let group = |members: &[Host]| -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for host in members {
            map.insert(
                host.name.clone(),
                serde_json::json!({
                    "ansible_python_interpreter": interpreter(host, dir),
                }),
            );
        }
        serde_json::json!({ "hosts": map })
    };
    let public = hosts.iter().position(|h| h.role == "slave_public").unwrap();
    serde_json::json!({
        "all": {
            "vars": {
                "ansible_connection": "local",
                "tarmac_bootstrap_url": url,
                "tarmac_upgrade_from": from,
                "tarmac_no_systemd": true,
            },
        },
        "masters": group(&hosts[..MASTERS]),
        "agents_private": group(&hosts[MASTERS..public]),
        "agents_public": group(&hosts[public..]),
    })
}

/// The package ids in a host's repository (`pkg-activate list`).
fn present(host: &Host) -> Vec<String> {
    let run = tarmac_testkit::cmd::run(&mut host.command(&[
        "/var/lib/tarmac/bin/pkg-activate",
        "--no-systemd",
        "list",
    ]));
    run.success();
    let mut ids: Vec<String> = run.stdout.lines().map(str::to_string).collect();
    ids.sort();
    ids
}

#[test]
fn ansible_rolls_out_in_batches_and_stops_at_a_failing_check() {
    if !is_root() {
        return;
    }
    crate::workspace::require_tool(
        "ansible-playbook",
        "`apt-get install ansible-core` (.ci/run does)",
    );
    let cluster = Cluster::build();
    let fleet = Fleet::start();
    let hosts = &fleet.hosts;
    let Served {
        nginx,
        url,
        tools,
        config: config1,
        packages: packages1,
        ..
    } = serve_from_one_nginx(&cluster, &fleet);
    let children = spawn_installs(hosts, std::slice::from_ref(&url));
    wait_all(hosts, children, "dcos_install.sh");
    assert_state(hosts, &packages1, &packages1, 1, &[1]);

    // ---- The upgrade: hello-git with a check ----
    let build = cluster.packages.join("hello-git/build");
    let mut script = std::fs::read_to_string(&build).unwrap();
    script.push_str(
        "# rolling upgrade test: a check that fails where the host is marked broken\n\
         mkdir -p \"$PKG_PATH/check\"\n\
         printf '%s\\n' '#!/bin/sh' \
         'if [ -e /var/lib/dcos/hello-broken ]; then echo \"hello: broken on this host\"; exit 1; fi' \
         >\"$PKG_PATH/check/hello-ready\"\n\
         chmod 0755 \"$PKG_PATH/check/hello-ready\"\n",
    );
    std::fs::write(&build, script).unwrap();
    let dist2 = build_and_bundle(
        &cluster.packages,
        &cluster.path().join("v2"),
        &cluster.cache,
    );
    let (_, bundle2) = bundle(&dist2);
    let serve = cluster.serve();
    generate(
        &cluster,
        &tools,
        &[
            "--dist",
            dist2.to_str().unwrap(),
            "--upgrade-from",
            serve.to_str().unwrap(),
        ],
    );
    let mut packages2: Vec<String> = bundle2
        .iter()
        .chain(&cluster_ids(&serve))
        .cloned()
        .collect();
    packages2.sort();
    assert_ne!(packages2, packages1);

    // Batches: the 3 masters one by one, then agents 4 at a time. The
    // failing agent is the second of the second agent batch.
    let agents = &hosts[MASTERS..];
    let batches: Vec<&[Host]> = agents.chunks(BATCH_SIZE).collect();
    let failing = &batches[1][1];
    std::fs::write(failing.dir.join("state/hello-broken"), "").unwrap();

    // ---- The play ----
    let work = cluster.path().join("ansible");
    std::fs::create_dir_all(&work).unwrap();
    let inventory_file = work.join("inventory.json");
    std::fs::write(
        &inventory_file,
        inventory(hosts, &work, &url, &config1).to_string(),
    )
    .unwrap();
    // ansible-playbook's exit code and its output (stdout, then stderr).
    let play = || -> (Option<i32>, String, String) {
        let output = Command::new("ansible-playbook")
            .arg("-i")
            .arg(&inventory_file)
            .arg(Path::new(REPO).join("scripts/integrations/ansible/tarmac-upgrade.yml"))
            .args(["-e", &format!("tarmac_agent_batch={BATCH}")])
            .env("ANSIBLE_HOME", &work)
            .env("ANSIBLE_LOCAL_TEMP", work.join("tmp"))
            .env("ANSIBLE_REMOTE_TEMP", work.join("tmp"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env_remove("TARMAC_FAILPOINT")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let text = format!("{stdout}\n{stderr}");
        (output.status.code(), stdout, text)
    };
    let log_before = requests(&nginx.access_log()).len();
    let (code, stdout, text) = play();
    assert_eq!(code, Some(2), "failed hosts: exit 2\n{text}");
    // The failing host is named, with its failed check and the rollback.
    let fatal = stdout
        .lines()
        .find(|l| l.starts_with("fatal: [") && l.contains("The rollout stops here"))
        .unwrap_or_else(|| panic!("no host stopped the rollout:\n{text}"));
    assert!(
        fatal.starts_with(&format!("fatal: [{}]", failing.name)),
        "{fatal}"
    );
    for expected in [
        format!(
            "{}: upgrade from {config1} failed at 'Checks of the active packages pass'",
            failing.name
        ),
        "hello: broken on this host".to_string(),
        "rolled back to generation 1".to_string(),
    ] {
        assert!(fatal.contains(&expected), "{expected:?} not in {fatal}");
    }

    // ---- Where every host is ----
    // Masters and the first agent batch: upgraded, gated, on generation 2.
    let upgraded = &hosts[..MASTERS + BATCH_SIZE];
    assert_state(upgraded, &packages2, &packages2, 2, &[1, 2]);
    // The failing host: back on generation 1 (the old packages, which the
    // recorded newer set lists as overrides), generation 2 kept.
    assert_state(
        std::slice::from_ref(failing),
        &packages1,
        &packages2,
        1,
        &[1, 2],
    );
    // Its batch mates passed their gates: upgraded.
    for mate in batches[1].iter().filter(|h| h.name != failing.name) {
        assert_state(
            std::slice::from_ref(mate),
            &packages2,
            &packages2,
            2,
            &[1, 2],
        );
    }
    // Later batches: never touched. One generation, the old packages only
    // in their repository, no request of theirs since the install, no
    // upgrade script downloaded.
    let later: Vec<&Host> = batches[2..].iter().flat_map(|b| b.iter()).collect();
    assert_eq!(later.len(), agents.len() - 2 * BATCH_SIZE);
    let log = requests(&nginx.access_log());
    let since: Vec<&(String, String)> = log[log_before..].iter().collect();
    for host in &later {
        assert_state(std::slice::from_ref(*host), &packages1, &packages1, 1, &[1]);
        assert_eq!(present(host), packages1, "{}", host.name);
        let ip = host.ip.to_string();
        assert!(
            !since.iter().any(|(client, _)| *client == ip),
            "{} made requests during the play",
            host.name
        );
        assert!(!host
            .dir
            .join(format!(
                "upper/varlib/tarmac/bin/dcos_node_upgrade-{config1}.sh"
            ))
            .exists());
    }

    // The order: each master's requests before the next master's, each
    // agent batch's before the next batch's (serial, not all at once).
    let turn = |ip: &str| -> usize {
        let i = hosts.iter().position(|h| h.ip.to_string() == ip).unwrap();
        if i < MASTERS {
            i
        } else {
            MASTERS + (i - MASTERS) / BATCH_SIZE
        }
    };
    let turns: Vec<usize> = since.iter().map(|(client, _)| turn(client)).collect();
    assert!(
        turns.windows(2).all(|w| w[0] <= w[1]),
        "requests out of turn: {turns:?}"
    );
    let seen: BTreeSet<usize> = turns.iter().copied().collect();
    assert_eq!(seen, (0..MASTERS + 2).collect(), "{turns:?}");

    // ---- The cause fixed, the same command again: the rollout completes ----
    std::fs::remove_file(failing.dir.join("state/hello-broken")).unwrap();
    let log_before = requests(&nginx.access_log()).len();
    let (code, stdout, text) = play();
    assert_eq!(code, Some(0), "{text}");
    // The hosts upgraded before pass through unchanged (the script does
    // nothing); the rolled-back host activates the new set again.
    let recap = |host: &Host| -> &str {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{} ", host.name)) && l.contains("changed="))
            .unwrap_or_else(|| panic!("no recap for {}:\n{text}", host.name))
    };
    for host in hosts {
        let line = recap(host);
        assert!(line.contains(" failed=0 "), "{line}");
        let done_before = host.name != failing.name && !later.iter().any(|h| h.name == host.name);
        assert_eq!(line.contains(" changed=0 "), done_before, "{line}");
    }
    assert_state(
        std::slice::from_ref(failing),
        &packages2,
        &packages2,
        3,
        &[1, 2, 3],
    );
    let done: Vec<&Host> = hosts.iter().filter(|h| h.name != failing.name).collect();
    for host in done {
        assert_state(
            std::slice::from_ref(host),
            &packages2,
            &packages2,
            2,
            &[1, 2],
        );
    }
    // Downloads: the script by every host; packages only by the hosts of
    // the later batches (the rolled-back host still has the new ones).
    let script = format!("/upgrade/{config1}/dcos_node_upgrade.sh");
    for (client, path) in &requests(&nginx.access_log())[log_before..] {
        let late = later.iter().any(|h| h.ip.to_string() == *client);
        assert!(
            late || *path == script,
            "{client} fetched {path} on the rerun"
        );
    }
    drop(nginx);
    drop(fleet);
}
