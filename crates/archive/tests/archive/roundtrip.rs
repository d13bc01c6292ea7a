//! Writer → extractor round trips, determinism, sniffing and manifests.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use tarmac_archive::{
    extract, pack_dir, tree_hash, ArchiveWriter, Container, Error, Expect, ExtractOptions,
    WriteOptions,
};
use tarmac_model::{bootstrap_id, BundleManifest, ExitClass, PackageId, MANIFEST_FORMAT};
use tarmac_testkit::hostile::RawTar;

use crate::fixtures::{gzip, packed, sample_tree, write, xz, zstd, Packed};

fn id(s: &str) -> PackageId {
    PackageId::parse(s).unwrap()
}

fn plain_tar(dir: &Path) -> Vec<u8> {
    let mut writer = ArchiveWriter::uncompressed(Vec::new(), 0);
    writer.add_tree("", dir).unwrap();
    writer.finish().unwrap()
}

/// A zstd frame whose content checksum does not match is refused; when the
/// caller pins the raw bytes (host-extract's --blake3) the checksum is left
/// to that pin and not computed, and the same bytes extract.
#[test]
fn frame_checksums_are_checked_unless_the_raw_bytes_are_pinned() {
    let Packed {
        dir,
        archive,
        manifest,
        ..
    } = packed("p--1", sample_tree);
    let mut bytes = fs::read(&archive).unwrap();
    // One frame, ending in its 4-byte XXH64 content checksum.
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let checked = ExtractOptions {
        expect: Expect::Package(manifest.clone()),
        ..ExtractOptions::default()
    };
    let staging = dir.path().join("checked");
    let err = extract(&bytes[..], &staging, &checked).unwrap_err();
    assert!(err.to_string().contains("corrupt zstd data"), "{err}");
    assert!(!staging.exists());

    let pinned = ExtractOptions {
        raw_bytes_pinned: true,
        ..checked
    };
    let got = extract(&bytes[..], &dir.path().join("pinned"), &pinned).unwrap();
    assert_eq!(got.tree.hash, manifest.tree_hash);
}

#[test]
fn pack_then_extract_gives_the_same_tree_and_hash() {
    let Packed {
        dir: tmp,
        src,
        archive: out,
        manifest,
    } = packed("p--1", sample_tree);
    let expected = tree_hash(&src).unwrap();
    assert_eq!(manifest.tree_hash, expected.hash);
    assert_eq!(
        (manifest.files, manifest.bytes),
        (expected.files, expected.bytes)
    );
    assert_eq!(expected.files, 15);

    let staging = tmp.path().join("staging");
    let opts = ExtractOptions {
        expect: Expect::Package(manifest.clone()),
        ..ExtractOptions::default()
    };
    let got = extract(fs::File::open(&out).unwrap(), &staging, &opts).unwrap();
    assert_eq!(got.container, Container::Zstd);
    assert_eq!(got.tree, expected);
    assert_eq!(tree_hash(&staging).unwrap(), expected);

    let mode = |rel: &str| {
        fs::metadata(staging.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("bin/tool"), 0o755);
    assert_eq!(mode("pkginfo.json"), 0o644);
    assert_eq!(mode(&format!("lib/deep/er/{}", "n".repeat(150))), 0o755);
    assert_eq!(mode("empty"), 0o755);
    assert_eq!(
        fs::read(staging.join("lib/libx.so")).unwrap(),
        vec![7u8; 100_000]
    );
    assert_eq!(
        fs::read_link(staging.join("lib/long-link"))
            .unwrap()
            .to_str()
            .unwrap(),
        format!("deep/er/{}", "n".repeat(150))
    );
    // No temp file left beside the archive.
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 3);
}

