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
//!
//! Never splice two versions: each mirror's validators (`ETag`,
//! `Last-Modified`, size) are remembered per download; a resume that finds
//! them changed ends the download with [`Error::ContentChanged`] (the host
//! loop starts the file again from byte 0; a mirror that changes twice is
//! dropped for the run, see [`crate::run`]). A body announced shorter than
//! what an earlier attempt announced, with unchanged `ETag` and
//! `Last-Modified` (or from another mirror), is a prefix: a transient
//! failure of that attempt, resumed elsewhere, never an integrity error.
//!
//! Everything run-wide lives in [`Run`]: mirrors dropped for the run are
//! skipped, a mirror is never asked before its `Retry-After` instant (other
//! mirrors are used meanwhile; when every usable mirror waits longer than
//! the run has left, the download stops at once, exit 75), each request
//! counts against `--max-requests`, and `--total-timeout` is the run's
//! deadline. An attempt slower than `--speed-limit` bytes/s over
//! `--speed-time` is abandoned for the next mirror, and that mirror is then
//! only asked when no other is ready.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use tarmac_fs::Context;
use tarmac_model::{ExitClass, Reporter};

use crate::retry::{backoff, classify, retry_after, AttemptError, Disposition, Random};
use crate::run::Run;
use crate::{Error, FetchOptions, Source};

/// One open attempt: the body reader and where it comes from.
struct Body {
    reader: Box<dyn Read + Send>,
    mirror: usize,
}

/// Skipping a prefix that the server re-sent because it ignored `Range`.
struct PrefixCheck {
    remaining: u64,
    /// The hasher over the delivered bytes, restored if this attempt fails.
    delivered: StreamHasher,
}

/// What a mirror said identifies the version it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Validators {
    etag: Option<String>,
    modified: Option<String>,
    size: Option<u64>,
}

/// The low-speed window of the current attempt.
struct Window {
    start: Instant,
    bytes: u64,
}

/// A download in progress; read it to the end, then call [`Download::finish`].
pub struct Download<'r> {
    mirrors: Vec<Source>,
    /// Mirrors that failed fatally for this file (404, TLS), with the error.
    dead: Vec<Option<Error>>,
    /// The mirror that failed fatally last.
    last_dead: Option<usize>,
    validators: Vec<Option<Validators>>,
    run: &'r Run,
    agent: ureq::Agent,
    reporter: &'r dyn Reporter,
    random: Random,
    cursor: usize,
    /// The mirror of the latest successful connect.
    serving: usize,
    body: Option<Body>,
    window: Window,
    offset: u64,
    total: Option<u64>,
    hasher: StreamHasher,
    prefix: Option<PrefixCheck>,
    failures: u32,
    attempts: u32,
    streak_start: Option<usize>,
    last_failure: Option<(usize, String)>,
    error: Option<Error>,
    eof: bool,
}

/// blake3 over bytes delivered in pieces of any size, fed to blake3 in
/// pieces that start and end on 16 KiB boundaries (16 chunks, what its
/// widest SIMD path hashes at once). Socket reads end anywhere (131,048
/// bytes on average from nginx on loopback), and unaligned updates made
/// hashing a 640 MB bundle 47% slower (135 ms against 92 ms).
#[derive(Clone, Default)]
struct StreamHasher {
    hasher: blake3::Hasher,
    /// The bytes after the last boundary, fewer than [`HASH_ALIGN`].
    carry: Vec<u8>,
}

const HASH_ALIGN: usize = 16 * 1024;

impl StreamHasher {
    fn update(&mut self, mut data: &[u8]) {
        if !self.carry.is_empty() {
            let take = (HASH_ALIGN - self.carry.len()).min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < HASH_ALIGN {
                return;
            }
            self.hasher.update(&self.carry);
            self.carry.clear();
        }
        let aligned = data.len() / HASH_ALIGN * HASH_ALIGN;
        self.hasher.update(&data[..aligned]);
        self.carry.extend_from_slice(&data[aligned..]);
    }

