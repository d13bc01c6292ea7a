//! A small in-process HTTP/1.1 server that injects the faults nginx cannot:
//! connections cut mid-body, stalls, trickles, truncated or corrupted
//! bodies, error statuses (with `Retry-After`), ignored or wrongly answered
//! `Range` headers, and content that changes between requests.
//!
//! Each request to a path takes the next [`Fault`] of that path's script;
//! once the script is used up, requests are served correctly (with `Range`
//! support), or, with [`FaultServerBuilder::random`], each request draws a
//! fault with a given probability (a flaky fleet-wide network). Every
//! request is logged with its arrival time so tests can assert what the
//! client asked for and when. Every response closes the connection.
//!
//! Every 200/206 carries the validators of the version served: an `ETag`
//! and a `Last-Modified` derived from the path's generation, which
//! [`Fault::Change`] advances (the content then becomes the next of the
//! path's [`FaultServerBuilder::versions`], by default the same bytes
//! re-published).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Serve correctly, honouring `Range`.
    Serve,
    /// Answer with this status and an empty body.
    Status(u16),
    /// Announce the full length, send this many body bytes, then close.
    CutAfter(u64),
    /// Announce the full length, send this many body bytes, then send
    /// nothing (connection held open until the server is dropped).
    StallAfter(u64),
    /// Send only the first n bytes of the file as if it were the whole file
    /// (`Content-Length: n`, 200): a truncated artifact.
    Truncate(u64),
    /// Serve correctly but with the byte at this file offset flipped.
    Corrupt(u64),
    /// Ignore `Range`: always 200 with the whole file.
    IgnoreRange,
    /// Answer a request with a 206 whose `Content-Range` does not start
    /// where the client asked (byte 0 for a resume, byte 1 otherwise).
    BadRange,
    /// Serve correctly (honouring `Range`) at about this many bytes per
    /// second, in small chunks: slow, but never silent long enough to
    /// look stalled.
    Trickle(u64),
    /// Answer with this status (429 or 503) and `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// Answer with this status and `Retry-After` as an HTTP-date this many
    /// seconds ahead.
    RetryAfterDate(u16, u64),
    /// The content changes before this request: the path moves to its next
    /// version (new `ETag`, `Last-Modified`, maybe size), which is served
    /// honouring `Range`, and stays for later requests.
    Change,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub path: String,
    /// The start of `Range: bytes=N-`, if the client sent one.
    pub range_start: Option<u64>,
    pub fault: Fault,
    /// When the request line arrived.
    pub at: Instant,
}

#[derive(Default)]
struct State {
    files: BTreeMap<String, Arc<Vec<u8>>>,
    /// Further versions of a path, served after each [`Fault::Change`].
    versions: BTreeMap<String, Vec<Arc<Vec<u8>>>>,
    /// How many times each path changed.
    generations: BTreeMap<String, u64>,
    scripts: BTreeMap<String, Vec<Fault>>,
    random: Option<RandomFaults>,
    log: Vec<Request>,
}

/// Faults drawn at random for requests without a scripted fault.
struct RandomFaults {
    /// Probability in [0, 1] that a request gets a fault.
    rate: f64,
    faults: Vec<Fault>,
    state: u64,
}

impl RandomFaults {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic for a seed, good enough for tests.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A fault, or `Serve`; the byte counts of `CutAfter`, `StallAfter`,
    /// `Truncate` and `Corrupt` are maxima, drawn uniformly below them
    /// (and below the file's length).
    fn draw(&mut self, len: u64) -> Fault {
        let roll = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        if self.faults.is_empty() || roll >= self.rate {
            return Fault::Serve;
        }
        let index = (self.next() % self.faults.len() as u64) as usize;
        let pick = self.faults[index];
        let mut below = |max: u64| self.next() % max.min(len).max(1);
        match pick {
            Fault::CutAfter(max) => Fault::CutAfter(below(max)),
            Fault::StallAfter(max) => Fault::StallAfter(below(max)),
            Fault::Truncate(max) => Fault::Truncate(below(max)),
            Fault::Corrupt(max) => Fault::Corrupt(below(max)),
            other => other,
        }
    }
}