#[test]
fn same_tree_same_bytes_whatever_the_mtimes_and_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    sample_tree(&a);
    std::thread::sleep(std::time::Duration::from_millis(20));
    sample_tree(&b);
    // Different mtimes and non-normalized modes on the inputs.
    fs::set_permissions(b.join("pkginfo.json"), fs::Permissions::from_mode(0o640)).unwrap();
    let opts = WriteOptions {
        level: 3,
        threads: 1,
        mtime: 1_700_000_000,
    };
    let pa = tmp.path().join("a.tar.zst");
    let pb = tmp.path().join("b.tar.zst");
    pack_dir(&id("p--1"), &a, &pa, opts).unwrap();
    pack_dir(&id("p--1"), &b, &pb, WriteOptions { threads: 2, ..opts }).unwrap();
    assert_eq!(fs::read(&pa).unwrap(), fs::read(&pb).unwrap());
    // SOURCE_DATE_EPOCH is part of the bytes.
    let pc = tmp.path().join("c.tar.zst");
    pack_dir(&id("p--1"), &a, &pc, WriteOptions { mtime: 0, ..opts }).unwrap();
    assert_ne!(fs::read(&pa).unwrap(), fs::read(&pc).unwrap());
}

#[test]
fn fixture_archive_bytes_are_pinned() {
    // A changed hash here means the archive format changed: bump it on purpose.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("bin")).unwrap();
    write(&src, "bin/hello", b"#!/bin/sh\necho hello\n", 0o755);
    write(&src, "pkginfo.json", b"{}", 0o644);
    std::os::unix::fs::symlink("hello", src.join("bin/hi")).unwrap();
    let tar = plain_tar(&src);
    assert_eq!(
        blake3::hash(&tar).to_hex().as_str(),
        "4064a0f2f406dd9480a711b9c6538bc99e1a13f9f9459819562f07b68538fb01"
    );
    let out = tmp.path().join("hello--1.tar.zst");
    let manifest = pack_dir(&id("hello--1"), &src, &out, WriteOptions::default()).unwrap();
    // Bumped for the 16 MiB window and long-distance matching (the frame
    // header says so; the tar stream, pinned above, is unchanged).
    assert_eq!(
        blake3::hash(&fs::read(&out).unwrap()).to_hex().as_str(),
        "21c95f34b36a58e7aafae8dee86b311cc2f57126d9663462c8e715176989c672"
    );
    assert_eq!(
        manifest.tree_hash,
        "d96b3734c3c5bc06628cd396e73e107498a47cb9e31adb55e1ac016a5e07a10a"
    );
    assert_eq!((manifest.files, manifest.bytes), (4, 23));
}

#[test]
fn every_container_is_sniffed_by_magic_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_tree(&src);
    let tar = plain_tar(&src);
    let expected = tree_hash(&src).unwrap();
    let mut multi_member = gzip(&tar[..1024]);
    multi_member.extend(gzip(&tar[1024..]));
    let mut multi_frame = zstd(&tar[..5000]);
    multi_frame.extend(zstd(&tar[5000..]));
    for (i, (bytes, container)) in [
        (tar.clone(), Container::Tar),
        (gzip(&tar), Container::Gzip),
        (multi_member, Container::Gzip),
        (xz(&tar), Container::Xz),
        (zstd(&tar), Container::Zstd),
        (multi_frame, Container::Zstd),
    ]
    .into_iter()
    .enumerate()
    {
        // Names lie (pkgpanda ships a gzip file named .tar.xz): only bytes count.
        let staging = tmp.path().join(format!("staging-{i}.tar.xz"));
        let got = extract(&bytes[..], &staging, &ExtractOptions::default()).unwrap();
        assert_eq!(
            (got.container, &got.tree),
            (container, &expected),
            "case {i}"
        );
    }
}

#[test]
fn pkgpanda_layout_from_gnu_tar_is_accepted() {
    // pkgpanda packs with `tar -C dir -cf - .`: "./" root, "./bin/" names.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_tree(&src);
    for format in ["gnu", "pax", "ustar"] {
        let out = std::process::Command::new("tar")
            .args(["--format", format, "-C"])
            .arg(&src)
            .args(["-cf", "-", "."])
            .output()
            .unwrap();
        if format == "ustar" {
            // ustar cannot carry the 150-byte name: GNU tar says so and exits 2.
            assert!(!out.status.success());
            continue;
        }
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let staging = tmp.path().join(format!("staging-{format}"));
        let got = extract(&gzip(&out.stdout)[..], &staging, &ExtractOptions::default()).unwrap();
        // GNU tar keeps 0600 on pkginfo.json; tarmac normalizes it to 0644,
        // which the tree hash does not see (only the exec bit counts).
        assert_eq!(got.tree, tree_hash(&src).unwrap(), "{format}");
        assert_eq!(tree_hash(&staging).unwrap(), got.tree);
    }
}

