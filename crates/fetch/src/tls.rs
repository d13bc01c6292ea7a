//! Which HTTPS servers a download trusts.
//!
//! [`TrustStore::load`] reads the system trust store (what `SSL_CERT_FILE` /
//! `SSL_CERT_DIR` name, else the distribution's bundle, e.g.
//! `/etc/ssl/certs/ca-certificates.crt`, found by `openssl-probe`) and adds
//! the PEM certificates of a private CA file (`--cacert`). When the system
//! store yields no certificate (a minimal host without ca-certificates),
//! the Mozilla roots compiled into the binary stand in for it, as before
//! system trust existed, and [`TrustStore::notes`] says so: a host that
//! could download before keeps working, and trust is never wider than
//! either the system's or the bundled roots (plus the operator's file).
//!
//! A certificate that fails verification is fatal for that mirror (never
//! retried: the same server presents the same certificate), and its
//! message says it was TLS verification and how to trust a private CA.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tarmac_model::ExitClass;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// A `--cacert` file that cannot be used. Checked before any download.
#[derive(Debug, thiserror::Error)]
pub enum CaCertError {
    #[error("{}: cannot read the CA certificate file: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a PEM certificate file: {reason}", path.display())]
    Pem { path: PathBuf, reason: String },
    #[error("{}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display())]
    Empty { path: PathBuf },
    #[error("{}: certificate {index} cannot be a trust anchor: {reason}", path.display())]
    Invalid {
        path: PathBuf,
        /// 1-based position among the file's certificates.
        index: usize,
        reason: String,
    },
}

impl CaCertError {
    /// The file is the caller's input: exit 3.
    pub fn class(&self) -> ExitClass {
        ExitClass::Invalid
    }
}

/// The root certificates HTTPS connections are verified against.
///
/// The default is the Mozilla roots compiled into the binary (what a library
/// caller gets without asking); host-extract uses [`TrustStore::load`].
#[derive(Clone, Default)]
pub struct TrustStore {
    /// `None`: the bundled Mozilla roots.
    roots: Option<Arc<Vec<Certificate<'static>>>>,
    description: String,
    notes: Vec<String>,
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl TrustStore {
    /// The system trust store plus the certificates of `cacert`. `cacert`
    /// is read and checked first, so a bad file fails before anything else.
    pub fn load(cacert: Option<&Path>) -> Result<TrustStore, CaCertError> {
        let extra = match cacert {
            Some(path) => read_cacert(path)?,
            None => Vec::new(),
        };
        let system = rustls_native_certs::load_native_certs();
        Ok(TrustStore::from_parts(
            system.certs,
            system.errors.iter().map(|e| e.to_string()).collect(),
            extra,
            cacert,
        ))
    }

    fn from_parts(
        system: Vec<rustls::pki_types::CertificateDer<'static>>,
        system_errors: Vec<String>,
        extra: Vec<Certificate<'static>>,
        cacert: Option<&Path>,
    ) -> TrustStore {
        let extra_text = cacert
            .map(|p| format!(" + {} certificate(s) of {}", extra.len(), p.display()))
            .unwrap_or_default();
        let mut notes = Vec::new();
        if system.is_empty() {
            let why = if system_errors.is_empty() {
                "no certificate found (set SSL_CERT_FILE or install ca-certificates)".to_string()
            } else {
                system_errors.join("; ")
            };
            if extra.is_empty() {
                notes.push(format!(
                    "the system trust store is empty or unreadable ({why}); \
                     verifying HTTPS against the Mozilla roots built into this binary"
                ));
                return TrustStore {
                    roots: None,
                    description: "the Mozilla roots built into this binary (system store empty)"
                        .into(),
                    notes,
                };
            }
            notes.push(format!(
                "the system trust store is empty or unreadable ({why}); \
                 HTTPS trusts only the --cacert file {} ({} certificate(s))",
                cacert.map(|p| p.display().to_string()).unwrap_or_default(),
                extra.len()
            ));
        }
        let system_count = system.len();
        let mut roots: Vec<Certificate<'static>> = system
            .into_iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect();
        roots.extend(extra);
        TrustStore {
            roots: Some(Arc::new(roots)),
            description: format!(
                "the system trust store ({system_count} certificates){extra_text}"
            ),
            notes,
        }
    }

    /// What the operator should know about how trust was set up (e.g. the
    /// fallback to the bundled roots); empty when nothing unusual happened.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// One line naming what is trusted.
    pub fn describe(&self) -> String {
        if self.description.is_empty() {
            "the Mozilla roots built into this binary".into()
        } else {
            self.description.clone()
        }
    }

    /// The ureq TLS configuration verifying against these roots.
    pub(crate) fn tls_config(&self) -> TlsConfig {
        let roots = match &self.roots {
            Some(certs) => RootCerts::Specific(certs.clone()),
            None => RootCerts::WebPki,
        };
        TlsConfig::builder().root_certs(roots).build()
    }
}

/// Every certificate of a PEM file, each checked to be usable as a root.
fn read_cacert(path: &Path) -> Result<Vec<Certificate<'static>>, CaCertError> {
    let bytes = std::fs::read(path).map_err(|source| CaCertError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&bytes) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(CaCertError::Pem {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        }
    }
    if certs.is_empty() {
        return Err(CaCertError::Empty {
            path: path.to_path_buf(),
        });
    }
    // ureq would skip an unparsable root silently; say which one is bad.
    let mut check = rustls::RootCertStore::empty();
    for (index, cert) in certs.iter().enumerate() {
        check
            .add(rustls::pki_types::CertificateDer::from(cert.der()))
            .map_err(|e| CaCertError::Invalid {
                path: path.to_path_buf(),
                index: index + 1,
                reason: e.to_string(),
            })?;
    }
    Ok(certs)
}

