//! host-extract over HTTPS against a real nginx whose certificate is signed
//! by a CA made in the test: untrusted without --cacert (a TLS verification
//! error, not retried), trusted with --cacert, TARMAC_CACERT or a system
//! store that holds the CA; a bad --cacert fails before any request.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tarmac_testkit::cmd::{Run, Runs};
use tarmac_testkit::nginx::Nginx;
use tarmac_testkit::repo::{Bundle, Pkg, Repo};
use tarmac_testkit::tls::TestCa;

use crate::host_extract::FAST;

const BIN: &str = env!("CARGO_BIN_EXE_host-extract");

struct Fixture {
    dir: tempfile::TempDir,
    repo: Repo,
    pkg: Pkg,
    bundle: Bundle,
    ca: TestCa,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::new(&dir.path().join("repo"));
    let pkg = Pkg::new("alpha--1")
        .file("bin/alpha", b"#!/bin/sh\necho alpha\n", 0o755)
        .bulk("share", 8, 4 * 1024);
    let bundle = repo.bundle(&[&pkg]);
    Fixture {
        dir,
        repo,
        pkg,
        bundle,
        ca: TestCa::new(),
    }
}

impl Fixture {
    fn root(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self, nginx: &Nginx) -> String {
        format!("{}/{}", nginx.url(), self.bundle.relative)
    }

    /// host-extract (bundle mode from `url`) into `root` with a clean TLS
    /// environment plus `env`.
    fn run(&self, root: &Path, url: &str, extra: &[&str], env: &[(&str, &Path)]) -> Run {
        let mut args = vec!["--blake3", &self.bundle.blake3, "--url", url];
        args.extend(extra);
        self.run_args(root, &args, env)
    }

    fn run_args(&self, root: &Path, args: &[&str], env: &[(&str, &Path)]) -> Run {
        let mut command = Command::new(BIN);
        command
            .arg("--root")
            .arg(root)
            .args(FAST)
            .args(args)
            .env_remove("TARMAC_CACERT")
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .stdin(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        command.run()
    }

    fn assert_installed(&self, root: &Path, run: &Run) {
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, "alpha--1\n");
        assert!(root.join("packages/alpha--1/bin/alpha").is_file());
    }

    fn assert_nothing_installed(&self, root: &Path) {
        assert!(!root.join("packages/alpha--1").exists());
        assert!(!root.join("packages/.staging").exists());
    }
}

#[test]
fn untrusted_certificate_is_a_tls_verification_failure_not_retried() {
    let f = fixture();
    let nginx = Nginx::serve_tls(&f.repo.root, &f.ca.server);
    let url = f.url(&nginx);
    let root = f.root("host");
    let out = f.run(&root, &url, &[], &[]);
    // Exit 1 (runtime): a trust problem is not the caller's input (3) and
    // not worth running again unchanged (75).
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains(&url), "{}", out.stderr);
    assert!(
        out.stderr.contains("TLS verification failed"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("UnknownIssuer"), "{}", out.stderr);
    assert!(out.stderr.contains("--cacert"), "{}", out.stderr);
    // Fatal for the mirror: FAST allows 3 retries, none was made.
    assert!(!out.stderr.contains("retrying"), "{}", out.stderr);
    assert!(!out.stderr.contains("giving up"), "{}", out.stderr);
    f.assert_nothing_installed(&root);
    assert_eq!(nginx.access_log(), "", "no request got past the handshake");
}

