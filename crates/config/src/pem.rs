//! Just enough PEM and DER to tell whether a text is an RSA public key, as
//! gen's check of `superuser_service_account_public_key` does (it loads the
//! key with `cryptography` and wants an `RSAPublicKey`).
//!
//! Accepted: `-----BEGIN PUBLIC KEY-----` (X.509 SubjectPublicKeyInfo,
//! RFC 5280 4.1) whose algorithm is rsaEncryption, and `-----BEGIN RSA
//! PUBLIC KEY-----` (PKCS#1 RSAPublicKey, RFC 8017 A.1.1), the two PEM
//! forms OpenSSL reads as public keys. The DER is walked strictly: definite
//! lengths in their shortest form, nothing after the outer value, INTEGERs
//! minimal and positive. A small walk instead of a crate: the whole check is
//! these few structures, and the workspace has no ASN.1 dependency to reuse.

/// Why a text is not an RSA public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("no '-----BEGIN PUBLIC KEY-----' line")]
    NoBegin,
    #[error("'-----BEGIN {0}-----' is a private key; give the public key")]
    PrivateKey(String),
    #[error("'-----BEGIN {0}-----' is not a public key (want PUBLIC KEY or RSA PUBLIC KEY)")]
    Label(String),
    #[error("no '-----END {0}-----' line")]
    NoEnd(String),
    #[error("the base64 body is invalid: {0}")]
    Base64(String),
    #[error("the DER structure is invalid: {0}")]
    Der(String),
    #[error("superuser_service_account_public_key must be of type RSA (the key is {0})")]
    NotRsa(String),
}

/// Ok when `text` holds one RSA public key in PEM.
pub fn rsa_public_key(text: &str) -> Result<(), PemError> {
    let (label, der) = pem_body(text)?;
    if label == "RSA PUBLIC KEY" {
        return rsa_key_sequence(&der);
    }
    let mut outer = Der::new(&der);
    let spki = outer.expect(0x30, "SubjectPublicKeyInfo SEQUENCE")?;
    outer.end("after the SubjectPublicKeyInfo")?;
    let mut spki = Der::new(spki);
    let mut algorithm = Der::new(spki.expect(0x30, "AlgorithmIdentifier SEQUENCE")?);
    let oid = algorithm.expect(0x06, "algorithm OID")?;
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let kind = match oid {
        RSA => None,
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] => Some("an EC key"),
        [0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01] => Some("a DSA key"),
        [0x2b, 0x65, 0x70] => Some("an Ed25519 key"),
        [0x2b, 0x65, 0x71] => Some("an Ed448 key"),
        [0x2b, 0x65, 0x6e] => Some("an X25519 key"),
        [0x2b, 0x65, 0x6f] => Some("an X448 key"),
        other => {
            return Err(PemError::NotRsa(format!(
                "of unknown algorithm {}",
                hex::encode(other)
            )))
        }
    };
    if let Some(kind) = kind {
        return Err(PemError::NotRsa(kind.into()));
    }
    // rsaEncryption's parameters are NULL (absent is tolerated, as OpenSSL does).
    if !algorithm.is_empty() {
        let null = algorithm.expect(0x05, "NULL parameters of rsaEncryption")?;
        if !null.is_empty() {
            return Err(PemError::Der("NULL parameters with content".into()));
        }
        algorithm.end("after the rsaEncryption parameters")?;
    }
    let bits = spki.expect(0x03, "subjectPublicKey BIT STRING")?;
    spki.end("after the subjectPublicKey")?;
    match bits.split_first() {
        Some((0, key)) => rsa_key_sequence(key),
        _ => Err(PemError::Der(
            "the subjectPublicKey BIT STRING has unused bits".into(),
        )),
    }
}

/// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
fn rsa_key_sequence(der: &[u8]) -> Result<(), PemError> {
    let mut outer = Der::new(der);
    let mut key = Der::new(outer.expect(0x30, "RSAPublicKey SEQUENCE")?);
    outer.end("after the RSAPublicKey")?;
    for name in ["modulus", "publicExponent"] {
        let n = key.expect(0x02, name)?;
        match n {
            [] => return Err(PemError::Der(format!("empty {name}"))),
            [first, ..] if first & 0x80 != 0 => {
                return Err(PemError::Der(format!("negative {name}")))
            }
            [0, next, ..] if next & 0x80 == 0 => {
                return Err(PemError::Der(format!("{name} not minimally encoded")))
            }
            _ if n.iter().all(|b| *b == 0) => return Err(PemError::Der(format!("{name} is zero"))),
            _ => {}
        }
    }
    key.end("after the publicExponent")
}

/// The label and decoded body of the first PEM block in `text`.
fn pem_body(text: &str) -> Result<(String, Vec<u8>), PemError> {
    let mut lines = text.lines().map(str::trim);
    let label = loop {
        let Some(line) = lines.next() else {
            return Err(PemError::NoBegin);
        };
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            break label.to_string();
        }
    };
    if label.contains("PRIVATE KEY") {
        return Err(PemError::PrivateKey(label));
    }
    if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
        return Err(PemError::Label(label));
    }
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    loop {
        match lines.next() {
            None => return Err(PemError::NoEnd(label)),
            Some(line) if line == end => break,
            Some(line) => body.push_str(line),
        }
    }
    Ok((label, base64_decode(&body)?))
}

