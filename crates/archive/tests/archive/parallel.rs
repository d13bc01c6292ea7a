//! The extractor's writer threads: the same tree and tree hash whatever the
//! writer count, files larger than one block of the pool (streamed to their
//! writer), hardlinks to such files made after their target exists, and a
//! writer's failure (ENOSPC on a real small filesystem) stopping the whole
//! extraction with the staging directory removed.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use tarmac_archive::{extract, extract_with_writers, tree_hash, ExtractOptions};
use tarmac_model::ExitClass;
use tarmac_testkit::disk::LoopFs;
use tarmac_testkit::hostile::RawTar;

use crate::fixtures::zstd;

/// Writes `rel` under `root` with its parents.
fn write(root: &Path, rel: &str, data: &[u8], mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    crate::fixtures::write(root, rel, data, mode);
}

/// Bytes no compressor shrinks (xorshift), `n` of them, seeded.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ seed;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A tree with many small files in nested directories, empty files,
/// executables, symlinks, files of 2, 4 and 18 blocks of the pool (64 KiB)
/// and a byte more or less, and files around one block in a row, so that
/// the block small files are packed into is filled exactly, overflows by
/// a byte, or holds one file of exactly a block.
fn mixed_tree(root: &Path) {
    for d in 0..12 {
        for f in 0..40 {
            let size = (d * 40 + f) * 37 % 3000;
            let mode = if f % 7 == 0 { 0o755 } else { 0o644 };
            write(
                root,
                &format!("d{d:02}/sub{}/f{f:03}", f % 3),
                &noise(size, (d * 100 + f) as u64),
                mode,
            );
        }
    }
    for (i, size) in [
        0,
        1,
        128 * 1024 - 1,
        128 * 1024,
        128 * 1024 + 1,
        256 * 1024 + 5,
        9 * 128 * 1024 + 3,
    ]
    .into_iter()
    .enumerate()
    {
        write(
            root,
            &format!("big/b{i}"),
            &noise(size, 7000 + i as u64),
            0o644,
        );
    }
    let block = 64 * 1024;
    for (i, size) in [
        60_000,
        block - 60_000,
        1,
        block,
        block - 1,
        block + 1,
        0,
        30_000,
        40_000,
        block - 40_000,
    ]
    .into_iter()
    .enumerate()
    {
        write(
            root,
            &format!("edge/e{i}"),
            &noise(size, 8000 + i as u64),
            0o644,
        );
    }
    std::os::unix::fs::symlink("../big/b6", root.join("d00/link")).unwrap();
}

#[test]
fn every_writer_count_gives_the_same_tree_and_hash() {
    let crate::fixtures::Packed {
        dir,
        src,
        archive,
        manifest,
    } = crate::fixtures::packed("mixed--1", mixed_tree);
    let want = tree_hash(&src).unwrap();
    assert_eq!(manifest.tree_hash, want.hash);
    for writers in [1, 2, 3, 4, 8] {
        let out = dir.path().join(format!("x{writers}"));
        let got = extract_with_writers(
            fs::File::open(&archive).unwrap(),
            &out,
            &ExtractOptions {
                expect: tarmac_archive::Expect::Package(manifest.clone()),
                ..ExtractOptions::default()
            },
            writers,
        )
        .unwrap();
        assert_eq!(got.tree, want, "{writers} writers: reported tree hash");
        assert_eq!(tree_hash(&out).unwrap(), want, "{writers} writers: on disk");
        let big = fs::read(out.join("big/b6")).unwrap();
        assert_eq!(big, noise(9 * 128 * 1024 + 3, 7006), "{writers} writers");
        let mode = |p: &str| fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("d00/sub0/f000"), 0o755);
        assert_eq!(mode("d00/sub1/f001"), 0o644);
    }
}

#[test]
fn hardlinks_to_multi_block_files_are_made_after_their_target() {
    let dir = tempfile::tempdir().unwrap();
    let big = noise(5 * 128 * 1024 + 11, 1);
    let small = b"small".to_vec();
    let tar = RawTar::new()
        .dir("d/")
        .file("d/big", &big)
        .hardlink("d/big-again", "d/big")
        .file("d/small", &small)
        .hardlink("e-small", "d/small")
        .hardlink("e-big", "d/big-again")
        .end()
        .into_bytes();
    for writers in [1, 4] {
        let out = dir.path().join(format!("x{writers}"));
        let got = extract_with_writers(&zstd(&tar)[..], &out, &ExtractOptions::default(), writers)
            .unwrap();
        assert_eq!(fs::read(out.join("e-big")).unwrap(), big);
        assert_eq!(fs::read(out.join("e-small")).unwrap(), small);
        let ino = |p: &str| fs::metadata(out.join(p)).unwrap().ino();
        assert_eq!(ino("d/big"), ino("e-big"));
        assert_eq!(ino("d/big"), ino("d/big-again"));
        assert_eq!(ino("d/small"), ino("e-small"));
        // The reported hash is that of the tree as a walk sees it, the
        // hardlinks' content included.
        assert_eq!(got.tree, tree_hash(&out).unwrap(), "{writers} writers");
    }
}

#[test]
fn a_writer_out_of_space_stops_the_extraction_and_removes_staging() {
    if !LoopFs::available() {
        tarmac_testkit::skip("loop mounts (root, mkfs.ext4)");
        return;
    }
    let fs8 = LoopFs::new(8, None);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    // 24 MiB of incompressible files on an 8 MiB filesystem: one writer
    // meets ENOSPC while others still write.
    for i in 0..96 {
        write(&src, &format!("f/{i:03}"), &noise(256 * 1024, i), 0o644);
    }
    let archive = dir.path().join("a.tar.zst");
    let id = tarmac_model::PackageId::parse("full--1").unwrap();
    tarmac_archive::pack_dir(&id, &src, &archive, tarmac_archive::WriteOptions::default()).unwrap();
    for writers in [1, 4] {
        let staging = fs8.mount().join(format!("staging{writers}"));
        let err = extract_with_writers(
            fs::File::open(&archive).unwrap(),
            &staging,
            &ExtractOptions::default(),
            writers,
        )
        .unwrap_err();
        assert_eq!(err.class(), ExitClass::NoSpace, "{writers} writers: {err}");
        assert!(
            err.to_string().contains("staging"),
            "the error names the file: {err}"
        );
        assert!(!staging.exists(), "{writers} writers: staging left behind");
    }
    // And the filesystem is whole again: the default extractor succeeds on
    // a tree that fits.
    let small = dir.path().join("small.tar.zst");
    let src_small = dir.path().join("src-small");
    mixed_tree(&src_small);
    tarmac_archive::pack_dir(
        &id,
        &src_small,
        &small,
        tarmac_archive::WriteOptions::default(),
    )
    .unwrap();
    let got = extract(
        fs::File::open(&small).unwrap(),
        &fs8.mount().join("ok"),
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(got.tree, tree_hash(&src_small).unwrap());
}
