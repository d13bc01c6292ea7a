//! A resumable, verified byte stream over a list of mirrors.
//!
//! [`Download`] implements `Read`: the consumer (the archive extractor) sees
//! one continuous stream while, underneath, failed attempts are retried with
//! backoff, resumed with `Range` on the same or the next mirror, and every
//! delivered byte is hashed once (blake3) on the way through.
//!
//! Invariant: [`Download::blake3`] is always the hash of exactly the bytes
//! delivered to the consumer, in order. When a server ignores `Range` and
//! sends the whole body again, the repeated prefix is re-hashed and must
//! equal what was already delivered (else [`Error::ContentChanged`]).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use tarmac_model::Reporter;

use crate::retry::{backoff, classify, AttemptError, Disposition, FetchOptions, Random};
use crate::{Error, Source};

/// One open attempt: the body reader and what the server said about it.
struct Body {
    reader: Box<dyn Read + Send>,
    mirror: usize,
}

/// Skipping a prefix that the server re-sent because it ignored `Range`.
struct PrefixCheck {
    remaining: u64,
    /// The hasher over the delivered bytes, restored if this attempt fails.
    delivered: blake3::Hasher,
}

/// A download in progress; read it to the end, then call [`Download::finish`].
pub struct Download<'r> {
    mirrors: Vec<Source>,
    dead: Vec<bool>,
    options: FetchOptions,
    agent: ureq::Agent,
    reporter: &'r dyn Reporter,
    deadline: Instant,
    random: Random,
    cursor: usize,
    /// The mirror of the latest successful connect.
    serving: usize,
    body: Option<Body>,
    offset: u64,
    total: Option<u64>,
    hasher: blake3::Hasher,
    prefix: Option<PrefixCheck>,
    failures: u32,
    attempts: u32,
    streak_start: Option<usize>,
    last_failure: Option<(usize, String)>,
    fatal: Option<Error>,
    error: Option<Error>,
    eof: bool,
}

/// What a finished download delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The mirror that delivered the last byte.
    pub url: String,
    pub bytes: u64,
    /// 64 hex digits of blake3 over every delivered byte.
    pub blake3: String,
}

