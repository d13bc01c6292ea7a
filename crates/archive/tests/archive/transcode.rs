//! `ArchiveWriter::add_archive`: copying package archives into a bundle
//! without extracting them, with the same bytes as `add_tree` and the same
//! policy as the extractor.

use std::fs;

use tarmac_archive::{tree_hash, ArchiveWriter};
use tarmac_model::{ExitClass, PackageId, PackageManifest};
use tarmac_testkit::hostile::RawTar;

use crate::fixtures::{gzip, sample_tree};

fn manifest(id: &str, tar: &[u8]) -> PackageManifest {
    // The manifest of what the archive really holds, via the extractor.
    let tmp = tempfile::tempdir().unwrap();
    let staging = tmp.path().join("s");
    let got = tarmac_archive::extract(tar, &staging, &Default::default()).unwrap();
    PackageManifest {
        id: PackageId::parse(id).unwrap(),
        tree_hash: got.tree.hash,
        files: got.tree.files,
        bytes: got.tree.bytes,
    }
}

#[test]
fn copying_an_archive_writes_the_same_bytes_as_adding_its_tree() {
    let crate::fixtures::Packed {
        dir: _tmp,
        src,
        archive: out,
        manifest: packed,
    } = crate::fixtures::packed("p--1", sample_tree);

    let mut from_tree = ArchiveWriter::uncompressed(Vec::new(), 7);
    from_tree.add_bytes("bundle.json", b"{}", 0o644).unwrap();
    let tree_digest = from_tree.add_tree("packages/p--1", &src).unwrap();
    from_tree.add_tree("packages/q--1", &src).unwrap();
    let from_tree = from_tree.finish().unwrap();

    let mut copied = ArchiveWriter::uncompressed(Vec::new(), 7);
    copied.add_bytes("bundle.json", b"{}", 0o644).unwrap();
    let digest = copied
        .add_archive("packages/p--1", fs::File::open(&out).unwrap(), &packed)
        .unwrap();
    // Any container: a gzip of the plain archive copies the same.
    let mut plain = ArchiveWriter::uncompressed(Vec::new(), 0);
    plain.add_tree("", &src).unwrap();
    let plain = plain.finish().unwrap();
    copied
        .add_archive("packages/q--1", &gzip(&plain)[..], &packed)
        .unwrap();
    let copied = copied.finish().unwrap();

    assert_eq!(digest, tree_digest);
    assert_eq!(digest, tree_hash(&src).unwrap());
    assert!(
        copied == from_tree,
        "add_archive and add_tree wrote different bytes"
    );
}

fn refused(tar: Vec<u8>, expect: &PackageManifest) -> tarmac_archive::Error {
    let mut writer = ArchiveWriter::uncompressed(Vec::new(), 0);
    writer
        .add_archive("packages/x--1", &tar[..], expect)
        .unwrap_err()
}

#[test]
fn copying_refuses_what_extraction_refuses_and_what_tarmac_never_writes() {
    let ok = RawTar::new().dir("a/").file("a/f", b"x").end().into_bytes();
    let good = manifest("x--1", &ok);

    let mut wrong = good.clone();
    wrong.tree_hash = "f".repeat(64);
    let err = refused(ok.clone(), &wrong);
    assert_eq!(err.class(), ExitClass::Integrity);
    assert!(
        err.to_string().starts_with("x--1.json: tree hash mismatch"),
        "{err}"
    );

    let roomy = PackageManifest {
        files: 100,
        bytes: 100,
        ..good.clone()
    };
    let cases: Vec<(Vec<u8>, &PackageManifest, &str)> = vec![
        (
            RawTar::new()
                .file("b", b"")
                .file("a", b"")
                .end()
                .into_bytes(),
            &roomy,
            "entry \"a\": duplicate or out of canonical order after \"b\"",
        ),
        (
            RawTar::new()
                .file("a", b"")
                .file("a", b"")
                .end()
                .into_bytes(),
            &roomy,
            "entry \"a\": duplicate",
        ),
        (
            RawTar::new()
                .file("f", b"")
                .file("f/g", b"")
                .end()
                .into_bytes(),
            &roomy,
            "entry \"f/g\": lies under the file or symlink \"f\"",
        ),
        (
            RawTar::new().file("a/f", b"").end().into_bytes(),
            &roomy,
            "entry \"a/f\": its directory \"a\" has no entry",
        ),
        (
            RawTar::new().symlink("up", "../../etc").end().into_bytes(),
            &roomy,
            "entry \"up\": symlink target \"../../etc\" escapes the package",
        ),
        (
            RawTar::new()
                .file("f", b"")
                .hardlink("h", "f")
                .end()
                .into_bytes(),
            &roomy,
            "entry \"h\": hardlink",
        ),
        (
            RawTar::new().file("../x", b"").end().into_bytes(),
            &roomy,
            "entry \"../x\": path escapes the package",
        ),
        (
            RawTar::new()
                .entry(tarmac_testkit::hostile::Header::new(b'3', "null"), &[])
                .end()
                .into_bytes(),
            &roomy,
            "entry \"null\": character device",
        ),
        (
            RawTar::new()
                .file("a", b"")
                .file("b", b"")
                .file("c", b"")
                .end()
                .into_bytes(),
            &good,
            "entry \"c\": entry count declared in x--1.json exceeds the limit of 2",
        ),
        (
            RawTar::new()
                .dir("a/")
                .file("a/f", b"xy")
                .end()
                .into_bytes(),
            &good,
            "entry \"a/f\": content size declared in x--1.json exceeds the limit of 1",
        ),
        (
            RawTar::new()
                .file("f", b"x")
                .end()
                .raw(b"junk")
                .into_bytes(),
            &roomy,
            "non-zero data",
        ),
    ];
    for (tar, expect, message) in cases {
        let err = refused(tar, expect);
        assert_eq!(err.class(), ExitClass::Invalid, "{err}");
        assert!(err.to_string().contains(message), "{err} lacks {message}");
    }
}
