//! Kill loops: a process SIGKILLed at a random point of its run, the
//! point spread over the whole run by a window that adapts to its length.

use std::process::Child;
use std::time::Duration;

/// xorshift: deterministic pseudo-random delays without a rand dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Sleeps a random part of `window`, then SIGKILLs `child`. True when the
/// kill landed (the process was still running). The window adapts to the
/// run's length: a run that finished before the kill shrinks it to that
/// delay, a landed kill widens it by a tenth, so kills spread over the
/// whole run (start, build, commit, exit) on slow and fast machines alike.
pub fn kill_after(mut child: Child, rng: &mut Rng, window: &mut Duration) -> bool {
    let micros = (window.as_micros() as u64).max(1);
    let delay = Duration::from_micros(rng.next_u64() % micros);
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap();
    if let Some(status) = finished {
        // A run that beat the kill must have succeeded.
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        assert!(
            status.success(),
            "an unkilled run failed: {status}: {stderr}"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    let landed = finished.is_none();
    *window = if landed {
        (*window * 11 / 10).min(Duration::from_secs(5))
    } else {
        // The run took less than `delay`.
        delay.max(Duration::from_micros(200))
    };
    landed
}