/// pkgpanda's own writer (Python's tarfile, `tar.add(dir, arcname="./")`,
/// xz) in both formats it has used: the stricter framing rules (ustar
/// magic, two zero blocks, one NUL ending a GNU long name, PAX or GNU
/// records but not both) accept what it writes.
#[test]
fn pkgpanda_python_tarfile_archives_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_tree(&src);
    for format in ["GNU_FORMAT", "PAX_FORMAT"] {
        let out = tmp.path().join(format!("{format}.tar.xz"));
        let script = format!(
            "import sys, tarfile\n\
             with tarfile.open(sys.argv[2], 'w:xz', format=tarfile.{format}) as t:\n\
             \x20   t.add(sys.argv[1], arcname='./')\n"
        );
        let status = std::process::Command::new("python3")
            .args(["-c", &script])
            .arg(&src)
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "{format}");
        let staging = tmp.path().join(format!("staging-{format}"));
        let got = extract(
            &fs::read(&out).unwrap()[..],
            &staging,
            &ExtractOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(got.tree, tree_hash(&src).unwrap(), "{format}");
    }
}

/// Base-256 numbers that fit in 64 bits are read (GNU tar writes them for
/// sizes over 8 GiB and ids over 2097151).
#[test]
fn base_256_numbers_that_fit_are_read() {
    use tarmac_testkit::hostile::Header;
    let tmp = tempfile::tempdir().unwrap();
    let tar = RawTar::new()
        .entry(
            Header::file("f")
                .patch(124, &[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5])
                .patch(108, &[0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]),
            b"12345",
        )
        .end()
        .into_bytes();
    let staging = tmp.path().join("staging");
    extract(&tar[..], &staging, &ExtractOptions::default()).unwrap();
    assert_eq!(fs::read(staging.join("f")).unwrap(), b"12345");
}

#[test]
fn hardlink_to_an_earlier_file_is_a_hard_link() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = RawTar::new()
        .dir("bin/")
        .file("bin/a", b"same inode")
        .hardlink("bin/b", "bin/a")
        .end()
        .into_bytes();
    let staging = tmp.path().join("staging");
    let got = extract(&tar[..], &staging, &ExtractOptions::default()).unwrap();
    let (a, b) = (
        fs::metadata(staging.join("bin/a")).unwrap(),
        fs::metadata(staging.join("bin/b")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());
    assert_eq!(got.tree, tree_hash(&staging).unwrap());
    assert_eq!((got.tree.files, got.tree.bytes), (3, 20));
}

#[test]
fn pax_size_overrides_the_header_size() {
    // Two parsers that disagree on sizes see two different archives; the
    // PAX size is the one the standard says wins.
    let tmp = tempfile::tempdir().unwrap();
    let tar = RawTar::new()
        .pax(b'x', &[("size", b"5"), ("path", b"real-name")])
        .entry(
            tarmac_testkit::hostile::Header::file("ustar-name").size(0),
            b"12345",
        )
        .end()
        .into_bytes();
    let staging = tmp.path().join("staging");
    extract(&tar[..], &staging, &ExtractOptions::default()).unwrap();
    assert_eq!(fs::read(staging.join("real-name")).unwrap(), b"12345");
    assert!(!staging.join("ustar-name").exists());
}