impl<'r> Download<'r> {
    /// Starts a download from the first mirror that answers. Fails only
    /// when no mirror can deliver (after retries), so a bad URL is reported
    /// before anything is written.
    pub fn open(
        mirrors: Vec<Source>,
        options: &FetchOptions,
        reporter: &'r dyn Reporter,
    ) -> Result<Download<'r>, Error> {
        assert!(!mirrors.is_empty(), "a download needs at least one source");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(options.connect_timeout))
            .timeout_per_read(Some(options.stall_timeout))
            .timeout_global(Some(options.total_timeout))
            // Range and hashing work on the bytes as stored: never let a
            // server or ureq transcode them.
            .accept_encoding("identity")
            .user_agent(concat!("tarmac-fetch/", env!("CARGO_PKG_VERSION")))
            .tls_config(options.trust.tls_config())
            .build()
            .new_agent();
        let mut download = Download {
            dead: vec![false; mirrors.len()],
            mirrors,
            options: options.clone(),
            agent,
            reporter,
            deadline: Instant::now() + options.total_timeout,
            random: Random::new(),
            cursor: 0,
            serving: 0,
            body: None,
            offset: 0,
            total: None,
            hasher: blake3::Hasher::new(),
            prefix: None,
            failures: 0,
            attempts: 0,
            streak_start: None,
            last_failure: None,
            fatal: None,
            error: None,
            eof: false,
        };
        download.connect()?;
        Ok(download)
    }

    /// Total size announced by the server, when it announced one.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// The source currently (or last) delivering bytes.
    pub fn url(&self) -> String {
        self.mirrors[self.serving].to_string()
    }

    /// The terminal error behind a failed `read`, if the failure was ours.
    /// The consumer's own error type loses our classification; this keeps it.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Reads whatever the consumer left unread (hashing it), then reports
    /// what was delivered.
    pub fn finish(&mut self) -> Result<Fetched, Error> {
        let mut sink = vec![0u8; 64 * 1024];
        loop {
            match self.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) => {
                    return Err(self.error.take().unwrap_or_else(|| Error::Read {
                        url: self.url(),
                        reason: e.to_string(),
                    }))
                }
            }
        }
        Ok(Fetched {
            url: self.url(),
            bytes: self.offset,
            blake3: self.hasher.finalize().to_hex().to_string(),
        })
    }

    /// Opens an attempt at `self.offset`, retrying and rotating mirrors
    /// until one answers or the budget is spent.
    fn connect(&mut self) -> Result<(), Error> {
        loop {
            let Some(index) = self.next_mirror() else {
                return Err(self
                    .fatal
                    .take()
                    .expect("all mirrors dead implies a fatal error"));
            };
            if self.streak_start == Some(index) {
                // A whole round of mirrors failed in a row: back off.
                if self.failures > self.options.retries {
                    return Err(self.exhausted());
                }
                let wait = backoff(&self.options, self.failures, &mut self.random);
                let left = self.deadline.saturating_duration_since(Instant::now());
                if wait >= left {
                    return Err(self.timed_out());
                }
                if let Some((_, reason)) = &self.last_failure {
                    self.reporter.note(&format!(
                        "{}: {reason}; retrying in {} ms",
                        self.mirrors[index],
                        wait.as_millis()
                    ));
                }
                std::thread::sleep(wait);
            } else if Instant::now() >= self.deadline {
                return Err(self.timed_out());
            }
            self.attempts += 1;
            let outcome = self.attempt(index);
            if outcome.is_ok() {
                self.serving = index;
            }
            match outcome {
                Ok(Some(reader)) => {
                    self.body = Some(Body {
                        reader,
                        mirror: index,
                    });
                    return Ok(());
                }
                Ok(None) => {
                    // 416 at exactly the end: everything was delivered.
                    self.eof = true;
                    return Ok(());
                }
                Err(AttemptOutcome::Terminal(error)) => return Err(error),
                Err(AttemptOutcome::Failed(failure)) => self.record_failure(index, failure),
            }
        }
    }

    /// The mirror to try next: in order, then round-robin, skipping dead ones.
    fn next_mirror(&mut self) -> Option<usize> {
        let count = self.mirrors.len();
        for step in 0..count {
            let index = (self.cursor + step) % count;
            if !self.dead[index] {
                self.cursor = (index + 1) % count;
                return Some(index);
            }
        }
        None
    }

    fn record_failure(&mut self, index: usize, failure: AttemptError) {
        let source = &self.mirrors[index];
        match classify(&failure) {
            Disposition::Transient => {
                if self.streak_start.is_none() {
                    self.streak_start = Some(index);
                }
                // One more failure per full round, counted where the round starts.
                if self.streak_start == Some(index) {
                    self.failures += 1;
                }
                self.last_failure = Some((index, failure.to_string()));
            }
            Disposition::Fatal => {
                self.dead[index] = true;
                let error = match failure {
                    AttemptError::Status(code) => Error::Status {
                        url: source.to_string(),
                        code,
                    },
                    AttemptError::File(e) if e.kind() == io::ErrorKind::NotFound => {
                        Error::NotFound {
                            url: source.to_string(),
                        }
                    }
                    other => Error::Request {
                        url: source.to_string(),
                        reason: other.to_string(),
                    },
                };
                self.reporter.note(&error.to_string());
                // A streak anchored on a now-dead mirror would never wrap.
                if self.streak_start == Some(index) {
                    self.streak_start = None;
                }
                self.fatal = Some(error);
            }
        }
    }

    fn exhausted(&self) -> Error {
        let (index, reason) = self.last_failure.clone().unwrap_or((0, "unknown".into()));
        Error::Exhausted {
            url: self.mirrors[index].to_string(),
            attempts: self.attempts,
            last: reason,
        }
    }

    fn timed_out(&self) -> Error {
        let (index, reason) = self.last_failure.clone().unwrap_or((0, "no answer".into()));
        Error::TimedOut {
            url: self.mirrors[index].to_string(),
            limit: self.options.total_timeout,
            last: reason,
        }
    }

    /// One request to one mirror at the current offset.
    fn attempt(&mut self, index: usize) -> Result<Option<Box<dyn Read + Send>>, AttemptOutcome> {
        match self.mirrors[index].clone() {
            Source::File(path) => {
                let mut file =
                    File::open(&path).map_err(|e| AttemptOutcome::Failed(AttemptError::File(e)))?;
                let len = file
                    .metadata()
                    .map_err(|e| AttemptOutcome::Failed(AttemptError::File(e)))?
                    .len();
                self.check_total(index, len)?;
                file.seek(SeekFrom::Start(self.offset))
                    .map_err(|e| AttemptOutcome::Failed(AttemptError::File(e)))?;
                Ok(Some(Box::new(file)))
            }
            Source::Http(url) => self.attempt_http(index, &url),
        }
    }

    fn attempt_http(
        &mut self,
        index: usize,
        url: &str,
    ) -> Result<Option<Box<dyn Read + Send>>, AttemptOutcome> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let mut request = self.agent.get(url);
        if self.offset > 0 {
            request = request.header("Range", format!("bytes={}-", self.offset));
        }
        let response = request
            .config()
            .timeout_global(Some(left.max(Duration::from_millis(1))))
            .build()
            .call()
            .map_err(|e| AttemptOutcome::Failed(AttemptError::Request(e)))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        match status {
            200 => {
                if let Some(len) = header("content-length").and_then(|v| v.parse().ok()) {
                    self.check_total(index, len)?;
                }
                if self.offset > 0 {
                    // The server ignored Range: hash from byte 0 again and
                    // check the re-sent prefix against what was delivered.
                    self.reporter.note(&format!(
                        "{url}: server ignored Range; re-reading {} bytes",
                        self.offset
                    ));
                    let delivered = std::mem::take(&mut self.hasher);
                    self.prefix = Some(PrefixCheck {
                        remaining: self.offset,
                        delivered,
                    });
                }
                Ok(Some(Box::new(response.into_body().into_reader())))
            }
            206 => {
                let range = header("content-range").unwrap_or_default();
                let (start, total) = parse_content_range(&range)
                    .ok_or_else(|| AttemptOutcome::Failed(AttemptError::BadRange(range.clone())))?;
                if start != self.offset {
                    return Err(AttemptOutcome::Failed(AttemptError::BadRange(format!(
                        "{range:?} does not start at {}",
                        self.offset
                    ))));
                }
                if let Some(total) = total {
                    self.check_total(index, total)?;
                }
                Ok(Some(Box::new(response.into_body().into_reader())))
            }
            416 => {
                // "bytes */N": N is the current size. At exactly our offset
                // everything was delivered; anything else means it changed.
                let range = header("content-range").unwrap_or_default();
                let size = range
                    .strip_prefix("bytes */")
                    .and_then(|n| n.trim().parse().ok());
                match size {
                    Some(size) if size == self.offset => {
                        self.check_total(index, size)?;
                        Ok(None)
                    }
                    _ => Err(AttemptOutcome::Terminal(Error::ContentChanged {
                        url: url.to_string(),
                        reason: format!(
                            "416 for a resume at byte {} (Content-Range {range:?})",
                            self.offset
                        ),
                    })),
                }
            }
            code => Err(AttemptOutcome::Failed(AttemptError::Status(code))),
        }
    }

    /// Every mirror and every attempt must agree on the size.
    fn check_total(&mut self, index: usize, total: u64) -> Result<(), AttemptOutcome> {
        match self.total {
            Some(known) if known != total => Err(AttemptOutcome::Terminal(Error::ContentChanged {
                url: self.mirrors[index].to_string(),
                reason: format!("size is {total} bytes, earlier attempts said {known}"),
            })),
            Some(_) => Ok(()),
            None => {
                self.total = Some(total);
                self.reporter.total_bytes(total);
                Ok(())
            }
        }
    }

    /// Reads from the current body; `Err` is an attempt failure to retry.
    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, AttemptError> {
        let body = self.body.as_mut().expect("connected");
        match body.reader.read(buf) {
            Ok(0) => match self.total {
                Some(total) if self.offset < total => Err(AttemptError::Truncated {
                    got: self.offset,
                    expected: total,
                }),
                _ => Ok(0),
            },
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(self.read_body(buf)?),
            Err(e) => Err(AttemptError::Read(e)),
        }
    }

    /// Consumes the re-sent prefix of a Range-ignoring 200, hashing it.
    /// `Ok(false)`: the server re-sent different bytes than it first did.
    fn skip_prefix(&mut self) -> Result<bool, AttemptError> {
        let mut scratch = vec![0u8; 64 * 1024];
        while let Some(check) = &mut self.prefix {
            if check.remaining == 0 {
                let same = check.delivered.finalize() == self.hasher.finalize();
                self.prefix = None;
                return Ok(same);
            }
            let want = check.remaining.min(scratch.len() as u64) as usize;
            let body = self.body.as_mut().expect("connected");
            match body.reader.read(&mut scratch[..want]) {
                Ok(0) => {
                    return Err(AttemptError::Truncated {
                        got: self.offset - check.remaining,
                        expected: self.total.unwrap_or(self.offset),
                    })
                }
                Ok(n) => {
                    self.hasher.update(&scratch[..n]);
                    check.remaining -= n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(AttemptError::Read(e)),
            }
        }
        Ok(true)
    }

    /// A failed attempt mid-stream: give the prefix check back its state,
    /// record the failure, and reconnect at the current offset.
    fn recover(&mut self, failure: AttemptError) -> Result<(), Error> {
        let index = self.body.take().map_or(0, |b| b.mirror);
        if let Some(check) = self.prefix.take() {
            // The hasher holds a partial re-read: go back to the hash of
            // what was delivered; the next attempt resumes from there.
            self.hasher = check.delivered;
        }
        self.record_failure(index, failure);
        self.connect()
    }

    fn fail(&mut self, error: Error) -> io::Error {
        let io = io::Error::other(error.to_string());
        self.error = Some(error);
        io
    }
}