    fn finalize(&self) -> blake3::Hash {
        let mut hasher = self.hasher.clone();
        hasher.update(&self.carry);
        hasher.finalize()
    }
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

/// Downloads a small document (a package manifest, a delta index) whole
/// into memory. More than `limit` bytes is bad content (`Error::Manifest`);
/// a failed read is the download's own error. `what` names the document
/// in messages.
pub(crate) fn fetch_small(
    mirrors: Vec<Source>,
    run: &Run,
    reporter: &dyn Reporter,
    limit: u64,
    what: &str,
) -> Result<(Vec<u8>, Fetched), Error> {
    let mut download = Download::open(mirrors, run, reporter)?;
    let url = download.url();
    let mut bytes = Vec::new();
    if (&mut download)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return Err(download.take_error().unwrap_or(Error::Read {
            url,
            reason: format!("reading the {what} failed"),
        }));
    }
    if bytes.len() as u64 > limit {
        return Err(Error::Manifest {
            url,
            reason: format!("larger than {limit} bytes"),
        });
    }
    let fetched = download.finish()?;
    Ok((bytes, fetched))
}

impl<'r> Download<'r> {
    /// Starts a download from the run's preferred mirror, or the next that
    /// answers. `mirrors` are this file's URLs on each of the run's mirrors,
    /// in the run's order. Fails only when no mirror can deliver (after
    /// retries), so a bad URL is reported before anything is written.
    pub fn open(
        mirrors: Vec<Source>,
        run: &'r Run,
        reporter: &'r dyn Reporter,
    ) -> Result<Download<'r>, Error> {
        assert_eq!(
            mirrors.len(),
            run.mirror_count(),
            "one source per mirror of the run"
        );
        let options = run.options();
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
        let count = mirrors.len();
        let mut download = Download {
            dead: (0..count).map(|_| None).collect(),
            last_dead: None,
            validators: vec![None; count],
            mirrors,
            run,
            agent,
            reporter,
            random: Random::new(),
            cursor: run.preferred() % count,
            serving: 0,
            body: None,
            window: Window {
                start: Instant::now(),
                bytes: 0,
            },
            offset: 0,
            total: None,
            hasher: StreamHasher::default(),
            prefix: None,
            failures: 0,
            attempts: 0,
            streak_start: None,
            last_failure: None,
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
        let options = self.run.options().clone();
        let deadline = self.run.deadline();
        loop {
            let index = self.next_mirror()?;
            if self.streak_start == Some(index) {
                // A whole round of mirrors failed in a row: back off.
                if self.failures > options.retries {
                    return Err(self.exhausted());
                }
                let wait = backoff(&options, self.failures, &mut self.random);
                let left = deadline.saturating_duration_since(Instant::now());
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
            } else if Instant::now() >= deadline {
                return Err(self.timed_out());
            }
            if !self.run.take_request() {
                return Err(Error::Budget {
                    url: self.mirrors[index].to_string(),
                    requests: self.run.requests(),
                    last: self.run.last_failure(),
                });
            }
            self.attempts += 1;
            let outcome = self.attempt(index);
            if outcome.is_ok() {
                self.serving = index;
                self.run.set_preferred(index);
                self.window = Window {
                    start: Instant::now(),
                    bytes: 0,
                };
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

    fn usable(&self, index: usize) -> bool {
        self.dead[index].is_none() && !self.run.is_dropped(index)
    }

    /// The mirror to ask next: in order, then round-robin, skipping dead
    /// and dropped ones and those whose `Retry-After` has not passed,
    /// preferring mirrors not known to be slow. When every usable mirror
    /// must still wait: sleeps until the first may be asked, or fails at
    /// once when that is beyond the deadline.
    fn next_mirror(&mut self) -> Result<usize, Error> {
        let count = self.mirrors.len();
        loop {
            let order: Vec<usize> = (0..count)
                .map(|step| (self.cursor + step) % count)
                .filter(|&i| self.usable(i))
                .collect();
            if order.is_empty() {
                return Err(self.no_mirror());
            }
            if let Some(start) = self.streak_start {
                // A streak anchored on a mirror now unusable would never wrap.
                if !self.usable(start) {
                    self.streak_start = None;
                }
            }
            let now = Instant::now();
            let ready = |i: &usize| self.run.not_before(*i).is_none_or(|t| t <= now);
            let pick = order
                .iter()
                .copied()
                .find(|i| ready(i) && !self.run.is_slow(*i))
                .or_else(|| order.iter().copied().find(ready));
            if let Some(index) = pick {
                self.cursor = (index + 1) % count;
                return Ok(index);
            }
            let (index, until) = order
                .iter()
                .filter_map(|&i| self.run.not_before(i).map(|t| (i, t)))
                .min_by_key(|(_, t)| *t)
                .expect("a mirror that is not ready has a not-before instant");
            let wait = until.saturating_duration_since(now);
            let left = self.run.deadline().saturating_duration_since(now);
            if wait >= left {
                return Err(Error::WaitTooLong {
                    url: self.mirrors[index].to_string(),
                    wait,
                    left,
                });
            }
            self.reporter.note(&format!(
                "{}: waiting {} ms as asked (Retry-After)",
                self.mirrors[index],
                wait.as_millis()
            ));
            std::thread::sleep(wait);
        }
    }

    /// No usable mirror left for this file. When none was dropped for the
    /// run, the last fatal error as it is (a 404 stays exit 3); otherwise
    /// the run's list of every mirror and what it did.
    fn no_mirror(&mut self) -> Error {
        let dropped = (0..self.mirrors.len()).any(|i| self.run.is_dropped(i));
        if !dropped {
            if let Some(error) = self.last_dead.and_then(|i| self.dead[i].take()) {
                return error;
            }
        }
        let others: Vec<(usize, &Error)> = self
            .dead
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i, e)))
            .collect();
        self.run.no_mirror(&others)
    }

