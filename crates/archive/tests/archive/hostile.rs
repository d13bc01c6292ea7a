//! The hostile-archive corpus: archives built byte by byte that break one
//! rule each. Every case must be refused with the right exit class and a
//! message naming the entry and the rule, write nothing outside staging
//! (a sentinel directory with a canary file sits beside it, and is the
//! target of every escape attempt), and leave no staging directory.

use std::fs;

use tarmac_archive::{extract, Expect, ExtractOptions};
use tarmac_model::{bootstrap_id, BundleManifest, ExitClass, PackageId, PackageManifest};
use tarmac_testkit::hostile::{Header, RawTar};

use crate::fixtures::listing;
use crate::fixtures::{gzip, xz, zstd};

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    opts: ExtractOptions,
    class: ExitClass,
    /// Substrings the error message must contain (entry name, rule).
    message: Vec<&'static str>,
}

fn case(name: &'static str, tar: RawTar, message: &[&'static str]) -> Case {
    Case {
        name,
        bytes: tar.into_bytes(),
        opts: ExtractOptions::default(),
        class: ExitClass::Invalid,
        message: message.to_vec(),
    }
}

fn bundle_json(files: u64, bytes: u64, hash: &str) -> Vec<u8> {
    let id = PackageId::parse("a--1").unwrap();
    let manifest = BundleManifest {
        format: 1,
        bootstrap_id: bootstrap_id(std::slice::from_ref(&id)),
        packages: vec![PackageManifest {
            id,
            tree_hash: hash.to_string(),
            files,
            bytes,
        }],
    };
    serde_json::to_vec(&manifest).unwrap()
}

fn bundle() -> ExtractOptions {
    ExtractOptions {
        expect: Expect::Bundle,
        ..ExtractOptions::default()
    }
}

