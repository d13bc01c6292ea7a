//! A throwaway certificate authority and a server certificate it signed,
//! made with the `openssl` command line (on the machine with nginx), for
//! HTTPS tests against [`crate::nginx::Nginx::serve_tls`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A CA (`ca.pem`) and a server certificate it signed for `127.0.0.1`
/// (IP SAN) and `localhost`, valid for two days; removed on drop.
pub struct TestCa {
    dir: tempfile::TempDir,
    /// PEM of the CA certificate: what a client must trust.
    pub ca: PathBuf,
    pub server: ServerCert,
}

/// A server certificate and its private key (PEM files).
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    /// Makes a new CA and server certificate. Panics (a test setup failure)
    /// with openssl's stderr if a step fails.
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().expect("CA temp dir");
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=tarmac test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
             basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        TestCa {
            ca: d.join("ca.pem"),
            server: ServerCert {
                cert: d.join("server.pem"),
                key: d.join("server.key"),
            },
            dir,
        }
    }

    /// The directory holding the files (e.g. for more test files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl (is it installed?)");
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}