    fn record_failure(&mut self, index: usize, failure: AttemptError) {
        let source = &self.mirrors[index];
        if let AttemptError::TooSlow { .. } = failure {
            self.run.mark_slow(index);
            self.reporter
                .note(&format!("{source}: {failure}; trying the next mirror"));
        }
        self.run.note_failure(format!("{source}: {failure}"));
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
                self.dead[index] = Some(error);
                self.last_dead = Some(index);
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
            limit: self.run.options().total_timeout,
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
                self.check_version(
                    index,
                    Validators {
                        etag: None,
                        modified: None,
                        size: Some(len),
                    },
                )?;
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
        let left = self
            .run
            .deadline()
            .saturating_duration_since(Instant::now());
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
        let validators = |size: Option<u64>| Validators {
            etag: header("etag"),
            modified: header("last-modified"),
            size,
        };
        match status {
            200 => {
                let len = header("content-length").and_then(|v| v.parse().ok());
                self.check_version(index, validators(len))?;
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
                self.check_version(index, validators(total))?;
                Ok(Some(Box::new(response.into_body().into_reader())))
            }
            416 => {
                // "bytes */N": N is the current size. At exactly our offset
                // everything was delivered; anything else means it changed.
                let range = header("content-range").unwrap_or_default();
                let size: Option<u64> = range
                    .strip_prefix("bytes */")
                    .and_then(|n| n.trim().parse().ok());
                match size {
                    Some(size) if size == self.offset && self.total.is_none_or(|t| t == size) => {
                        Ok(None)
                    }
                    _ => Err(self.changed(
                        index,
                        format!(
                            "416 for a resume at byte {} (Content-Range {range:?})",
                            self.offset
                        ),
                    )),
                }
            }
            code => {
                if matches!(code, 429 | 503) {
                    let asked = header("retry-after")
                        .and_then(|value| retry_after(&value, SystemTime::now()));
                    if let Some(wait) = asked {
                        self.run.wait_until(index, Instant::now() + wait);
                        self.reporter.note(&format!(
                            "{url}: HTTP status {code}, asked to retry after {} s",
                            wait.as_secs_f64()
                        ));
                    }
                }
                Err(AttemptOutcome::Failed(AttemptError::Status(code)))
            }
        }
    }

    /// Compares what `index` says it serves with what this download
    /// already holds. Nothing delivered yet: anything goes (the first
    /// answer fixes the size). Otherwise: changed validators of the same
    /// mirror end the download (never splice); a different size with
    /// unchanged validators, or from another mirror, fails this attempt
    /// (a prefix or another copy, not something to resume into).
    fn check_version(&mut self, index: usize, seen: Validators) -> Result<(), AttemptOutcome> {
        let previous = self.validators[index].replace(seen.clone());
        if self.offset == 0 {
            if let Some(size) = seen.size {
                if self.total != Some(size) {
                    self.total = Some(size);
                    self.reporter.total_bytes(size);
                }
            }
            return Ok(());
        }
        if let Some(previous) = &previous {
            if previous.etag != seen.etag || previous.modified != seen.modified {
                let reason = format!(
                    "validators changed between attempts: ETag {:?} -> {:?}, Last-Modified {:?} -> {:?}",
                    previous.etag, seen.etag, previous.modified, seen.modified
                );
                return Err(self.changed(index, reason));
            }
        }
        match (seen.size, self.total) {
            (Some(size), Some(total)) if size != total => {
                // Keep the validators of the version we are resuming.
                self.validators[index] = previous;
                Err(AttemptOutcome::Failed(AttemptError::Short {
                    got: size,
                    expected: total,
                }))
            }
            _ => Ok(()),
        }
    }