fn bundle_bytes(tmp: &Path, tamper: Option<&str>) -> (Vec<u8>, BundleManifest) {
    let mut packages = Vec::new();
    let mut dirs = Vec::new();
    for name in ["alpha--1", "beta--2"] {
        let dir = tmp.join(name);
        sample_tree(&dir);
        let digest = tree_hash(&dir).unwrap();
        packages.push(tarmac_model::PackageManifest {
            id: id(name),
            tree_hash: digest.hash,
            files: digest.files,
            bytes: digest.bytes,
        });
        dirs.push((name, dir));
    }
    if let Some(name) = tamper {
        // Same size, different content: only the tree hash can tell.
        write(
            &tmp.join(name),
            "bin/tool",
            b"#!/bin/sh\necho TOOL\n",
            0o755,
        );
    }
    let ids: Vec<PackageId> = packages.iter().map(|p| p.id.clone()).collect();
    let manifest = BundleManifest {
        format: MANIFEST_FORMAT,
        bootstrap_id: bootstrap_id(&ids),
        packages,
    };
    let mut writer = ArchiveWriter::new(
        Vec::new(),
        WriteOptions {
            level: 1,
            threads: 1,
            mtime: 0,
        },
    )
    .unwrap();
    writer
        .add_bytes(
            "bundle.json",
            &serde_json::to_vec(&manifest).unwrap(),
            0o644,
        )
        .unwrap();
    for (name, dir) in &dirs {
        writer.add_tree(&format!("packages/{name}"), dir).unwrap();
    }
    (writer.finish().unwrap(), manifest)
}

#[test]
fn bundle_extracts_with_per_package_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, manifest) = bundle_bytes(tmp.path(), None);
    let staging = tmp.path().join("staging");
    let opts = ExtractOptions {
        expect: Expect::Bundle,
        ..ExtractOptions::default()
    };
    let got = extract(&bytes[..], &staging, &opts).unwrap();
    assert_eq!(got.bundle.as_ref(), Some(&manifest));
    assert_eq!(got.packages.len(), 2);
    for package in &manifest.packages {
        let digest = &got.packages[&package.id];
        assert_eq!(digest.hash, package.tree_hash);
        let dir = staging.join("packages").join(package.id.to_string());
        assert_eq!(&tree_hash(&dir).unwrap(), digest);
    }
    assert_eq!(got.tree, tree_hash(&staging).unwrap());
}

#[test]
fn bundle_with_changed_content_is_an_integrity_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, _) = bundle_bytes(tmp.path(), Some("beta--2"));
    let staging = tmp.path().join("staging");
    let opts = ExtractOptions {
        expect: Expect::Bundle,
        ..ExtractOptions::default()
    };
    let err = extract(&bytes[..], &staging, &opts).unwrap_err();
    assert_eq!(err.class(), ExitClass::Integrity, "{err}");
    assert!(
        err.to_string()
            .starts_with("bundle.json: package beta--2: tree hash mismatch"),
        "{err}"
    );
    assert!(!staging.exists());
}

#[test]
fn package_manifest_mismatch_is_an_integrity_error() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_tree(&src);
    let out = tmp.path().join("p--1.tar.zst");
    let mut manifest = pack_dir(&id("p--1"), &src, &out, WriteOptions::default()).unwrap();
    manifest.tree_hash = "0".repeat(64);
    let staging = tmp.path().join("staging");
    let opts = ExtractOptions {
        expect: Expect::Package(manifest),
        ..ExtractOptions::default()
    };
    let err = extract(fs::File::open(&out).unwrap(), &staging, &opts).unwrap_err();
    assert_eq!(err.class(), ExitClass::Integrity);
    assert!(
        err.to_string()
            .starts_with("p--1.json: tree hash mismatch: expected 0000"),
        "{err}"
    );
    assert!(!staging.exists());
}

#[test]
fn an_existing_staging_directory_is_never_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let staging = tmp.path().join("staging");
    fs::create_dir(&staging).unwrap();
    fs::write(staging.join("keep"), b"mine").unwrap();
    let tar = RawTar::new().file("a", b"x").end().into_bytes();
    let err = extract(&tar[..], &staging, &ExtractOptions::default()).unwrap_err();
    assert!(matches!(err, Error::StagingExists { .. }), "{err}");
    assert_eq!(fs::read(staging.join("keep")).unwrap(), b"mine");
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 1);
}

