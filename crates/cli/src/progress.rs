//! Progress on stderr: an indicatif bar when stderr is a terminal, plain
//! periodic lines otherwise (logs of Ansible, Puppet or CI stay readable),
//! nothing with `--quiet` or `--json`.

use std::io::{self, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tarmac_model::{Reporter, Silent};

/// How often the plain reporter prints a line while bytes flow.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// The reporter a tool should pass to its library, chosen from the flags and
/// whether stderr is a terminal.
pub fn reporter(tool: &'static str, quiet: bool, json: bool) -> Box<dyn Reporter> {
    if quiet || json {
        Box::new(Silent)
    } else if crate::progress_enabled(quiet, json) {
        Box::new(BarReporter::new())
    } else {
        Box::new(PlainReporter::new(tool))
    }
}

/// An indicatif bar showing bytes, rate and ETA once a total is known.
pub struct BarReporter {
    bar: ProgressBar,
}

impl BarReporter {
    fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        BarReporter { bar }
    }
}

impl Reporter for BarReporter {
    fn step(&self, name: &str) {
        self.bar.reset();
        self.bar.set_length(0);
        self.bar
            .set_style(ProgressStyle::with_template("{spinner} {msg}").expect("template"));
        self.bar.set_message(name.to_string());
    }
    fn total_bytes(&self, bytes: u64) {
        self.bar.set_style(
            ProgressStyle::with_template(
                "{msg:12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .expect("template")
            .progress_chars("=> "),
        );
        self.bar.set_length(bytes);
    }
    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }
    fn note(&self, message: &str) {
        self.bar.println(message);
    }
    fn finish_step(&self) {
        self.bar.finish_and_clear();
    }
}

/// Plain lines: one at each step, then at most one every few seconds.
pub struct PlainReporter {
    tool: &'static str,
    state: Mutex<PlainState>,
}

struct PlainState {
    step: String,
    done: u64,
    total: Option<u64>,
    last_line: Instant,
}

impl PlainReporter {
    fn new(tool: &'static str) -> Self {
        PlainReporter {
            tool,
            state: Mutex::new(PlainState {
                step: String::new(),
                done: 0,
                total: None,
                last_line: Instant::now(),
            }),
        }
    }

    fn line(&self, text: &str) {
        let _ = writeln!(io::stderr().lock(), "{}: {text}", self.tool);
    }
}

impl Reporter for PlainReporter {
    fn step(&self, name: &str) {
        let mut state = self.state.lock().expect("reporter lock");
        state.step = name.to_string();
        state.done = 0;
        state.total = None;
        state.last_line = Instant::now();
        self.line(name);
    }
    fn total_bytes(&self, bytes: u64) {
        self.state.lock().expect("reporter lock").total = Some(bytes);
    }
    fn advance(&self, bytes: u64) {
        let mut state = self.state.lock().expect("reporter lock");
        state.done += bytes;
        if state.last_line.elapsed() >= PLAIN_INTERVAL {
            state.last_line = Instant::now();
            let text = match state.total {
                Some(total) if total > 0 => format!(
                    "{}: {} / {} bytes ({}%)",
                    state.step,
                    state.done,
                    total,
                    state.done * 100 / total
                ),
                _ => format!("{}: {} bytes", state.step, state.done),
            };
            self.line(&text);
        }
    }
    fn note(&self, message: &str) {
        self.line(message);
    }
}
