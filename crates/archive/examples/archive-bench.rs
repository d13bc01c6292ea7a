//! A tiny driver for benchmarks (bench/archive.sh): packs a directory or
//! extracts an archive with the library, printing the tree hash.
//!
//! `archive-bench pack DIR OUT [LEVEL]` · `archive-bench extract ARCHIVE STAGING [WRITERS]`
//! (WRITERS: writer threads, default the extractor's own)
//! · `archive-bench hash DIR` · `archive-bench b3 FILE` (blake3 of a file read in 1 MiB
//! blocks on one thread, as host-extract hashes a download)

// Test and bench code: unwrap and print freely (the workspace lints are for
// library code).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

use tarmac_archive::{extract, extract_with_writers, pack_dir, ExtractOptions, WriteOptions};
use tarmac_model::PackageId;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["pack", dir, out] | ["pack", dir, out, _] => {
            let level = args.get(3).and_then(|l| l.parse().ok()).unwrap_or(9);
            let id = PackageId::parse("bench--1").expect("valid id");
            let opts = WriteOptions {
                level,
                ..WriteOptions::default()
            };
            pack_dir(&id, Path::new(dir), Path::new(out), opts).map(|m| m.tree_hash)
        }
        ["extract", archive, staging] | ["extract", archive, staging, _] => {
            let writers: Option<usize> = args.get(3).map(|w| w.parse().expect("WRITERS: a number"));
            std::fs::File::open(archive)
                .map_err(|e| tarmac_fs::FsError::new("open", archive, e).into())
                .and_then(|file| {
                    let reader = std::io::BufReader::with_capacity(1 << 20, file);
                    let (staging, opts) = (Path::new(staging), &ExtractOptions::default());
                    match writers {
                        Some(n) => extract_with_writers(reader, staging, opts, n),
                        None => extract(reader, staging, opts),
                    }
                })
                .map(|x| x.tree.hash)
        }
        ["hash", dir] => tarmac_archive::tree_hash(Path::new(dir)).map(|d| d.hash),
        ["b3", file] => hash_file(Path::new(file)).map_err(|e| e.into()),
        _ => {
            eprintln!(
                "usage: archive-bench pack DIR OUT [LEVEL] | extract ARCHIVE STAGING [WRITERS] | hash DIR | b3 FILE"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("archive-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn hash_file(path: &Path) -> Result<String, tarmac_fs::FsError> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).map_err(|e| tarmac_fs::FsError::new("open", path, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.finalize().to_hex().to_string()),
            Ok(n) => {
                hasher.update(&buf[..n]);
            }
            Err(e) => return Err(tarmac_fs::FsError::new("read", path, e)),
        }
    }
}