/// A reader that fails after `ok` bytes, like a broken HTTP body.
struct Failing<'a> {
    data: &'a [u8],
    ok: usize,
}

impl std::io::Read for Failing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ok == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "peer reset",
            ));
        }
        let n = buf.len().min(self.ok).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn a_failing_source_is_reported_as_the_source_error() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_tree(&src);
    let tar = plain_tar(&src);
    for (i, bytes) in [zstd(&tar), gzip(&tar), xz(&tar), tar.clone()]
        .iter()
        .enumerate()
    {
        let staging = tmp.path().join(format!("staging-{i}"));
        let reader = Failing {
            data: bytes,
            ok: bytes.len() / 2,
        };
        let err = extract(reader, &staging, &ExtractOptions::default()).unwrap_err();
        match &err {
            Error::Source(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
            other => panic!("case {i}: {other}"),
        }
        assert!(!staging.exists());
    }
}

#[test]
fn writer_refuses_out_of_order_and_unarchivable_input() {
    let mut writer = ArchiveWriter::uncompressed(Vec::new(), 0);
    writer.add_bytes("packages/b--1/x", b"", 0o644).unwrap();
    let err = writer.add_bytes("packages/a--1/x", b"", 0o644).unwrap_err();
    assert!(err.to_string().contains("sorted order"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    nix_mkfifo(&src.join("pipe"));
    let err = pack_dir(
        &id("p--1"),
        &src,
        &tmp.path().join("o.tar.zst"),
        WriteOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.class(), ExitClass::Invalid);
    assert!(err.to_string().contains("pipe: is a FIFO"), "{err}");
    // The failed pack leaves nothing behind.
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

fn nix_mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn gnu_tar_reads_our_archives_with_long_names() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_tree(&src);
    let tar_path = tmp.path().join("p.tar");
    fs::write(&tar_path, plain_tar(&src)).unwrap();
    let dest = tmp.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar_path)
        .arg("-C")
        .arg(&dest)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(tree_hash(&dest).unwrap(), tree_hash(&src).unwrap());
}

#[test]
fn writer_refuses_levels_the_extractor_cannot_read_and_reports_enospc() {
    let opts = WriteOptions {
        level: 22,
        ..WriteOptions::default()
    };
    let err = ArchiveWriter::new(Vec::new(), opts).err().unwrap();
    assert_eq!(err.class(), ExitClass::Usage);
    assert!(
        err.to_string()
            .starts_with("zstd level 22 is not supported"),
        "{err}"
    );

    // /dev/full answers every write with ENOSPC: exit class "no space".
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut writer = ArchiveWriter::uncompressed(full, 0);
    let err = writer
        .add_bytes("big", &vec![1u8; 1 << 20], 0o644)
        .unwrap_err();
    assert_eq!(err.class(), ExitClass::NoSpace, "{err}");
}

#[test]
fn level_19_archives_decode_within_the_window_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    sample_tree(&src);
    // Big enough that zstd would pick its full level-19 window.
    write(
        &src,
        "big",
        &(0..20_000_000u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<_>>(),
        0o644,
    );
    let out = tmp.path().join("p.tar.zst");
    let opts = WriteOptions {
        level: 19,
        threads: 2,
        mtime: 0,
    };
    let manifest = pack_dir(&id("p--1"), &src, &out, opts).unwrap();
    let staging = tmp.path().join("staging");
    let got = extract(
        fs::File::open(&out).unwrap(),
        &staging,
        &ExtractOptions::default(),
    )
    .unwrap();
    assert_eq!(got.tree.hash, manifest.tree_hash);
}

#[test]
fn the_bundle_hook_sees_the_manifest_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (bytes, manifest) = bundle_bytes(tmp.path(), None);
    let staging = tmp.path().join("staging");
    let opts = ExtractOptions {
        expect: Expect::Bundle,
        ..ExtractOptions::default()
    };
    let mut seen = None;
    let err = tarmac_archive::extract_with(&bytes[..], &staging, &opts, &mut |m| {
        seen = Some(m.clone());
        // Nothing of the bundle exists yet when the hook runs.
        assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);
        Err(tarmac_archive::Rejected {
            class: ExitClass::NoSpace,
            reason: "needs 1 GB, 10 MB free".into(),
        })
    })
    .unwrap_err();
    assert_eq!(seen.as_ref(), Some(&manifest));
    assert_eq!(err.class(), ExitClass::NoSpace);
    assert_eq!(err.to_string(), "bundle.json: needs 1 GB, 10 MB free");
    assert!(!staging.exists());

    let mut calls = 0;
    tarmac_archive::extract_with(&bytes[..], &staging, &opts, &mut |_| {
        calls += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(calls, 1);
}

#[test]
fn modes_are_exact_under_a_restrictive_umask() {
    // The umask is per process: the check runs in a child of this test
    // binary started under `umask 077`.
    const CHILD: &str = "TARMAC_ARCHIVE_UMASK_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let status = std::process::Command::new("sh")
            .args(["-c", "umask 077; exec \"$0\" \"$@\""])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "roundtrip::modes_are_exact_under_a_restrictive_umask",
            ])
            .env(CHILD, "1")
            .status()
            .unwrap();
        assert!(status.success());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tar = RawTar::new()
        .dir("d/")
        .entry(
            tarmac_testkit::hostile::Header::file("d/x")
                .mode(0o700)
                .size(1),
            b"x",
        )
        .file("d/e/f", b"implicit parent")
        .end()
        .into_bytes();
    let staging = tmp.path().join("staging");
    extract(&tar[..], &staging, &ExtractOptions::default()).unwrap();
    let mode = |rel: &str| {
        fs::metadata(staging.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        [mode(""), mode("d"), mode("d/x"), mode("d/e"), mode("d/e/f")],
        [0o755, 0o755, 0o755, 0o755, 0o644]
    );
}

