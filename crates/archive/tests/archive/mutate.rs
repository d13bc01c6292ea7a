//! Mutated archives: thousands of small corruptions of valid archives
//! (header fields changed with the checksum fixed up, so the policy layer
//! sees them, plus truncations and inserted bytes). Whatever the verdict,
//! the extractor must not panic, must write nothing outside staging, must
//! remove staging on refusal, and on acceptance must report the tree hash
//! of what it actually wrote.

use std::fs;

use crate::fixtures::listing;
use tarmac_archive::{extract, tree_hash, ArchiveWriter, ExtractOptions};
use tarmac_testkit::hostile::RawTar;

/// xorshift64*: deterministic, so a failure names a reproducible seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn base_archives() -> Vec<Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::create_dir_all(src.join("lib/x")).unwrap();
    fs::write(src.join("bin/tool"), b"#!/bin/sh\n").unwrap();
    fs::write(src.join("lib/x/data"), vec![3u8; 700]).unwrap();
    fs::write(src.join(format!("lib/{}", "long".repeat(30))), b"l").unwrap();
    std::os::unix::fs::symlink("../bin/tool", src.join("lib/tool")).unwrap();
    std::os::unix::fs::symlink("x/data", src.join("lib/data")).unwrap();
    let mut writer = ArchiveWriter::uncompressed(Vec::new(), 0);
    writer.add_tree("", &src).unwrap();
    let ours = writer.finish().unwrap();
    let raw = RawTar::new()
        .dir("./")
        .dir("./d/")
        .file("./d/f", b"content")
        .hardlink("./d/h", "./d/f")
        .symlink("./d/s", "f")
        .pax(b'x', &[("path", b"./d/pax-name")])
        .file("./d/ustar-name", b"pax")
        .end()
        .into_bytes();
    vec![ours, raw]
}

/// Offsets of the header blocks of a well-formed tar.
fn header_offsets(tar: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while at + 512 <= tar.len() && tar[at..at + 512].iter().any(|&b| b != 0) {
        offsets.push(at);
        let size_field = std::str::from_utf8(&tar[at + 124..at + 135]).unwrap();
        let size = usize::from_str_radix(size_field.trim_matches(char::from(0)), 8).unwrap();
        at += 512 + size.div_ceil(512) * 512;
    }
    offsets
}

fn fix_checksum(block: &mut [u8]) {
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Interesting replacement bytes for header fields.
const BYTES: &[u8] = b"/.\\\n\x00\x7f\xff0123456789Lkx2516SgV ";

fn mutate(base: &[u8], headers: &[usize], rng: &mut Rng) -> Vec<u8> {
    let mut tar = base.to_vec();
    match rng.below(6) {
        // Change one header byte (name, mode, size, type, link, prefix) and
        // keep the checksum valid so the policy layer sees the change.
        0..=2 => {
            let at = headers[rng.below(headers.len())];
            let field = [0, 1, 2, 100, 105, 124, 133, 156, 157, 158, 345][rng.below(11)];
            tar[at + field] = BYTES[rng.below(BYTES.len())];
            fix_checksum(&mut tar[at..at + 512]);
        }
        3 => tar.truncate(rng.below(base.len())),
        4 => {
            let at = rng.below(base.len());
            let junk: Vec<u8> = (0..1 + rng.below(600)).map(|_| rng.next() as u8).collect();
            tar.splice(at..at, junk);
        }
        _ => {
            let at = rng.below(base.len());
            tar[at] ^= 1 << rng.below(8);
        }
    }
    tar
}

#[test]
fn mutated_archives_never_escape_or_leave_staging() {
    let bases = base_archives();
    let tmp = tempfile::tempdir().unwrap();
    let sentinel = tmp.path().join("sentinel");
    fs::create_dir(&sentinel).unwrap();
    fs::write(sentinel.join("canary"), b"original").unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..600 {
        let base = &bases[round % bases.len()];
        let tar = mutate(base, &header_offsets(base), &mut rng);
        let staging = tmp.path().join(format!("staging-{round}"));
        match extract(&tar[..], &staging, &ExtractOptions::default()) {
            Ok(got) => {
                accepted += 1;
                assert_eq!(tree_hash(&staging).unwrap(), got.tree, "round {round}");
                fs::remove_dir_all(&staging).unwrap();
            }
            Err(_) => {
                refused += 1;
                assert!(!staging.exists(), "round {round}: staging left behind");
            }
        }
        assert_eq!(listing(tmp.path()), ["sentinel"], "round {round}");
        assert_eq!(listing(&sentinel), ["canary"], "round {round}");
        assert_eq!(fs::read(sentinel.join("canary")).unwrap(), b"original");
    }
    // Both verdicts must actually occur, or the mutations test nothing.
    eprintln!("mutations: {accepted} accepted, {refused} refused");
    assert!(
        accepted > 30 && refused > 200,
        "{accepted} accepted, {refused} refused"
    );
}