/// Builds a [`FaultServer`].
#[derive(Default)]
pub struct FaultServerBuilder {
    state: State,
}

impl FaultServerBuilder {
    /// Serves `bytes` at `path` (starting with `/`).
    pub fn file(mut self, path: &str, bytes: Vec<u8>) -> Self {
        self.state.files.insert(path.to_string(), Arc::new(bytes));
        self
    }

    /// The versions `path` takes after each [`Fault::Change`], in turn
    /// (cycling back to the first, the [`FaultServerBuilder::file`]).
    /// Without versions a change re-publishes the same bytes under new
    /// validators.
    pub fn versions(mut self, path: &str, versions: Vec<Vec<u8>>) -> Self {
        self.state.versions.insert(
            path.to_string(),
            versions.into_iter().map(Arc::new).collect(),
        );
        self
    }

    /// Every request without a scripted fault gets, with probability
    /// `rate`, one of `faults` (byte counts are maxima, see [`Fault`]),
    /// drawn from a generator seeded with `seed`.
    pub fn random(mut self, rate: f64, faults: &[Fault], seed: u64) -> Self {
        self.state.random = Some(RandomFaults {
            rate,
            faults: faults.to_vec(),
            state: seed | 1,
        });
        self
    }

    /// The faults for the first requests to `path`, in order.
    pub fn script(mut self, path: &str, faults: &[Fault]) -> Self {
        self.state.scripts.insert(path.to_string(), faults.to_vec());
        self
    }

    pub fn start(self) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fault server");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(self.state));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = Arc::clone(&state);
                    let stop = Arc::clone(&stop);
                    std::thread::spawn(move || {
                        let _ = handle(stream, &state, &stop);
                    });
                }
            })
        };
        FaultServer {
            addr,
            state,
            stop,
            accept: Some(accept),
        }
    }
}

