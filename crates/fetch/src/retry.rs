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
    /// Bound on the whole run (every download of it), retries and waits
    /// included.
    pub total_timeout: Duration,
    /// Low-speed limit (curl's `--speed-limit`): an attempt delivering
    /// fewer bytes per second than this over `speed_time` is abandoned for
    /// the next mirror. 0 disables it.
    pub speed_limit: u64,
    /// The window of the low-speed limit (curl's `--speed-time`).
    pub speed_time: Duration,
    /// Requests one run may send, over all mirrors and files.
    pub max_requests: u32,
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
            speed_limit: 64 * 1024,
            speed_time: Duration::from_secs(20),
            max_requests: 40,
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
    /// The low-speed limit: fewer than `limit` bytes/s over the window.
    TooSlow {
        bytes: u64,
        window: Duration,
        limit: u64,
    },
    /// The body ended before the size an earlier attempt announced, with
    /// the same validators: a prefix, not a new version.
    Short { got: u64, expected: u64 },
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
            AttemptError::TooSlow {
                bytes,
                window,
                limit,
            } => write!(
                f,
                "too slow: {bytes} bytes in {:.1}s, below the limit of {limit} bytes/s",
                window.as_secs_f64()
            ),
            AttemptError::Short { got, expected } => write!(
                f,
                "announced {got} bytes where earlier attempts announced {expected}"
            ),
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
        AttemptError::TooSlow { .. } | AttemptError::Short { .. } => Disposition::Transient,
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

/// Longest `Retry-After` honoured as given; a larger value (or a date
/// further ahead) is capped to this. Anything this long exceeds the time
/// a run normally has left, which then stops at once with exit 75.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How long a `Retry-After` value (RFC 9110 section 10.2.3: delta-seconds or an
/// HTTP-date) asks us to wait, from `now` (wall clock); `None` when it
/// parses as neither. Capped at [`MAX_RETRY_AFTER`]; a date in the past
/// is zero.
pub(crate) fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is still a (very) long wait.
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let when = parse_http_date(value)?;
        when.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Parses an RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the
/// only HTTP-date form senders may generate. The obsolete RFC 850 and
/// asctime forms are not accepted: the header is then ignored and the
/// ordinary backoff applies.
pub(crate) fn parse_http_date(text: &str) -> Option<std::time::SystemTime> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_weekday, rest) = text.split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    let number = |s: &str, digits: usize| -> Option<i64> {
        (s.len() == digits && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let day = number(day, 2)?;
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let year = number(year, 4)?;
    let clock: Vec<&str> = time.split(':').collect();
    let [h, m, s] = clock[..] else { return None };
    let (h, m, s) = (number(h, 2)?, number(m, 2)?, number(s, 2)?);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + s;
    let secs = u64::try_from(secs).ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(secs))
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
    fn retry_after_reads_seconds_and_dates() {
        use std::time::{SystemTime, UNIX_EPOCH};
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        // In the past: no wait. Absurd: capped.
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        for bad in ["", "-5", "1.5", "soon", "Sunday, 06-Nov-94 08:49:37 GMT"] {
            assert_eq!(retry_after(bad, now), None, "{bad}");
        }
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(951_782_400))
        );
        let later = SystemTime::now() + Duration::from_secs(3600);
        let text = tarmac_testkit::fault_server::http_date(later);
        let back = parse_http_date(&text).unwrap();
        assert!(back <= later && later.duration_since(back).unwrap() < Duration::from_secs(1));
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
