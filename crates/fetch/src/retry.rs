//! Retry policy: how many attempts, how long to wait between them, and the
//! ONE function that decides whether a failed attempt is worth retrying.
//!
//! Waits are exponential backoff with full jitter (a uniformly random wait in
//! `[0, min(max, base * 2^n)]`), so 10,000 hosts that lost the same server do
//! not come back in lockstep.

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::time::Duration;

/// Timeouts and retry budget of a download. Every value is a flag of
/// host-extract so tests can run with millisecond timings.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// TCP connect timeout per attempt.
    pub connect_timeout: Duration,
    /// Stall detector: an attempt fails when no byte arrives for this long.
    pub stall_timeout: Duration,
    /// Consecutive failed attempts (without progress) tolerated before giving up.
    pub retries: u32,
    /// First backoff ceiling; doubles per consecutive failure.
    pub backoff_base: Duration,
    /// Largest backoff ceiling.
    pub backoff_max: Duration,
    /// Bound on the whole download, retries and waits included.
    pub total_timeout: Duration,
    /// The roots HTTPS servers are verified against.
    pub trust: crate::TrustStore,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
            retries: 8,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            total_timeout: Duration::from_secs(3600),
            trust: crate::TrustStore::default(),
        }
    }
}

/// Why one attempt against one source failed. Internal evidence; what the
/// user sees is a [`crate::Error`] built from the last of these.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// The request itself failed (connect, DNS, TLS, timeout, protocol).
    Request(ureq::Error),
    /// Reading the body failed (reset, stall, early EOF).
    Read(io::Error),
    /// The server answered with a status we do not accept.
    Status(u16),
    /// The body ended before the length the server announced.
    Truncated { got: u64, expected: u64 },
    /// A 206 whose Content-Range does not start where we asked.
    BadRange(String),
    /// A local file could not be opened or read.
    File(io::Error),
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::Request(e) => crate::tls::describe(e, f),
            AttemptError::Read(e) => write!(f, "reading body: {e}"),
            AttemptError::Status(code) => write!(f, "HTTP status {code}"),
            AttemptError::Truncated { got, expected } => {
                write!(f, "body ended after {got} of {expected} bytes")
            }
            AttemptError::BadRange(reason) => write!(f, "bad Content-Range: {reason}"),
            AttemptError::File(e) => write!(f, "{e}"),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Safe and useful to try again (same or another mirror).
    Transient,
    /// Trying this source again cannot help (404, TLS, bad URL).
    Fatal,
}

/// THE transient-versus-fatal decision for every fetch failure.
///
/// Transient: anything about the network or an overloaded server — connect
/// failures, DNS, timeouts (connect, stall, global), resets, early EOF,
/// truncated bodies, protocol garbage (a proxy hiccup), 408, 429 and 5xx.
/// Fatal: the request cannot succeed as asked — other 4xx (404 above all),
/// TLS and certificate errors, bad URLs, redirect loops, unreadable files.
pub(crate) fn classify(error: &AttemptError) -> Disposition {
    match error {
        AttemptError::Request(e) => classify_ureq(e),
        AttemptError::Read(e) => match e.get_ref().and_then(|inner| inner.downcast_ref()) {
            Some(inner) => classify_ureq(inner),
            None => Disposition::Transient,
        },
        AttemptError::Status(code) => match code {
            408 | 429 | 500..=599 => Disposition::Transient,
            _ => Disposition::Fatal,
        },
        AttemptError::Truncated { .. } => Disposition::Transient,
        AttemptError::BadRange(_) => Disposition::Transient,
        AttemptError::File(_) => Disposition::Fatal,
    }
}

fn classify_ureq(error: &ureq::Error) -> Disposition {
    use ureq::Error as U;
    if crate::tls::is_certificate_error(error) {
        return Disposition::Fatal;
    }
    match error {
        U::Io(_)
        | U::Timeout(_)
        | U::HostNotFound
        | U::ConnectionFailed
        | U::Protocol(_)
        | U::BodyStalled => Disposition::Transient,
        U::StatusCode(code) => classify(&AttemptError::Status(*code)),
        _ => Disposition::Fatal,
    }
}

/// Full-jitter exponential backoff: the wait before retry number `failures`
/// (1-based) is uniform in `[0, min(max, base * 2^(failures-1))]`.
pub(crate) fn backoff(options: &FetchOptions, failures: u32, random: &mut Random) -> Duration {
    let exponent = failures.saturating_sub(1).min(20);
    let ceiling = options
        .backoff_base
        .saturating_mul(1 << exponent)
        .min(options.backoff_max);
    let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(random.next() % (nanos + 1))
}

/// A small splitmix64 generator for jitter; seeded from std's per-process
/// random hasher keys. Not for anything secret.
pub(crate) struct Random(u64);

impl Random {
    pub(crate) fn new() -> Random {
        Random(RandomState::new().hash_one(std::time::SystemTime::now()))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        for code in [500, 502, 503, 504, 408, 429] {
            assert_eq!(
                classify(&AttemptError::Status(code)),
                Disposition::Transient,
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 410] {
            assert_eq!(
                classify(&AttemptError::Status(code)),
                Disposition::Fatal,
                "{code}"
            );
        }
    }

    #[test]
    fn network_errors_are_transient() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify(&AttemptError::Read(reset)), Disposition::Transient);
        let stalled = ureq::Error::Timeout(ureq::Timeout::PerRead).into_io();
        assert_eq!(
            classify(&AttemptError::Read(stalled)),
            Disposition::Transient
        );
        assert_eq!(
            classify(&AttemptError::Request(ureq::Error::ConnectionFailed)),
            Disposition::Transient
        );
        assert_eq!(
            classify(&AttemptError::Truncated {
                got: 1,
                expected: 2
            }),
            Disposition::Transient
        );
        assert_eq!(
            classify(&AttemptError::Request(ureq::Error::BadUri("x".into()))),
            Disposition::Fatal
        );
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(classify(&AttemptError::File(missing)), Disposition::Fatal);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let options = FetchOptions {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(350),
            ..FetchOptions::default()
        };
        let mut random = Random::new();
        for failures in 1..40 {
            let ceiling =
                Duration::from_millis(100 << (failures - 1).min(20)).min(options.backoff_max);
            for _ in 0..50 {
                assert!(backoff(&options, failures, &mut random) <= ceiling);
            }
        }
        // Full jitter: the waits spread over the whole range, not just its top.
        let waits: Vec<_> = (0..200)
            .map(|_| backoff(&options, 10, &mut random))
            .collect();
        assert!(waits.iter().any(|w| *w < Duration::from_millis(100)));
        assert!(waits.iter().any(|w| *w > Duration::from_millis(250)));
    }
}