/// A running fault server on 127.0.0.1; stopped when dropped.
pub struct FaultServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FaultServer {
    pub fn builder() -> FaultServerBuilder {
        FaultServerBuilder::default()
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().log.clone()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

fn handle(stream: TcpStream, state: &Mutex<State>, stop: &AtomicBool) -> std::io::Result<()> {
    let at = Instant::now();
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let mut range_start = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("range") {
                range_start = value
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|v| v.strip_suffix('-'))
                    .and_then(|v| v.parse().ok());
            }
        }
    }
    let (file, fault, generation) = {
        let mut state = state.lock().unwrap();
        let len = state.files.get(&path).map_or(0, |f| f.len() as u64);
        let fault = match state.scripts.get_mut(&path) {
            Some(script) if !script.is_empty() => script.remove(0),
            _ => match &mut state.random {
                Some(random) => random.draw(len),
                None => Fault::Serve,
            },
        };
        state.log.push(Request {
            path: path.clone(),
            range_start,
            fault,
            at,
        });
        if fault == Fault::Change {
            *state.generations.entry(path.clone()).or_default() += 1;
        }
        let generation = state.generations.get(&path).copied().unwrap_or(0);
        let file = match state.versions.get(&path) {
            Some(versions) if generation > 0 => {
                let count = versions.len() as u64 + 1;
                match generation % count {
                    0 => state.files.get(&path).cloned(),
                    n => Some(Arc::clone(&versions[n as usize - 1])),
                }
            }
            _ => state.files.get(&path).cloned(),
        };
        (file, fault, generation)
    };
    let mut out = stream;
    let Some(file) = file else {
        return respond_status(&mut out, 404, None);
    };
    let len = file.len() as u64;
    let validators = validators(generation, len);
    match fault {
        Fault::Status(code) => respond_status(&mut out, code, None),
        Fault::RetryAfter(code, seconds) => {
            respond_status(&mut out, code, Some(&seconds.to_string()))
        }
        Fault::RetryAfterDate(code, seconds) => {
            let when = SystemTime::now() + Duration::from_secs(seconds);
            respond_status(&mut out, code, Some(&http_date(when)))
        }
        Fault::Truncate(n) => {
            let n = n.min(len) as usize;
            write_head(&mut out, "200 OK", n as u64, None, &validators)?;
            out.write_all(&file[..n])
        }
        Fault::IgnoreRange => {
            write_head(&mut out, "200 OK", len, None, &validators)?;
            out.write_all(&file)
        }
        Fault::BadRange => {
            let start = match range_start {
                Some(start) if start > 0 => 0,
                _ => 1.min(len),
            };
            let body = &file[start as usize..];
            let range = format!("bytes {start}-{}/{len}", len.saturating_sub(1));
            write_head(
                &mut out,
                "206 Partial Content",
                body.len() as u64,
                Some(&range),
                &validators,
            )?;
            out.write_all(body)
        }
        Fault::Serve
        | Fault::CutAfter(_)
        | Fault::StallAfter(_)
        | Fault::Corrupt(_)
        | Fault::Trickle(_)
        | Fault::Change => {
            let start = range_start.unwrap_or(0);
            if start > len || (range_start.is_some() && start == len) {
                let head = format!(
                    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                return out.write_all(head.as_bytes());
            }
            let mut body = file[start as usize..].to_vec();
            if let Fault::Corrupt(at) = fault {
                if at >= start && at < len {
                    body[(at - start) as usize] ^= 0x01;
                }
            }
            if range_start.is_some() {
                let range = format!("bytes {start}-{}/{len}", len - 1);
                write_head(
                    &mut out,
                    "206 Partial Content",
                    body.len() as u64,
                    Some(&range),
                    &validators,
                )?;
            } else {
                write_head(&mut out, "200 OK", len, None, &validators)?;
            }
            match fault {
                Fault::CutAfter(n) => {
                    let n = (n as usize).min(body.len());
                    out.write_all(&body[..n])?;
                    out.flush()?;
                    // Close the connection with the body incomplete.
                    let _ = out.shutdown(std::net::Shutdown::Both);
                    Ok(())
                }
                Fault::StallAfter(n) => {
                    let n = (n as usize).min(body.len());
                    out.write_all(&body[..n])?;
                    out.flush()?;
                    while !stop.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Ok(())
                }
                Fault::Trickle(per_second) => {
                    // Twenty chunks a second, at least a byte each.
                    let chunk = (per_second / 20).max(1) as usize;
                    for piece in body.chunks(chunk) {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        out.write_all(piece)?;
                        out.flush()?;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Ok(())
                }
                _ => out.write_all(&body),
            }
        }
    }
}

/// `ETag` and `Last-Modified` of a path's `generation` (of `len` bytes).
fn validators(generation: u64, len: u64) -> String {
    // A fixed base time, one minute later per generation.
    let modified = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + generation * 60);
    format!(
        "ETag: \"g{generation}-{len}\"\r\nLast-Modified: {}\r\n",
        http_date(modified)
    )
}

fn write_head(
    out: &mut TcpStream,
    status: &str,
    len: u64,
    range: Option<&str>,
    validators: &str,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\nConnection: close\r\n{validators}"
    );
    if let Some(range) = range {
        head.push_str(&format!("Content-Range: {range}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}

fn respond_status(
    out: &mut TcpStream,
    code: u16,
    retry_after: Option<&str>,
) -> std::io::Result<()> {
    let retry = retry_after
        .map(|value| format!("Retry-After: {value}\r\n"))
        .unwrap_or_default();
    let head =
        format!("HTTP/1.1 {code} Fault\r\nContent-Length: 0\r\n{retry}Connection: close\r\n\r\n");
    out.write_all(head.as_bytes())
}

/// RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), whole seconds.
pub fn http_date(when: SystemTime) -> String {
    let secs = when.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[month as usize - 1],
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_imf_fixdate() {
        let when = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(when), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(http_date(leap), "Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
