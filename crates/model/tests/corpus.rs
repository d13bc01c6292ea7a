//! Parses and validates every file of the real DC/OS package tree
//! (`tests/corpus/dcos-packages`, 81 buildinfo.json + 2 treeinfo files from
//! dcos/dcos 79b9a39). The corpus must be there: a missing corpus fails the
//! test instead of passing vacuously.

// Test and bench code: unwrap and print freely (the workspace lints are for
// library code).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tarmac_model::{buildinfo_variant, file_variant, BuildInfo, Sources, TreeInfo};

/// The corpus kept in the repository: `tests/corpus/dcos-packages` (see
/// its README for origin and licence).
fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/dcos-packages");
    assert!(dir.is_dir(), "corpus not found at {}", dir.display());
    dir
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_corpus_file_parses_and_validates() {
    let root = corpus_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);

    // (package, variant) -> buildinfo
    let mut packages: BTreeMap<(String, Option<String>), BuildInfo> = BTreeMap::new();
    let mut trees: BTreeMap<Option<String>, TreeInfo> = BTreeMap::new();
    let mut empty = Vec::new();
    for path in &files {
        let relative = path.strip_prefix(&root).unwrap();
        let display = relative.display().to_string();
        let file_name = path.file_name().unwrap().to_str().unwrap();
        let bytes = std::fs::read(path).unwrap();
        let depth = relative.components().count();
        if depth == 1 && file_name.ends_with(".md") {
            continue; // the corpus README
        }
        if depth == 1 {
            let variant = file_variant(file_name, "treeinfo.json")
                .unwrap()
                .unwrap_or_else(|| panic!("{display}: unexpected file in the corpus"));
            let tree = TreeInfo::parse(&display, &bytes).unwrap_or_else(|e| panic!("{e}"));
            trees.insert(variant, tree);
            continue;
        }
        assert_eq!(depth, 2, "{display}: unexpected nesting");
        let package = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        let variant = buildinfo_variant(file_name)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{display}: unexpected file in the corpus"));
        if bytes.iter().all(u8::is_ascii_whitespace) {
            empty.push(display.clone());
        }
        let info = BuildInfo::parse(&display, &bytes).unwrap_or_else(|e| panic!("{e}"));
        // The normalized form parses back to the same value.
        let again = BuildInfo::parse(&display, info.to_json().to_string().as_bytes()).unwrap();
        assert_eq!(again, info, "{display}");
        packages.insert((package.to_string(), variant), info);
    }

    assert_eq!(packages.len(), 81, "buildinfo files");
    assert_eq!(trees.len(), 2, "treeinfo files");
    assert_eq!(empty, ["pkgpanda-role/buildinfo.json"]);
    assert!(trees.contains_key(&None) && trees.contains_key(&Some("installer".to_string())));

    // Sources: 136 in all, of the four pkgpanda kinds.
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for ((name, _), info) in &packages {
        for source in info.named_sources(name).values() {
            *kinds.entry(source.kind()).or_default() += 1;
        }
        if let Sources::Single(_) = info.sources {
            assert_eq!(info.named_sources(name).len(), 1);
        }
    }
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("git", 22),
            ("git_local", 1),
            ("url", 45),
            ("url_extract", 68)
        ])
    );

    // Every requirement names a package (and variant) of the tree.
    let names: BTreeSet<&str> = packages.keys().map(|(n, _)| n.as_str()).collect();
    for ((name, _), info) in &packages {
        for requirement in &info.requires {
            let key = (requirement.name.clone(), requirement.variant.clone());
            assert!(
                packages.contains_key(&key),
                "{name} requires missing {key:?}"
            );
        }
    }
    for tree in trees.values() {
        for listed in tree
            .core_package_list
            .iter()
            .chain(&tree.bootstrap_package_list)
        {
            assert!(
                names.contains(listed.as_str()),
                "treeinfo lists unknown {listed}"
            );
        }
    }
    let with_users = packages.values().filter(|i| i.username.is_some()).count();
    let with_sysctl = packages.values().filter(|i| !i.sysctl.is_empty()).count();
    assert_eq!((with_users, with_sysctl), (16, 2));
}