fn corpus() -> Vec<Case> {
    let t = RawTar::new;
    let plain_ok = t().file("ok", b"fine").end().into_bytes();
    let manifest = bundle_json(2, 4, &"0".repeat(64));
    let mut cases = vec![
        case(
            "absolute path",
            t().file("/tmp/x", b"x").end(),
            &["\"/tmp/x\"", "absolute path"],
        ),
        case(
            "dot-dot",
            t().file("../sentinel/canary", b"pwned").end(),
            &["\"../sentinel/canary\"", "(\"..\")"],
        ),
        case(
            "inner dot-dot",
            t().dir("a/")
                .file("a/../../sentinel/canary", b"pwned")
                .end(),
            &["a/../../sentinel/canary", "(\"..\")"],
        ),
        case(
            "dot-slash dot-dot",
            t().file("./../escape", b"x").end(),
            &["./../escape", "\"..\""],
        ),
        case(
            "backslash",
            t().file("..\\escape", b"x").end(),
            &["escape", "backslash"],
        ),
        case(
            "control character",
            t().file("a\nb", b"x").end(),
            &["a\\nb", "control character"],
        ),
        case(
            "empty component",
            t().file("a//b", b"x").end(),
            &["a//b", "empty path component"],
        ),
        case(
            "dot component",
            t().file("a/./b", b"x").end(),
            &["a/./b", "\".\" path component"],
        ),
        case(
            "not utf-8",
            t().file(b"caf\xe9", b"x").end(),
            &["caf", "not UTF-8"],
        ),
        case(
            "ustar prefix makes it absolute",
            t().entry(Header::file("passwd").prefix("/sentinel").size(1), b"x")
                .end(),
            &["/sentinel/passwd", "absolute path"],
        ),
        case(
            "GNU long name with dot-dot",
            t().gnu_long(
                b'L',
                format!("{}/../../../sentinel/canary", "d".repeat(120)).as_bytes(),
            )
            .entry(Header::file("innocent").size(5), b"pwned")
            .end(),
            &["../sentinel/canary", "(\"..\")"],
        ),
        case(
            "PAX path overrides a benign name",
            t().pax(b'x', &[("path", b"../sentinel/canary")])
                .entry(Header::file("innocent").size(5), b"pwned")
                .end(),
            &["\"../sentinel/canary\"", "(\"..\")"],
        ),
        case(
            "absolute symlink",
            t().symlink("etc", "/etc").end(),
            &["\"etc\"", "absolute symlink target \"/etc\""],
        ),
        case(
            "symlink escapes",
            t().symlink("up", "../sentinel").end(),
            &["\"up\"", "escapes the package"],
        ),
        case(
            "symlink escapes from a subdirectory",
            t().dir("a/")
                .dir("a/b/")
                .symlink("a/b/up", "../../../sentinel/canary")
                .end(),
            &["a/b/up", "escapes the package"],
        ),
        case(
            "symlink escapes through another symlink",
            t().dir("d/")
                .symlink("d/lnk", "..")
                .symlink("d/x", "lnk/..")
                .end(),
            &["\"d/x\"", "\"lnk/..\"", "escapes the package"],
        ),
        case(
            "symlink defined later makes an earlier one escape",
            t().dir("d/")
                .symlink("x", "d/s/../..")
                .symlink("d/s", "..")
                .end(),
            &["\"x\"", "escapes the package"],
        ),
        case(
            "symlink loop",
            t().symlink("a", "b").symlink("b", "a").end(),
            &["\"a\"", "too many levels of symlinks"],
        ),
        case(
            "write through a symlink",
            t().symlink("evil", "sub")
                .dir("sub/")
                .file("evil/canary", b"pwned")
                .end(),
            &["\"evil/canary\"", "lies under the symlink \"evil\""],
        ),
        case(
            "write through an escaping symlink",
            t().symlink("evil", "../sentinel")
                .file("evil/canary", b"pwned")
                .end(),
            &["\"evil/canary\"", "lies under the symlink"],
        ),
        case(
            "entry under a file",
            t().file("f", b"x").file("f/g", b"y").end(),
            &["\"f/g\"", "lies under the file \"f\""],
        ),
        case(
            "hardlink to an absolute path",
            t().hardlink("h", "/etc/passwd").end(),
            &["\"h\"", "hardlink target \"/etc/passwd\"", "absolute path"],
        ),
        case(
            "hardlink escapes",
            t().hardlink("h", "../sentinel/canary").end(),
            &["\"h\"", "hardlink target", "(\"..\")"],
        ),
        case(
            "hardlink to a later file",
            t().hardlink("h", "f").file("f", b"x").end(),
            &["\"h\"", "not an earlier regular file"],
        ),
        case(
            "hardlink to a directory",
            t().dir("d/").hardlink("h", "d").end(),
            &["\"h\"", "not an earlier regular file"],
        ),
        case(
            "hardlink to a symlink",
            t().symlink("s", "x").hardlink("h", "s").end(),
            &["\"h\"", "not an earlier regular file"],
        ),
        case(
            "character device",
            t().entry(Header::new(b'3', "null"), &[]).end(),
            &["\"null\"", "character device"],
        ),
        case(
            "block device",
            t().entry(Header::new(b'4', "sda"), &[]).end(),
            &["\"sda\"", "block device"],
        ),
        case(
            "FIFO",
            t().entry(Header::new(b'6', "pipe"), &[]).end(),
            &["\"pipe\"", "FIFO"],
        ),
        case(
            "GNU sparse file",
            t().entry(Header::new(b'S', "sparse"), &[]).end(),
            &["\"sparse\"", "sparse file"],
        ),
        case(
            "PAX sparse file",
            t().pax(b'x', &[("GNU.sparse.major", b"1"), ("path", b"sp")])
                .file("sp", b"x")
                .end(),
            &["sparse file"],
        ),
        case(
            "PAX global header",
            t().pax(b'g', &[("path", b"x")]).file("ok", b"x").end(),
            &["PAX global extended header"],
        ),
        case(
            "unknown entry type",
            t().entry(Header::new(b'V', "label"), &[]).end(),
            &["\"label\"", "unsupported entry type 'V'"],
        ),
        case(
            "setuid file",
            t().entry(Header::file("su").mode(0o4755).size(1), b"x")
                .end(),
            &["\"su\"", "setuid", "4755"],
        ),
        case(
            "setgid directory",
            t().entry(Header::dir("sg/").mode(0o2755), &[]).end(),
            &["\"sg\"", "setgid"],
        ),
        case(
            "sticky directory",
            t().entry(Header::dir("tmp/").mode(0o1777), &[]).end(),
            &["\"tmp\"", "sticky"],
        ),
        case(
            "duplicate file",
            t().file("f", b"one").file("f", b"two").end(),
            &["\"f\"", "duplicate entry"],
        ),
        case(
            "file over a directory",
            t().dir("d/").file("d", b"x").end(),
            &["\"d\"", "duplicate entry"],
        ),
        case(
            "directory over an implicit file parent",
            t().file("a/b", b"x").file("a", b"y").end(),
            &["\"a\"", "duplicate entry"],
        ),
        case(
            "trailing slash on a file",
            t().entry(Header::file("f/").size(1), b"x").end(),
            &["\"f\"", "ending in \"/\""],
        ),
        case(
            "directory with data",
            t().entry(Header::dir("d/").size(3), b"abc").end(),
            &["\"d\"", "declares 3 bytes"],
        ),
        case(
            "root as a file",
            t().entry(Header::file(".").size(0), &[]).end(),
            &["\"\"", "must be a directory"],
        ),
        case(
            "truncated inside data",
            t().entry(Header::file("big").size(4096), b"only a little"),
            &["truncated", "inside the data of entry \"big\""],
        ),
        case(
            "truncated inside a header",
            t().file("ok", b"x").raw(&[b'a'; 100]),
            &["truncated", "inside a header"],
        ),
        case(
            "no end-of-archive marker",
            t().file("ok", b"x"),
            &["truncated", "end-of-archive marker"],
        ),
        case(
            "data after the end marker",
            t().file("ok", b"x").end().raw(b"smuggled"),
            &["non-zero data", "after the end-of-archive marker"],
        ),
        case(
            "bad header checksum",
            t().entry(Header::file("f").size(1).bad_checksum(), b"x")
                .end(),
            &["checksum mismatch", "\"f\""],
        ),
        case(
            "huge GNU long name",
            t().gnu_long(b'L', &vec![b'a'; 10_000])
                .file("x", b"x")
                .end(),
            &["GNU long name of 10001 bytes"],
        ),
        case(
            "extended header before the end",
            t().pax(b'x', &[("path", b"x")]).end(),
            &["extended header is followed by the end-of-archive marker"],
        ),
        case(
            "malformed PAX record",
            t().entry(Header::new(b'x', "pax").size(9), b"99 path=x")
                .file("x", b"x")
                .end(),
            &["malformed PAX header"],
        ),
        case(
            "symlink target with a control character",
            t().symlink("l", "a\tb").end(),
            &["\"l\"", "symlink target contains a control character"],
        ),
        case(
            "symlink target not UTF-8",
            t().symlink("l", b"\xff").end(),
            &["\"l\"", "symlink target is not UTF-8"],
        ),
        case(
            "metadata records spinning in place",
            (0..10)
                .fold(t(), |tar, _| tar.pax(b'x', &[("path", b"x")]))
                .file("x", b"x")
                .end(),
            &["more than 8 extended header records"],
        ),
        // Issue 13: framing that two tar readers read differently.
        case(
            "base-256 size beyond 64 bits",
            // 2^64 + 5: a decoder keeping the last 8 bytes reads 5.
            t().entry(
                Header::file("big").patch(124, &[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5]),
                b"12345",
            )
            .end(),
            &[
                "\"big\"",
                "size field is a base-256 number that does not fit in 64 bits",
            ],
        ),
        case(
            "base-256 size with high bits in the first byte",
            t().entry(
                Header::file("big").patch(124, &[0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]),
                b"12345",
            )
            .end(),
            &["\"big\"", "does not fit in 64 bits"],
        ),
        case(
            "negative base-256 size",
            t().entry(Header::file("neg").patch(124, &[0xff; 12]), b"")
                .end(),
            &["\"neg\"", "size field is a negative base-256 number"],
        ),
        case(
            "negative base-256 mtime",
            t().entry(Header::file("old").size(1).patch(136, &[0xff; 12]), b"x")
                .end(),
            &["\"old\"", "mtime field is a negative base-256 number"],
        ),
        case(
            "NUL inside a GNU long name",
            t().gnu_long(b'L', format!("{}\0hidden", "d".repeat(120)).as_bytes())
                .file("x", b"x")
                .end(),
            &["\\0hidden", "NUL at byte 120 inside the GNU long name"],
        ),
        case(
            "NUL inside a GNU long link",
            t().gnu_long(b'K', format!("{}\0hidden", "t".repeat(120)).as_bytes())
                .symlink("l", "t")
                .end(),
            &["\\0hidden", "NUL at byte 120 inside the GNU long link name"],
        ),
        case(
            "PAX header and GNU long name before one entry",
            t().pax(b'x', &[("path", b"pax-name")])
                .gnu_long(b'L', "g".repeat(120).as_bytes())
                .file("x", b"x")
                .end(),
            &[
                "\"pax-name\"",
                "both a PAX extended header and a GNU long name/link",
            ],
        ),
        case(
            "GNU long link and PAX header before one entry",
            t().gnu_long(b'K', "t".repeat(120).as_bytes())
                .pax(b'x', &[("mtime", b"1")])
                .symlink("l", "t")
                .end(),
            &[
                "\"l\"",
                "both a PAX extended header and a GNU long name/link",
            ],
        ),
        case(
            "header without the ustar magic",
            t().entry(Header::file("v7").size(1).patch(257, &[0; 8]), b"x")
                .end(),
            &["\"v7\"", "without the \"ustar\" magic"],
        ),
        case(
            "end marker of one zero block",
            t().file("ok", b"x").raw(&[0u8; 512]),
            &["truncated", "one zero block"],
        ),
        case(
            "lone zero block before more data",
            t().file("ok", b"x")
                .raw(&[0u8; 512])
                .file("late", b"y")
                .end(),
            &["lone zero block followed by non-zero data"],
        ),
        case(
            "PAX extended attribute (SCHILY)",
            t().pax(
                b'x',
                &[("SCHILY.xattr.security.capability", b"\x01\0\0\x02 \0\0\0")],
            )
            .file("bin/ping", b"x")
            .end(),
            &[
                "\"bin/ping\"",
                "PAX record SCHILY.xattr.security.capability",
            ],
        ),
        case(
            "PAX extended attribute (LIBARCHIVE)",
            t().pax(
                b'x',
                &[("LIBARCHIVE.xattr.user.x", b"dmFsdWU="), ("path", b"f")],
            )
            .file("innocent", b"x")
            .end(),
            &[
                "\"f\"",
                "PAX record LIBARCHIVE.xattr.user.x",
                "dropped silently",
            ],
        ),
        case(
            "PAX ACL",
            t().pax(b'x', &[("SCHILY.acl.access", b"user::rwx")])
                .dir("d/")
                .end(),
            &["\"d/\"", "PAX record SCHILY.acl.access"],
        ),
        case(
            "component longer than NAME_MAX",
            t().gnu_long(b'L', "x".repeat(300).as_bytes())
                .file("x", b"x")
                .end(),
            &["component longer than 255"],
        ),
    ];

    // Containers: garbage after the last frame, corrupt frames, unknown formats.
    let mut after_zstd = zstd(&plain_ok);
    after_zstd.extend_from_slice(b"garbage after the frame");
    let mut after_gzip = gzip(&plain_ok);
    after_gzip.extend_from_slice(b"garbage after the member");
    let mut after_xz = xz(&plain_ok);
    after_xz.extend_from_slice(b"garbage after the stream");
    let mut corrupt_zstd = zstd(&plain_ok);
    let mid = corrupt_zstd.len() / 2;
    corrupt_zstd[mid] ^= 0xff;
    let mut zero_bomb = plain_ok.clone();
    zero_bomb.extend(vec![0u8; 2 * 1024 * 1024]);
    let zero_bomb = zstd(&zero_bomb);
    let mut huge_window = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    huge_window.window_log(27).unwrap();
    std::io::Write::write_all(&mut huge_window, &plain_ok).unwrap();
    let huge_window = huge_window.finish().unwrap();
    let truncated_zstd = zstd(&plain_ok)[..20].to_vec();
    let truncated_gzip = gzip(&plain_ok)[..20].to_vec();
    for (name, bytes, message) in [
        (
            "garbage after the zstd frame",
            after_zstd,
            "corrupt zstd data",
        ),
        (
            "garbage after the gzip member",
            after_gzip,
            "corrupt gzip data",
        ),
        ("garbage after the xz stream", after_xz, "corrupt xz data"),
        // Depending on where the flip lands, the decoder or a tar checksum
        // catches it: both are "archive: ..." refusals.
        ("corrupt zstd frame", corrupt_zstd, "archive: "),
        ("truncated zstd", truncated_zstd, "corrupt zstd data"),
        ("truncated gzip", truncated_gzip, "corrupt gzip data"),
        (
            "endless zeros after the end marker",
            zero_bomb,
            "bytes of padding after the end-of-archive marker",
        ),
        ("zstd window over 16 MiB", huge_window, "corrupt zstd data"),
        (
            "not an archive",
            b"#!/bin/sh\nrm -rf /\n".to_vec(),
            "not a tar, tar.zst, tar.gz or tar.xz stream",
        ),
        ("empty stream", Vec::new(), "empty stream"),
    ] {
        cases.push(Case {
            name,
            bytes,
            opts: ExtractOptions::default(),
            class: ExitClass::Invalid,
            message: vec![message],
        });
    }

    // Limits from flags.
    let mut over_entries = case(
        "entry count over the limit",
        t().file("a", b"x").file("b", b"x").file("c", b"x").end(),
        &["\"c\"", "entry count exceeds the limit of 2"],
    );
    over_entries.opts.max_entries = 2;
    cases.push(over_entries);
    let mut over_bytes = case(
        "content size over the limit",
        t().file("a", b"12345").file("b", b"123456").end(),
        &["\"b\"", "content size exceeds the limit of 10"],
    );
    over_bytes.opts.max_bytes = 10;
    cases.push(over_bytes);

    // Limits and integrity from a package manifest.
    let declared = PackageManifest {
        id: PackageId::parse("p--1").unwrap(),
        tree_hash: "0".repeat(64),
        files: 1,
        bytes: 100,
    };
    let mut outgrows = case(
        "package outgrows its <id>.json",
        t().file("a", b"x").file("b", b"x").end(),
        &["\"b\"", "entry count declared in p--1.json"],
    );
    outgrows.opts.expect = Expect::Package(declared.clone());
    cases.push(outgrows);
    let mut hash = case(
        "package tree hash mismatch",
        t().file("a", b"x").end(),
        &["p--1.json: tree hash mismatch"],
    );
    hash.opts.expect = Expect::Package(declared);
    hash.class = ExitClass::Integrity;
    cases.push(hash);

    // Bundles: bundle.json first, entries only inside declared packages.
    let b = |tar: RawTar| tar.file("bundle.json", &manifest);
    let bundle_cases = [
        (
            "bundle without bundle.json first",
            t().dir("packages/").file("bundle.json", &manifest).end(),
            vec![
                "\"packages\"",
                "first entry of a bundle must be the regular file \"bundle.json\"",
            ],
            ExitClass::Invalid,
        ),
        (
            "bundle entry outside the packages",
            b(t()).file("etc/passwd", b"x").end(),
            vec![
                "\"etc/passwd\"",
                "not inside a package declared in bundle.json",
            ],
            ExitClass::Invalid,
        ),
        (
            "bundle entry in an undeclared package",
            b(t()).file("packages/evil--1/x", b"x").end(),
            vec!["packages/evil--1/x", "not inside a package declared"],
            ExitClass::Invalid,
        ),
        (
            "bundle package outgrows its entry count",
            b(t())
                .file("packages/a--1/x", b"1")
                .file("packages/a--1/y", b"2")
                .file("packages/a--1/z", b"3")
                .end(),
            vec![
                "packages/a--1/z",
                "entry count of a--1 declared in bundle.json",
            ],
            ExitClass::Invalid,
        ),
        (
            "bundle package outgrows its bytes",
            b(t()).file("packages/a--1/x", b"12345").end(),
            vec![
                "packages/a--1/x",
                "content size of a--1 declared in bundle.json exceeds the limit of 4",
            ],
            ExitClass::Invalid,
        ),
        (
            "bundle symlink into another package",
            b(t()).symlink("packages/a--1/l", "../b--2/x").end(),
            vec!["packages/a--1/l", "escapes the package"],
            ExitClass::Invalid,
        ),
        (
            "bundle package tree hash mismatch",
            b(t()).file("packages/a--1/x", b"1234").end(),
            vec!["bundle.json: package a--1: tree hash mismatch"],
            ExitClass::Integrity,
        ),
        (
            "bundle hardlink into another package",
            b(t())
                .file("packages/a--1/x", b"1")
                .hardlink("packages/a--1/h", "packages/b--2/x")
                .end(),
            vec!["packages/a--1/h", "in another package"],
            ExitClass::Invalid,
        ),
        (
            "bundle.json is not a manifest",
            t().file("bundle.json", b"{\"format\":1}").end(),
            vec!["bundle.json: not a bundle manifest"],
            ExitClass::Invalid,
        ),
    ];
    for (name, tar, message, class) in bundle_cases {
        cases.push(Case {
            name,
            opts: bundle(),
            bytes: tar.into_bytes(),
            class,
            message,
        });
    }
    // A plain tar of zeros is no tar (no magic to sniff); compressed, it
    // decodes to an end marker and nothing else.
    cases.push(Case {
        name: "no entries at all",
        bytes: zstd(&t().end().into_bytes()),
        opts: ExtractOptions::default(),
        class: ExitClass::Invalid,
        message: vec!["no entries", "at least its root"],
    });
    cases.push(Case {
        name: "bundle without any entry",
        bytes: zstd(&t().end().into_bytes()),
        opts: bundle(),
        class: ExitClass::Invalid,
        message: vec!["bundle.json: the bundle has no entries"],
    });
    cases
}

