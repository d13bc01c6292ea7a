//! Parsing the script's stdout: exactly one address of one family.
//!
//! Only trailing whitespace (including CR from scripts edited on Windows) is
//! forgiven; anything else around the address (a second line, a route
//! metric, a prefix length, leading zeros) is refused, because every DC/OS
//! service would otherwise read a different thing from the same output.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which address family the answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn number(self) -> u8 {
        match self {
            Family::V4 => 4,
            Family::V6 => 6,
        }
    }
}

/// Parses `stdout` as one address of `family`; the error is the reason.
pub fn parse_answer(stdout: &[u8], family: Family) -> Result<IpAddr, String> {
    let text = std::str::from_utf8(stdout).map_err(|_| "output is not UTF-8".to_string())?;
    let trimmed = text.trim_end();
    if trimmed.is_empty() {
        return Err("expected one address, got no output".into());
    }
    if trimmed.contains('\n') {
        return Err("expected one line with one address, got several lines".into());
    }
    if trimmed.starts_with(char::is_whitespace) {
        return Err("leading whitespace before the address".into());
    }
    if trimmed.contains(char::is_whitespace) {
        return Err("expected only an address on the line, got extra words".into());
    }
    match family {
        Family::V4 => {
            let address: Ipv4Addr = trimmed.parse().map_err(|_| {
                if trimmed.parse::<Ipv6Addr>().is_ok() {
                    "an IPv6 address where IPv4 was expected (use --family 6)".to_string()
                } else {
                    // Rust's parser refuses leading zeros ("010.0.0.1"), which
                    // inet_aton would read as octal: ambiguous, so refused.
                    "not an IPv4 address in dotted-decimal form".to_string()
                }
            })?;
            check_v4(address)?;
            Ok(IpAddr::V4(address))
        }
        Family::V6 => {
            let address: Ipv6Addr = trimmed.parse().map_err(|_| {
                if trimmed.parse::<Ipv4Addr>().is_ok() {
                    "an IPv4 address where IPv6 was expected".to_string()
                } else {
                    "not an IPv6 address".to_string()
                }
            })?;
            check_v6(address)?;
            Ok(IpAddr::V6(address))
        }
    }
}

fn check_v4(address: Ipv4Addr) -> Result<(), String> {
    if address.is_loopback() {
        return Err("loopback address: other nodes cannot reach it".into());
    }
    if address.is_unspecified() || address.is_broadcast() || address.is_multicast() {
        return Err("not a unicast host address".into());
    }
    Ok(())
}

fn check_v6(address: Ipv6Addr) -> Result<(), String> {
    if address.is_loopback() {
        return Err("loopback address: other nodes cannot reach it".into());
    }
    if address.is_unspecified() || address.is_multicast() {
        return Err("not a unicast host address".into());
    }
    Ok(())
}

/// The script's output as it appears in an error message: Rust-escaped in
/// double quotes (so CR, NUL and newlines are visible), cut at 200 bytes.
pub fn quote(stdout: &[u8]) -> String {
    const LIMIT: usize = 200;
    let text = String::from_utf8_lossy(&stdout[..stdout.len().min(LIMIT)]);
    let mut quoted = format!("{text:?}");
    if stdout.len() > LIMIT {
        quoted.push_str(&format!(" (first {LIMIT} of {} bytes)", stdout.len()));
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> Result<IpAddr, String> {
        parse_answer(text.as_bytes(), Family::V4)
    }

    #[test]
    fn accepts_one_address_with_trailing_whitespace() {
        let expected: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(v4("10.0.0.5").unwrap(), expected);
        assert_eq!(v4("10.0.0.5\n").unwrap(), expected);
        assert_eq!(v4("10.0.0.5\r\n").unwrap(), expected);
        assert_eq!(v4("10.0.0.5 \t\n\n").unwrap(), expected);
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "\n",
            "10.0.0.5\n10.0.0.6\n",
            "10.0.0.5 metric 100",
            "10.0.0.5/24",
            " 10.0.0.5",
            "010.0.0.5",
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "fd00::1",
            "host.example.com",
            "10.0.0",
        ] {
            assert!(v4(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_answer(b"\xff\n", Family::V4).is_err());
    }

    #[test]
    fn family_six() {
        assert_eq!(
            parse_answer(b"fd00::5\n", Family::V6).unwrap(),
            "fd00::5".parse::<IpAddr>().unwrap()
        );
        assert!(parse_answer(b"::1\n", Family::V6).is_err());
        assert!(parse_answer(b"10.0.0.5\n", Family::V6)
            .unwrap_err()
            .contains("IPv4 address where IPv6"));
    }

    #[test]
    fn quote_shows_control_characters() {
        assert_eq!(quote(b"a\r\nb"), r#""a\r\nb""#);
        assert!(quote(&[b'x'; 300]).ends_with("(first 200 of 300 bytes)"));
    }
}