/// The rustls error behind a failed request, if it is one.
fn rustls_error(error: &ureq::Error) -> Option<&rustls::Error> {
    match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref().and_then(|inner| inner.downcast_ref()),
        _ => None,
    }
}

/// The server's certificate failed verification (untrusted issuer, wrong
/// name, expired, none presented): retrying the same server cannot help.
pub(crate) fn is_certificate_error(error: &ureq::Error) -> bool {
    matches!(
        rustls_error(error),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    )
}

/// How a failed request reads to the operator: certificate failures say
/// they were TLS verification and how to trust a private CA.
pub(crate) fn describe(error: &ureq::Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let unknown_issuer = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
    match rustls_error(error) {
        Some(e) if *e == unknown_issuer => write!(
            f,
            "TLS verification failed: {e}: the server's CA is not trusted \
             (HTTPS trusts the system trust store; for a private CA pass \
             --cacert FILE or set TARMAC_CACERT)"
        ),
        Some(e) if is_certificate_error(error) => write!(
            f,
            "TLS verification failed: {e} (HTTPS trusts the system trust store \
             and --cacert FILE / TARMAC_CACERT)"
        ),
        _ => write!(f, "{error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_are_recognised_inside_io_errors() {
        let inner = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let error = ureq::Error::Io(io::Error::new(io::ErrorKind::InvalidData, inner));
        assert!(is_certificate_error(&error));
        let text = format!("{}", Shown(&error));
        assert!(text.starts_with("TLS verification failed"), "{text}");
        assert!(text.contains("--cacert"), "{text}");

        let other = ureq::Error::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::DecryptError,
        ));
        assert!(!is_certificate_error(&other));
        assert!(!is_certificate_error(&ureq::Error::ConnectionFailed));
        assert_eq!(format!("{}", Shown(&other)), other.to_string());
    }

    #[test]
    fn cacert_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = TrustStore::load(Some(&missing)).unwrap_err();
        assert!(matches!(error, CaCertError::Read { .. }), "{error}");
        assert!(error.to_string().contains("missing.pem"), "{error}");

        let text = dir.path().join("text.pem");
        std::fs::write(&text, "not a certificate\n").unwrap();
        let error = TrustStore::load(Some(&text)).unwrap_err();
        assert!(matches!(error, CaCertError::Empty { .. }), "{error}");

        // Well-formed PEM whose content is not a certificate.
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let error = TrustStore::load(Some(&garbage)).unwrap_err();
        assert!(
            matches!(error, CaCertError::Invalid { index: 1, .. }),
            "{error}"
        );
        assert_eq!(error.class(), ExitClass::Invalid);
    }

    struct Shown<'a>(&'a ureq::Error);

    impl fmt::Display for Shown<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            describe(self.0, f)
        }
    }
}
