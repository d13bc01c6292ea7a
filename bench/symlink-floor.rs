//! The floor pkg-activate is measured against: make the same directories
//! and symlinks (same targets, so the same target lengths) with nothing but
//! mkdir(2) and symlink(2), then one syncfs(2), as pkg-activate does.
//!
//! Usage: symlink-floor ENTRIES DEST
//! ENTRIES lines: `D\t<rel>` or `L\t<target>\t<rel>`, parents before children.

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::path::Path;

extern "C" {
    fn syncfs(fd: i32) -> i32;
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, entries, dest] = &args[..] else {
        eprintln!("usage: symlink-floor ENTRIES DEST");
        std::process::exit(2);
    };
    let dest = Path::new(dest);
    std::fs::create_dir(dest).expect("create DEST (must not exist)");
    let input = BufReader::new(std::fs::File::open(entries).expect("open ENTRIES"));
    let mut links = 0u64;
    for line in input.lines() {
        let line = line.expect("read ENTRIES");
        let mut fields = line.split('\t');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("D"), Some(rel), None) => std::fs::create_dir(dest.join(rel)).expect("mkdir"),
            (Some("L"), Some(target), Some(rel)) => {
                std::os::unix::fs::symlink(target, dest.join(rel)).expect("symlink");
                links += 1;
            }
            _ => panic!("bad line {line:?}"),
        }
    }
    let dir = std::fs::File::open(dest).expect("open DEST");
    // SAFETY: syncfs on a file descriptor we own for the duration of the call.
    let rc = unsafe { syncfs(dir.as_raw_fd()) };
    assert_eq!(rc, 0, "syncfs failed");
    println!("{links}");
}