#[test]
fn cacert_flag_trusts_a_private_ca() {
    let f = fixture();
    let nginx = Nginx::serve_tls(&f.repo.root, &f.ca.server);
    let root = f.root("host");
    let cacert = f.ca.ca.to_str().unwrap();
    let out = f.run(&root, &f.url(&nginx), &["--cacert", cacert], &[]);
    f.assert_installed(&root, &out);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[test]
fn package_mode_uses_the_same_trust() {
    let f = fixture();
    f.repo.add(&f.pkg);
    let nginx = Nginx::serve_tls(&f.repo.root, &f.ca.server);
    let repository = nginx.url();
    let args = ["--repository", &repository, "--package", "alpha--1"];
    let root = f.root("host");
    let out = f.run_args(&root, &args, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("TLS verification failed"),
        "{}",
        out.stderr
    );
    f.assert_nothing_installed(&root);
    let out = f.run_args(&root, &args, &[("TARMAC_CACERT", &f.ca.ca)]);
    f.assert_installed(&root, &out);
}

#[test]
fn tarmac_cacert_environment_trusts_a_private_ca() {
    let f = fixture();
    let nginx = Nginx::serve_tls(&f.repo.root, &f.ca.server);
    let root = f.root("host");
    let out = f.run(&root, &f.url(&nginx), &[], &[("TARMAC_CACERT", &f.ca.ca)]);
    f.assert_installed(&root, &out);
}

#[test]
fn system_trust_store_is_used() {
    // SSL_CERT_FILE names the system bundle (as on hosts that set it): the
    // test CA in it is trusted without --cacert.
    let f = fixture();
    let nginx = Nginx::serve_tls(&f.repo.root, &f.ca.server);
    let empty = f.root("no-cert-dir");
    std::fs::create_dir(&empty).unwrap();
    let root = f.root("host");
    let env = [
        ("SSL_CERT_FILE", f.ca.ca.as_path()),
        ("SSL_CERT_DIR", &empty),
    ];
    let out = f.run(&root, &f.url(&nginx), &[], &env);
    f.assert_installed(&root, &out);
}

#[test]
fn empty_system_store_falls_back_to_the_bundled_roots_and_says_so() {
    let f = fixture();
    let nginx = Nginx::serve_tls(&f.repo.root, &f.ca.server);
    let empty = f.root("no-cert-dir");
    std::fs::create_dir(&empty).unwrap();
    let missing = f.root("no-such-bundle.pem");
    let env = [
        ("SSL_CERT_FILE", missing.as_path()),
        ("SSL_CERT_DIR", &empty),
    ];

    // The bundled Mozilla roots do not know the test CA.
    let root = f.root("host");
    let out = f.run(&root, &f.url(&nginx), &[], &env);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("system trust store is empty or unreadable"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("no-such-bundle.pem"), "{}", out.stderr);
    assert!(out.stderr.contains("Mozilla roots"), "{}", out.stderr);
    assert!(
        out.stderr.contains("TLS verification failed"),
        "{}",
        out.stderr
    );
    f.assert_nothing_installed(&root);

    // With --cacert the private CA is enough.
    let root = f.root("host2");
    let cacert = f.ca.ca.to_str().unwrap();
    let out = f.run(&root, &f.url(&nginx), &["--cacert", cacert], &env);
    f.assert_installed(&root, &out);
    assert!(
        out.stderr.contains("HTTPS trusts only the --cacert"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_cacert_fails_before_any_download() {
    // Plain HTTP, so a request that was made would be in the access log.
    let f = fixture();
    let nginx = Nginx::serve(&f.repo.root);
    let url = f.url(&nginx);
    let root = f.root("host");

    let missing = f.root("missing-ca.pem");
    let out = f.run(&root, &url, &["--cacert", missing.to_str().unwrap()], &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("missing-ca.pem"), "{}", out.stderr);
    assert!(out.stderr.contains("cannot read"), "{}", out.stderr);

    // A PEM file without a certificate (the server's private key), through
    // the environment variable.
    let out = f.run(&root, &url, &[], &[("TARMAC_CACERT", &f.ca.server.key)]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains(f.ca.server.key.to_str().unwrap()),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("holds no PEM certificate"),
        "{}",
        out.stderr
    );

    f.assert_nothing_installed(&root);
    assert_eq!(nginx.access_log(), "", "nothing was requested");
}