    /// `index` serves another version than the one being delivered: count
    /// the change for the run (dropping the mirror on the second) and end
    /// this download so the file starts again from byte 0.
    fn changed(&mut self, index: usize, reason: String) -> AttemptOutcome {
        let url = self.mirrors[index].to_string();
        if !self.run.changed(index, format!("{url}: {reason}")) {
            self.reporter
                .note(&format!("{url}: content changed again: mirror dropped"));
        }
        AttemptOutcome::Terminal(Error::ContentChanged { url, reason })
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
            Ok(n) => {
                self.check_speed(n as u64)?;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(self.read_body(buf)?),
            Err(e) => Err(AttemptError::Read(e)),
        }
    }

    /// The low-speed limit: once a window of `speed_time` has passed, it
    /// must have brought at least `speed_limit * speed_time` bytes. The
    /// bytes of the failing read are dropped; the resume asks for them.
    fn check_speed(&mut self, bytes: u64) -> Result<(), AttemptError> {
        let options = self.run.options();
        self.window.bytes += bytes;
        let elapsed = self.window.start.elapsed();
        if options.speed_limit == 0 || elapsed < options.speed_time {
            return Ok(());
        }
        let needed = (options.speed_limit as f64 * options.speed_time.as_secs_f64()) as u64;
        if self.window.bytes < needed {
            return Err(AttemptError::TooSlow {
                bytes: self.window.bytes,
                window: elapsed,
                limit: options.speed_limit,
            });
        }
        self.window = Window {
            start: Instant::now(),
            bytes: 0,
        };
        Ok(())
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

/// Downloads one file into `dest` (created or truncated) with a run of its
/// own: `mirrors` are the file's URLs (or paths), tried in order with the
/// retries, `Range` resume, mirror rotation and the one transient/fatal
/// classification of [`Download`]. `expect_blake3` (64 hex digits), when
/// given, must match the delivered bytes ([`Error::Checksum`]). On error
/// `dest` may hold part of the bytes: the caller removes it. The smallest
/// door into this crate for a tool that needs one file (pkg-build's sources
/// and `--cache-url`).
pub fn fetch_to_file(
    mirrors: &[Source],
    options: &FetchOptions,
    dest: &Path,
    expect_blake3: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Fetched, Error> {
    if mirrors.is_empty() {
        return Err(Error::NoMirror {
            mirrors: "none given".into(),
            class: ExitClass::Invalid,
        });
    }
    let run = Run::new(mirrors.iter().map(ToString::to_string).collect(), options);
    let mut download = Download::open(mirrors.to_vec(), &run, reporter)?;
    let mut out = File::create(dest).with_path("create", dest)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match download.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(download.take_error().unwrap_or_else(|| Error::Read {
                    url: download.url(),
                    reason: e.to_string(),
                }))
            }
        };
        out.write_all(&buf[..n]).with_path("write", dest)?;
    }
    out.flush().with_path("write", dest)?;
    let fetched = download.finish()?;
    if let Some(expected) = expect_blake3 {
        if !expected.eq_ignore_ascii_case(&fetched.blake3) {
            return Err(Error::Checksum {
                url: fetched.url,
                expected: expected.to_string(),
                actual: fetched.blake3,
            });
        }
    }
    Ok(fetched)
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
                        let index = self.body.as_ref().map_or(self.serving, |b| b.mirror);
                        let outcome = self.changed(
                            index,
                            "server ignored Range and re-sent a different prefix".into(),
                        );
                        let AttemptOutcome::Terminal(error) = outcome else {
                            unreachable!("a change is terminal")
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
                    if let Some(body) = &self.body {
                        self.run.delivered(body.mirror);
                    }
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

    use crate::FetchOptions;
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
            speed_limit: 0,
            speed_time: Duration::from_secs(20),
            max_requests: 100,
            ..FetchOptions::default()
        }
    }

    fn run_of(sources: &[Source], options: &FetchOptions) -> Run {
        Run::new(sources.iter().map(|s| s.to_string()).collect(), options)
    }

    fn payload() -> Vec<u8> {
        (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn fetch(sources: Vec<Source>) -> Result<(Vec<u8>, Fetched), Error> {
        let run = run_of(&sources, &fast());
        let mut download = Download::open(sources, &run, &Silent)?;
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
        let run = run_of(&[Source::parse(&url)], &fast());
        let mut download = Download::open(vec![Source::parse(&url)], &run, &Silent).unwrap();
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
        download.dead = vec![None];
        download.body = None;
        let mut rest = Vec::new();
        assert!(download.read_to_end(&mut rest).is_err());
        let error = download.take_error().unwrap();
        assert!(matches!(error, Error::ContentChanged { .. }), "{error}");
        assert_eq!(error.class(), tarmac_model::ExitClass::Transient);
    }

    #[test]
    fn range_not_satisfiable_at_the_end_means_done() {
        let server = server(&[]);
        let url = format!("{}/f", server.url());
        let len = payload().len() as u64;
        let run = run_of(&[Source::parse(&url)], &fast());
        let mut download = Download::open(vec![Source::parse(&url)], &run, &Silent).unwrap();
        // As if every byte had arrived and the connection died before EOF.
        download.body = None;
        download.offset = len;
        assert_eq!(download.read(&mut [0u8; 16]).unwrap(), 0);
        assert_eq!(server.requests().last().unwrap().range_start, Some(len));

        // A resume beyond what the server now has: the artifact changed.
        let run = run_of(&[Source::parse(&url)], &fast());
        let mut download = Download::open(vec![Source::parse(&url)], &run, &Silent).unwrap();
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
        let run = run_of(&[Source::parse(&url)], &options);
        let error = Download::open(vec![Source::parse(&url)], &run, &Silent)
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

    #[test]
    fn stream_hasher_equals_blake3_of_the_whole_whatever_the_pieces() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let expected = blake3::hash(&data);
        for sizes in [
            &[1usize, 16383, 16384, 5][..],
            &[131_048],
            &[100_000, 1],
            &[16384],
            &[0, 7],
        ] {
            let mut hasher = StreamHasher::default();
            let mut rest = &data[..];
            let mut turn = 0;
            while !rest.is_empty() {
                let n = sizes[turn % sizes.len()].min(rest.len());
                hasher.update(&rest[..n]);
                rest = &rest[n..];
                turn += 1;
            }
            assert_eq!(hasher.finalize(), expected, "pieces of {sizes:?}");
        }
        // A partial hash (the prefix check's) is the hash of what came so far.
        let mut hasher = StreamHasher::default();
        hasher.update(&data[..20_000]);
        assert_eq!(hasher.finalize(), blake3::hash(&data[..20_000]));
    }

    #[test]
    fn fetch_to_file_retries_resumes_and_checks_blake3() {
        let temp = tempfile::tempdir().unwrap();
        let dest = temp.path().join("f");
        let server = server(&[Fault::Status(503), Fault::CutAfter(1000)]);
        let url = [Source::parse(&format!("{}/f", server.url()))];
        let expected = blake3::hash(&payload()).to_hex().to_string();
        let fetched = fetch_to_file(&url, &fast(), &dest, Some(&expected), &Silent).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), payload());
        assert_eq!(fetched.bytes, payload().len() as u64);
        let ranges: Vec<Option<u64>> = server.requests().iter().map(|r| r.range_start).collect();
        assert_eq!(ranges, [None, None, Some(1000)], "retried, then resumed");

        let wrong = "0".repeat(64);
        let error = fetch_to_file(&url, &fast(), &dest, Some(&wrong), &Silent).unwrap_err();
        assert_eq!(error.class(), tarmac_model::ExitClass::Integrity, "{error}");
        let missing = [Source::parse(&format!("{}/nothing", server.url()))];
        let error = fetch_to_file(&missing, &fast(), &dest, None, &Silent).unwrap_err();
        assert_eq!(error.class(), tarmac_model::ExitClass::Invalid, "{error}");
    }
}