enum AttemptOutcome {
    /// This attempt failed; classify and maybe retry.
    Failed(AttemptError),
    /// The download cannot continue on any mirror.
    Terminal(Error),
}

/// Parses `bytes START-END/TOTAL` (TOTAL may be `*`).
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    let total = match total.trim() {
        "*" => None,
        n => Some(n.parse().ok()?),
    };
    Some((start.trim().parse().ok()?, total))
}

impl Read for Download<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.eof {
                return Ok(0);
            }
            if let Some(error) = &self.error {
                return Err(io::Error::other(error.to_string()));
            }
            if self.body.is_none() {
                if let Err(error) = self.connect() {
                    return Err(self.fail(error));
                }
                continue;
            }
            if self.prefix.is_some() {
                match self.skip_prefix() {
                    Ok(true) => {}
                    Ok(false) => {
                        let error = Error::ContentChanged {
                            url: self.url(),
                            reason: "server ignored Range and re-sent a different prefix".into(),
                        };
                        return Err(self.fail(error));
                    }
                    Err(failure) => {
                        if let Err(error) = self.recover(failure) {
                            return Err(self.fail(error));
                        }
                    }
                }
                continue;
            }
            match self.read_body(buf) {
                Ok(0) => {
                    self.eof = true;
                    self.body = None;
                    return Ok(0);
                }
                Ok(n) => {
                    self.hasher.update(&buf[..n]);
                    self.offset += n as u64;
                    // Progress ends a failure streak: retries count
                    // consecutive attempts that delivered nothing.
                    self.failures = 0;
                    self.streak_start = None;
                    self.reporter.advance(n as u64);
                    return Ok(n);
                }
                Err(failure) => {
                    if let Err(error) = self.recover(failure) {
                        return Err(self.fail(error));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parses() {
        assert_eq!(
            parse_content_range("bytes 10-99/100"),
            Some((10, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 10-99/*"), Some((10, None)));
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    use std::time::Duration;
    use tarmac_model::Silent;
    use tarmac_testkit::fault_server::{Fault, FaultServer};

    fn fast() -> FetchOptions {
        FetchOptions {
            connect_timeout: Duration::from_secs(2),
            stall_timeout: Duration::from_millis(300),
            retries: 3,
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            total_timeout: Duration::from_secs(20),
            ..FetchOptions::default()
        }
    }

    fn payload() -> Vec<u8> {
        (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn fetch(sources: Vec<Source>) -> Result<(Vec<u8>, Fetched), Error> {
        let mut download = Download::open(sources, &fast(), &Silent)?;
        let mut out = Vec::new();
        if download.read_to_end(&mut out).is_err() {
            return Err(download.take_error().expect("our error"));
        }
        Ok((out, download.finish()?))
    }

    fn server(faults: &[Fault]) -> FaultServer {
        FaultServer::builder()
            .file("/f", payload())
            .script("/f", faults)
            .start()
    }

    fn check_ok(server: &FaultServer) -> (Vec<u8>, Fetched) {
        let (bytes, fetched) = fetch(vec![Source::parse(&format!("{}/f", server.url()))]).unwrap();
        assert_eq!(bytes, payload());
        assert_eq!(
            fetched.blake3,
            blake3::hash(&payload()).to_hex().to_string()
        );
        assert_eq!(fetched.bytes, payload().len() as u64);
        (bytes, fetched)
    }

    #[test]
    fn cut_mid_body_resumes_with_range() {
        let server = server(&[Fault::CutAfter(100_000), Fault::CutAfter(50_000)]);
        check_ok(&server);
        let starts: Vec<_> = server.requests().iter().map(|r| r.range_start).collect();
        assert_eq!(starts, [None, Some(100_000), Some(150_000)]);
    }

    #[test]
    fn ignored_range_rehashes_from_zero() {
        let server = server(&[Fault::CutAfter(120_000), Fault::IgnoreRange]);
        check_ok(&server);
        assert_eq!(server.requests()[1].range_start, Some(120_000));
    }

    #[test]
    fn ignored_range_with_different_prefix_is_content_changed() {
        let server = server(&[Fault::CutAfter(120_000), Fault::Corrupt(10)]);
        // Corrupt honours Range, so the resumed bytes are correct: fine.
        check_ok(&server);
        let server = FaultServer::builder()
            .file("/f", payload())
            .script("/f", &[Fault::CutAfter(120_000)])
            .start();
        let url = format!("{}/f", server.url());
        let mut download = Download::open(vec![Source::parse(&url)], &fast(), &Silent).unwrap();
        let mut first = vec![0u8; 1000];
        download.read_exact(&mut first).unwrap();
        drop(server);
        // A different artifact at a second server that ignores Range.
        let mut other = payload();
        other[5] ^= 0xff;
        let changed = FaultServer::builder()
            .file("/f", other)
            .script("/f", &[Fault::IgnoreRange; 4])
            .start();
        download.mirrors = vec![Source::parse(&format!("{}/f", changed.url()))];
        download.dead = vec![false];
        download.body = None;
        let mut rest = Vec::new();
        assert!(download.read_to_end(&mut rest).is_err());
        let error = download.take_error().unwrap();
        assert!(matches!(error, Error::ContentChanged { .. }), "{error}");
        assert_eq!(error.class(), tarmac_model::ExitClass::Integrity);
    }

    #[test]
    fn range_not_satisfiable_at_the_end_means_done() {
        let server = server(&[]);
        let url = format!("{}/f", server.url());
        let len = payload().len() as u64;
        let mut download = Download::open(vec![Source::parse(&url)], &fast(), &Silent).unwrap();
        // As if every byte had arrived and the connection died before EOF.
        download.body = None;
        download.offset = len;
        assert_eq!(download.read(&mut [0u8; 16]).unwrap(), 0);
        assert_eq!(server.requests().last().unwrap().range_start, Some(len));

        // A resume beyond what the server now has: the artifact changed.
        let mut download = Download::open(vec![Source::parse(&url)], &fast(), &Silent).unwrap();
        download.body = None;
        download.offset = len + 10;
        download.total = None;
        assert!(download.read(&mut [0u8; 16]).is_err());
        let error = download.take_error().unwrap();
        assert!(matches!(error, Error::ContentChanged { .. }), "{error}");
    }

    #[test]
    fn stall_is_detected_and_retried() {
        let server = server(&[Fault::StallAfter(10_000)]);
        check_ok(&server);
        assert_eq!(server.requests()[1].range_start, Some(10_000));
    }

    #[test]
    fn server_errors_are_retried_then_exhausted() {
        check_ok(&server(&[Fault::Status(500), Fault::Status(503)]));
        let server = server(&[Fault::Status(500); 10]);
        let error = fetch(vec![Source::parse(&format!("{}/f", server.url()))]).unwrap_err();
        assert!(matches!(error, Error::Exhausted { .. }), "{error}");
        assert_eq!(error.class(), tarmac_model::ExitClass::Transient);
        // retries = 3: the first attempt plus three more.
        assert_eq!(server.requests().len(), 4);
    }

    #[test]
    fn total_time_is_bounded() {
        let server = server(&[Fault::Status(503); 1000]);
        let options = FetchOptions {
            retries: 1000,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_millis(50),
            total_timeout: Duration::from_millis(400),
            ..fast()
        };
        let url = format!("{}/f", server.url());
        let error = Download::open(vec![Source::parse(&url)], &options, &Silent)
            .err()
            .expect("must give up");
        assert!(matches!(error, Error::TimedOut { .. }), "{error}");
        assert_eq!(error.class(), tarmac_model::ExitClass::Transient);
    }

    #[test]
    fn not_found_is_fatal_at_once() {
        let server = server(&[]);
        let error = fetch(vec![Source::parse(&format!("{}/missing", server.url()))]).unwrap_err();
        assert!(matches!(error, Error::Status { code: 404, .. }), "{error}");
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn truncated_artifact_is_delivered_as_is() {
        // A server that says the file is shorter: the pin catches it, not us.
        let server = server(&[Fault::Truncate(1000)]);
        let (bytes, fetched) = fetch(vec![Source::parse(&format!("{}/f", server.url()))]).unwrap();
        assert_eq!(bytes.len(), 1000);
        assert_ne!(
            fetched.blake3,
            blake3::hash(&payload()).to_hex().to_string()
        );
    }

    #[test]
    fn dead_mirror_is_skipped_and_files_work() {
        let server = server(&[]);
        let dead = format!("{}/f", tarmac_testkit::nginx::dead_url());
        let (_, fetched) = fetch(vec![
            Source::parse(&dead),
            Source::parse(&format!("{}/f", server.url())),
        ])
        .unwrap();
        assert!(fetched.url.ends_with("/f") && !fetched.url.starts_with(&dead));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, payload()).unwrap();
        let (bytes, _) = fetch(vec![Source::parse(&format!("file://{}", path.display()))]).unwrap();
        assert_eq!(bytes, payload());
        let error = fetch(vec![Source::parse("/nonexistent/tarmac")]).unwrap_err();
        assert_eq!(error.class(), tarmac_model::ExitClass::Invalid);
    }
}
