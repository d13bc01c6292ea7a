//! Man pages and shell completions of the six tools, generated from their
//! clap definitions (the very `args.rs` each binary is built from) and kept
//! in `share/` (FHS layout: `share/man/man1/`,
//! `share/bash-completion/completions/`, `share/zsh/site-functions/`,
//! `share/fish/vendor_completions.d/`). `scripts/build-static.sh` installs
//! them beside the tools. This test fails when a copy is stale; run it with
//! `TARMAC_BLESS=1` to rewrite them.

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::workspace::repo_root;

#[allow(dead_code)]
#[path = "../src/bin/cfg-gen/args.rs"]
mod cfg_gen_args;
#[allow(dead_code)]
#[path = "../src/bin/host-extract/args.rs"]
mod host_extract_args;
#[allow(dead_code)]
#[path = "../src/bin/ip-detect-run/args.rs"]
mod ip_detect_run_args;
#[allow(dead_code)]
#[path = "../src/bin/pkg-activate/args.rs"]
mod pkg_activate_args;
#[allow(dead_code)]
#[path = "../src/bin/pkg-build/args.rs"]
mod pkg_build_args;
#[allow(dead_code)]
#[path = "../src/bin/pkg-bundle/args.rs"]
mod pkg_bundle_args;

/// Every tool's command, with the plain package version: the git commit of
/// `--version` would make every copy stale at every commit.
fn commands() -> Vec<clap::Command> {
    [
        cfg_gen_args::Args::command(),
        host_extract_args::Args::command(),
        ip_detect_run_args::Args::command(),
        pkg_activate_args::Args::command(),
        pkg_build_args::Args::command(),
        pkg_bundle_args::Args::command(),
    ]
    .into_iter()
    .map(|c| c.version(env!("CARGO_PKG_VERSION")))
    .collect()
}

/// `(path under share/, content)` of every generated file.
fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for mut command in commands() {
        let name = command.get_name().to_string();
        let mut man = Vec::new();
        clap_mangen::Man::new(command.clone())
            .render(&mut man)
            .unwrap();
        files.push((PathBuf::from(format!("man/man1/{name}.1")), man));
        // One page per subcommand, as git does: `man pkg-activate-rollback`.
        for sub in command.get_subcommands() {
            let page = format!("{name}-{}", sub.get_name());
            let mut man = Vec::new();
            clap_mangen::Man::new(
                sub.clone()
                    .name(&*Box::leak(page.clone().into_boxed_str()))
                    .version(env!("CARGO_PKG_VERSION")),
            )
            .render(&mut man)
            .unwrap();
            files.push((PathBuf::from(format!("man/man1/{page}.1")), man));
        }
        for (shell, path) in [
            (Shell::Bash, format!("bash-completion/completions/{name}")),
            (Shell::Zsh, format!("zsh/site-functions/_{name}")),
            (
                Shell::Fish,
                format!("fish/vendor_completions.d/{name}.fish"),
            ),
        ] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, &name, &mut script);
            files.push((PathBuf::from(path), script));
        }
    }
    files
}

#[test]
fn man_pages_and_completions_in_share_are_current() {
    let share = repo_root().join("share");
    let bless = std::env::var_os("TARMAC_BLESS").is_some();
    let mut stale = Vec::new();
    for (relative, content) in generated() {
        let path = share.join(&relative);
        if std::fs::read(&path).ok().as_deref() == Some(content.as_slice()) {
            continue;
        }
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &content).unwrap();
        } else {
            stale.push(relative.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale in share/ (regenerate: TARMAC_BLESS=1 cargo test --test integration generated::): {}",
        stale.join(", ")
    );
}

#[test]
fn every_tool_and_subcommand_has_a_man_page_and_completions() {
    let files = generated();
    let text = |path: &str| {
        files
            .iter()
            .find(|(p, _)| p == &PathBuf::from(path))
            .map(|(_, content)| String::from_utf8_lossy(content).into_owned())
            .unwrap_or_else(|| panic!("{path}: not generated"))
    };
    for command in commands() {
        let tool = command.get_name().to_string();
        let man = text(&format!("man/man1/{tool}.1"));
        assert!(
            man.contains(".TH") && man.contains(&tool),
            "{tool}: man page"
        );
        assert!(text(&format!("bash-completion/completions/{tool}")).contains("--help"));
        assert!(text(&format!("zsh/site-functions/_{tool}")).contains(&tool));
        assert!(text(&format!("fish/vendor_completions.d/{tool}.fish")).contains(&tool));
    }
    assert!(text("man/man1/pkg-activate-rollback.1").contains("rollback"));
}

#[test]
fn version_names_the_git_commit_the_tool_was_built_from() {
    for tool in [
        "cfg-gen",
        "host-extract",
        "ip-detect-run",
        "pkg-activate",
        "pkg-build",
        "pkg-bundle",
    ] {
        let output = std::process::Command::new(crate::workspace::bin_dir().join(tool))
            .arg("--version")
            .output()
            .unwrap();
        assert!(output.status.success(), "{tool} --version");
        let line = String::from_utf8(output.stdout).unwrap();
        let rest = line
            .trim_end()
            .strip_prefix(&format!("{tool} {} (git ", env!("CARGO_PKG_VERSION")))
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{tool} --version: {line:?}"));
        assert!(
            rest == "unknown" || (rest.len() == 40 && rest.bytes().all(|b| b.is_ascii_hexdigit())),
            "{tool} --version: {line:?}"
        );
    }
}