/// Runs one case in a fresh directory holding `sentinel/canary` beside the
/// staging path; returns what went wrong, if anything.
fn run(case: &Case) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let sentinel = tmp.path().join("sentinel");
    fs::create_dir(&sentinel).unwrap();
    fs::write(sentinel.join("canary"), b"original").unwrap();
    let staging = tmp.path().join("staging");
    let err = match extract(&case.bytes[..], &staging, &case.opts) {
        Ok(got) => return Err(format!("accepted: {got:?}")),
        Err(err) => err,
    };
    let message = err.to_string();
    if err.class() != case.class {
        return Err(format!(
            "class {:?}, want {:?}: {message}",
            err.class(),
            case.class
        ));
    }
    for part in &case.message {
        if !message.contains(part) {
            return Err(format!("message {message:?} lacks {part:?}"));
        }
    }
    if staging.exists() {
        return Err("staging left behind".into());
    }
    let beside = listing(tmp.path());
    if beside != ["sentinel"] {
        return Err(format!("written beside staging: {beside:?}"));
    }
    if listing(&sentinel) != ["canary"] || fs::read(sentinel.join("canary")).unwrap() != b"original"
    {
        return Err("the sentinel directory changed".into());
    }
    Ok(())
}

#[test]
fn every_hostile_archive_is_refused_cleanly() {
    let cases = corpus();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| run(case).err().map(|why| format!("{}: {why}", case.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_same_corpus_is_refused_in_every_container() {
    // Compression must not change the verdict (only plain-tar cases here).
    for case in corpus()
        .into_iter()
        .filter(|c| c.bytes.len() >= 1024 && c.opts == ExtractOptions::default())
    {
        for (container, bytes) in [
            ("gzip", gzip(&case.bytes)),
            ("xz", xz(&case.bytes)),
            ("zstd", zstd(&case.bytes)),
        ] {
            let wrapped = Case {
                bytes,
                message: vec![],
                name: case.name,
                opts: case.opts.clone(),
                class: case.class,
            };
            if let Err(why) = run(&wrapped) {
                panic!("{} ({container}): {why}", case.name);
            }
        }
    }
}