#[test]
fn absolute_links_into_the_install_path_are_archived_relative() {
    // What DC/OS's java build does: ln -s "$PKG_PATH/usr/java/bin/java" "$PKG_PATH/bin/java".
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("usr/java/bin")).unwrap();
    fs::create_dir_all(src.join("bin")).unwrap();
    write(&src, "usr/java/bin/java", b"#!/bin/sh\n", 0o755);
    let install = "/opt/mesosphere/packages/java--1";
    std::os::unix::fs::symlink(format!("{install}/usr/java/bin/java"), src.join("bin/java"))
        .unwrap();
    let out = tmp.path().join("java--1.tar.zst");

    let err = pack_dir(&id("java--1"), &src, &out, WriteOptions::default()).unwrap_err();
    assert_eq!(err.class(), ExitClass::Invalid);
    assert!(
        err.to_string()
            .contains("bin/java: absolute symlink target"),
        "{err}"
    );
    assert!(!out.exists());

    let manifest = tarmac_archive::pack_dir_relocated(
        &id("java--1"),
        &src,
        &out,
        WriteOptions::default(),
        install,
    )
    .unwrap();
    let staging = tmp.path().join("staging");
    let opts = ExtractOptions {
        expect: Expect::Package(manifest),
        ..ExtractOptions::default()
    };
    extract(fs::File::open(&out).unwrap(), &staging, &opts).unwrap();
    assert_eq!(
        fs::read_link(staging.join("bin/java")).unwrap(),
        Path::new("../usr/java/bin/java")
    );
    assert_eq!(fs::read(staging.join("bin/java")).unwrap(), b"#!/bin/sh\n");

    // Absolute links elsewhere stay refused.
    std::os::unix::fs::symlink("/etc/passwd", src.join("bin/passwd")).unwrap();
    let err = tarmac_archive::pack_dir_relocated(
        &id("java--1"),
        &src,
        &out,
        WriteOptions::default(),
        install,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("bin/passwd: absolute symlink target \"/etc/passwd\""),
        "{err}"
    );
}
