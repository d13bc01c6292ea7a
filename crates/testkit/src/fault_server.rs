//! A small in-process HTTP/1.1 server that injects the faults nginx cannot:
//! connections cut mid-body, stalls, truncated or corrupted bodies, error
//! statuses and ignored `Range` headers.
//!
//! Each request to a path takes the next [`Fault`] of that path's script;
//! once the script is used up, requests are served correctly (with `Range`
//! support), or, with [`FaultServerBuilder::random`], each request draws a
//! fault with a given probability (a flaky fleet-wide network). Every request is logged so tests can assert what the client
//! asked for. Every response closes the connection.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub path: String,
    /// The start of `Range: bytes=N-`, if the client sent one.
    pub range_start: Option<u64>,
    pub fault: Fault,
}

#[derive(Default)]
struct State {
    files: BTreeMap<String, Arc<Vec<u8>>>,
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
    let (file, fault) = {
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
        });
        (state.files.get(&path).cloned(), fault)
    };
    let mut out = stream;
    let Some(file) = file else {
        return respond_status(&mut out, 404);
    };
    let len = file.len() as u64;
    match fault {
        Fault::Status(code) => respond_status(&mut out, code),
        Fault::Truncate(n) => {
            let n = n.min(len) as usize;
            write_head(&mut out, "200 OK", n as u64, None)?;
            out.write_all(&file[..n])
        }
        Fault::IgnoreRange => {
            write_head(&mut out, "200 OK", len, None)?;
            out.write_all(&file)
        }
        Fault::Serve | Fault::CutAfter(_) | Fault::StallAfter(_) | Fault::Corrupt(_) => {
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
                )?;
            } else {
                write_head(&mut out, "200 OK", len, None)?;
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
                _ => out.write_all(&body),
            }
        }
    }
}

fn write_head(
    out: &mut TcpStream,
    status: &str,
    len: u64,
    range: Option<&str>,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\nConnection: close\r\n"
    );
    if let Some(range) = range {
        head.push_str(&format!("Content-Range: {range}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}

fn respond_status(out: &mut TcpStream, code: u16) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 {code} Fault\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    out.write_all(head.as_bytes())
}