/// Standard base64 with `=` padding (RFC 4648 4), whitespace already gone.
fn base64_decode(text: &str) -> Result<Vec<u8>, PemError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return Err(PemError::Base64(format!(
            "{} characters, not a non-zero multiple of 4",
            bytes.len()
        )));
    }
    let value = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.len() / 4;
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let padding = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if padding > 2 || (padding > 0 && i + 1 != chunks) {
            return Err(PemError::Base64("misplaced '=' padding".into()));
        }
        let mut group = 0u32;
        for c in &chunk[..4 - padding] {
            let v = value(*c).ok_or_else(|| {
                PemError::Base64(format!("unexpected character {:?}", char::from(*c)))
            })?;
            group = group << 6 | v;
        }
        group <<= 6 * padding as u32;
        let decoded = group.to_be_bytes();
        out.extend_from_slice(&decoded[1..4 - padding]);
    }
    Ok(out)
}

/// A cursor over DER TLVs.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Der { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn end(&self, what: &str) -> Result<(), PemError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(PemError::Der(format!(
                "{} unexpected bytes {what}",
                self.rest.len()
            )))
        }
    }

    /// The content of the next value, which must have tag `tag`.
    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], PemError> {
        let short = || PemError::Der(format!("truncated {what}"));
        let (&found, rest) = self.rest.split_first().ok_or_else(short)?;
        if found != tag {
            return Err(PemError::Der(format!(
                "expected {what} (tag {tag:#04x}), found tag {found:#04x}"
            )));
        }
        let (&first, mut rest) = rest.split_first().ok_or_else(short)?;
        let length = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return Err(PemError::Der(format!("bad length of {what}")));
            }
            let (digits, after) = rest.split_at(count);
            rest = after;
            let length = digits.iter().fold(0usize, |n, b| n << 8 | usize::from(*b));
            if digits[0] == 0 || length < 0x80 {
                return Err(PemError::Der(format!(
                    "length of {what} not in its shortest form"
                )));
            }
            length
        };
        if rest.len() < length {
            return Err(short());
        }
        let (content, after) = rest.split_at(length);
        self.rest = after;
        Ok(content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl genrsa 1024 | openssl rsa -pubout` (a throwaway key).
    const SPKI: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCxDC+1fpYffTZv9njDQ+ac1VuR
z/Tvta9qiOZY0/SizliAPDg4pVdqPu095hRcvZiR/R8X/SYzaq8zIEZtUo6yLiJN
ozkHL6DeAlilDc4W5EKyB7nFuLrb77nxUmEahntub6ydaIWP0fdblQcpwpC5127B
0OBs9cQ4luBpfcur3wIDAQAB
-----END PUBLIC KEY-----
";

    #[test]
    fn an_rsa_spki_key_parses() {
        assert_eq!(rsa_public_key(SPKI), Ok(()));
        // Leading text and indentation are tolerated, as OpenSSL does.
        let indented: String = SPKI.lines().map(|l| format!("  {l}\n")).collect();
        assert_eq!(rsa_public_key(&format!("key:\n{indented}")), Ok(()));
    }

    #[test]
    fn pkcs1_form_parses() {
        // The RSAPublicKey inside SPKI, re-armored as PKCS#1.
        let (_, der) = pem_body(SPKI).unwrap();
        let inner = &der[22..];
        let body = base64_encode(inner);
        let pem = format!("-----BEGIN RSA PUBLIC KEY-----\n{body}\n-----END RSA PUBLIC KEY-----\n");
        assert_eq!(rsa_public_key(&pem), Ok(()));
    }

    fn base64_encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let mut group = [0u8; 3];
            group[..chunk.len()].copy_from_slice(chunk);
            let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn broken_and_foreign_keys_are_refused() {
        let cases: &[(String, &str)] = &[
            ("not a key".into(), "no '-----BEGIN"),
            (SPKI.replace("-----END PUBLIC KEY-----\n", ""), "no '-----END"),
            (SPKI.replace("MIGfMA0G", "MIGfMA0!"), "unexpected character"),
            (SPKI.replace("AQAB", "AQ=="), "DER structure"),
            (SPKI.replace("PUBLIC KEY", "CERTIFICATE"), "not a public key"),
            (SPKI.replace("PUBLIC KEY", "RSA PRIVATE KEY"), "private key"),
            (
                // `openssl ecparam -name prime256v1 -genkey | openssl ec -pubout`
                "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEms5gQo95VrITSg35xjyHePWYIT4a\n0uivfgKD4cIIHPgO8wU2hqKHNmoNj7kIMOKVR6eOKRVp0RnnvR8VP44CqQ==\n-----END PUBLIC KEY-----\n".into(),
                "must be of type RSA (the key is an EC key)",
            ),
        ];
        for (text, expected) in cases {
            let error = rsa_public_key(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn der_lengths_must_be_shortest_and_complete() {
        // SEQUENCE with a long-form length of 5 (must be short form).
        let mut der = Der::new(&[0x30, 0x81, 0x05, 1, 2, 3, 4, 5]);
        assert!(der.expect(0x30, "x").is_err());
        let mut der = Der::new(&[0x30, 0x05, 1, 2]);
        assert!(der
            .expect(0x30, "x")
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        let mut der = Der::new(&[0x30, 0x01, 1, 9]);
        assert_eq!(der.expect(0x30, "x").unwrap(), &[1]);
        assert!(der.end("after").is_err());
        assert_eq!(base64_decode("QUJD").unwrap(), b"ABC");
        assert_eq!(base64_decode("QUI=").unwrap(), b"AB");
        assert!(base64_decode("Q=I=").is_err());
    }
}
