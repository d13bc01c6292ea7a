//! Table tests of [`plan`]: one row per rule of docs/pkg-activate.md
//! § Validation that planning decides, each run with tree folding and
//! without, plus the farm shape each mode must give. Packages are built as
//! real directories in a temp dir (planning reads the filesystem), with
//! their metadata given directly, as [`crate::package::load`] would parse it.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use tarmac_model::ExitClass;

use super::*;
use crate::package::Meta;

/// One package of a row: its id, the files it ships (paths relative to the
/// package root; a path ending in `/` is an empty directory) and metadata.
struct Spec {
    id: &'static str,
    files: &'static [&'static str],
    meta: Meta,
}

fn spec(id: &'static str, files: &'static [&'static str]) -> Spec {
    Spec {
        id,
        files,
        meta: Meta::default(),
    }
}

fn with(mut spec: Spec, edit: impl FnOnce(&mut Meta)) -> Spec {
    edit(&mut spec.meta);
    spec
}

fn packages(root: &Path, specs: Vec<Spec>) -> Vec<Package> {
    specs
        .into_iter()
        .map(|spec| {
            let dir = root.join(spec.id);
            std::fs::create_dir_all(&dir).unwrap();
            for file in spec.files {
                let path = dir.join(file);
                if file.ends_with('/') {
                    std::fs::create_dir_all(&path).unwrap();
                } else {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(&path, file.as_bytes()).unwrap();
                }
            }
            Package {
                id: spec.id.parse().unwrap(),
                dir,
                meta: spec.meta,
            }
        })
        .collect()
}

fn run(specs: Vec<Spec>, roles: &[&str], fold: bool) -> (tempfile::TempDir, Result<Plan>) {
    let temp = tempfile::tempdir().unwrap();
    let packages = packages(temp.path(), specs);
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    let result = plan(packages, &roles, fold);
    (temp, result)
}

/// A refused set: its exit class and a word the message must contain.
struct Refused {
    rule: &'static str,
    roles: &'static [&'static str],
    packages: fn() -> Vec<Spec>,
    class: ExitClass,
    says: &'static str,
}

fn refused_rows() -> Vec<Refused> {
    vec![
        Refused {
            rule: "two packages with one name",
            roles: &[],
            packages: || vec![spec("a--1", &[]), spec("a--2", &[])],
            class: ExitClass::Conflict,
            says: "a--1",
        },
        Refused {
            rule: "file against file",
            roles: &[],
            packages: || vec![spec("a--1", &["bin/x"]), spec("b--1", &["bin/x"])],
            class: ExitClass::Conflict,
            says: "bin/x",
        },
        Refused {
            rule: "file against file deep in a directory both provide",
            roles: &[],
            packages: || {
                vec![
                    spec("a--1", &["lib/py/site/x.py"]),
                    spec("b--1", &["lib/py/site/x.py", "lib/py/other.py"]),
                ]
            },
            class: ExitClass::Conflict,
            says: "lib/py/site/x.py",
        },
        Refused {
            rule: "file against directory",
            roles: &[],
            packages: || vec![spec("a--1", &["etc/x"]), spec("b--1", &["etc/x/y"])],
            class: ExitClass::Conflict,
            says: "etc/x",
        },
        Refused {
            rule: "file against an empty directory",
            roles: &[],
            packages: || vec![spec("a--1", &["include/x/"]), spec("b--1", &["include/x"])],
            class: ExitClass::Conflict,
            says: "include/x",
        },
        Refused {
            rule: "the same path from two roles of one package",
            roles: &["master", "slave"],
            packages: || vec![spec("a--1", &["bin_master/x", "bin_slave/x"])],
            class: ExitClass::Conflict,
            says: "bin/x",
        },
        Refused {
            rule: "the same path from a role dir and a plain dir",
            roles: &["master"],
            packages: || vec![spec("a--1", &["bin/x"]), spec("b--1", &["bin_master/x"])],
            class: ExitClass::Conflict,
            says: "bin/x",
        },
        Refused {
            rule: "a shipped etc/dcos-service-configuration.json",
            roles: &[],
            packages: || vec![spec("a--1", &["etc/dcos-service-configuration.json"])],
            class: ExitClass::Conflict,
            says: "dcos-service-configuration.json",
        },
        Refused {
            rule: "a reserved unit name",
            roles: &[],
            packages: || vec![spec("a--1", &["dcos.target.wants/dcos.target"])],
            class: ExitClass::Invalid,
            says: "dcos.target",
        },
        Refused {
            rule: "a unit that is a directory",
            roles: &[],
            packages: || vec![spec("a--1", &["dcos.target.wants/x.service/"])],
            class: ExitClass::Invalid,
            says: "x.service",
        },
        Refused {
            rule: "a requires naming a package not in the set",
            roles: &[],
            packages: || vec![with(spec("a--1", &[]), |m| m.requires = vec!["b".into()])],
            class: ExitClass::Invalid,
            says: "b",
        },
        Refused {
            rule: "a group without a username",
            roles: &[],
            packages: || vec![with(spec("a--1", &[]), |m| m.group = Some("g".into()))],
            class: ExitClass::Invalid,
            says: "g",
        },
        Refused {
            rule: "a bad username",
            roles: &[],
            packages: || {
                vec![with(spec("a--1", &[]), |m| {
                    m.username = Some("Bad User".into())
                })]
            },
            class: ExitClass::Invalid,
            says: "Bad User",
        },
        Refused {
            rule: "PATH in environment",
            roles: &[],
            packages: || {
                vec![with(spec("a--1", &[]), |m| {
                    m.environment = vec![("PATH".into(), "/x".into())]
                })]
            },
            class: ExitClass::Invalid,
            says: "PATH",
        },
        Refused {
            rule: "one environment variable in two packages, equal values",
            roles: &[],
            packages: || {
                let env = |m: &mut Meta| m.environment = vec![("X".into(), "1".into())];
                vec![with(spec("a--1", &[]), env), with(spec("b--1", &[]), env)]
            },
            class: ExitClass::Conflict,
            says: "X",
        },
        Refused {
            rule: "one sysctl key with two values (1 and \"1\" differ)",
            roles: &[],
            packages: || {
                let sysctl = |value: serde_json::Value| {
                    move |m: &mut Meta| {
                        m.sysctl = BTreeMap::from([(
                            "s".to_string(),
                            BTreeMap::from([("vm.x".to_string(), value)]),
                        )])
                    }
                };
                vec![
                    with(
                        spec("a--1", &["dcos.target.wants/s.service"]),
                        sysctl(json!(1)),
                    ),
                    with(spec("b--1", &["lib/b.service"]), sysctl(json!("1"))),
                ]
            },
            class: ExitClass::Conflict,
            says: "vm.x",
        },
        Refused {
            rule: "a sysctl in a package without a .service file",
            roles: &[],
            packages: || {
                vec![with(spec("a--1", &["bin/x"]), |m| {
                    m.sysctl = BTreeMap::from([(
                        "s".to_string(),
                        BTreeMap::from([("vm.x".to_string(), json!(1))]),
                    )])
                })]
            },
            class: ExitClass::Invalid,
            says: "a--1",
        },
    ]
}

#[test]
fn each_validation_rule_refuses_folded_and_not() {
    for row in refused_rows() {
        for fold in [true, false] {
            let (_temp, result) = run((row.packages)(), row.roles, fold);
            let error = match result {
                Ok(_) => panic!("{} (fold {fold}): accepted", row.rule),
                Err(error) => error,
            };
            assert_eq!(
                error.class(),
                row.class,
                "{} (fold {fold}): {error}",
                row.rule
            );
            assert!(
                error.to_string().contains(row.says),
                "{} (fold {fold}): {error:?} does not name {:?}",
                row.rule,
                row.says
            );
        }
    }
}

/// Accepted sets and the farm each mode gives: `(path, is a directory in
/// the farm, number of sources)` for every node.
struct Accepted {
    rule: &'static str,
    roles: &'static [&'static str],
    packages: fn() -> Vec<Spec>,
    folded: &'static [(&'static str, bool, usize)],
    unfolded: &'static [(&'static str, bool, usize)],
}

fn accepted_rows() -> Vec<Accepted> {
    vec![
        Accepted {
            rule: "a directory of one package folds into one link",
            roles: &[],
            packages: || vec![spec("a--1", &["lib/py/x.py", "lib/py/y.py"])],
            folded: &[("lib/py", true, 1)],
            unfolded: &[
                ("lib/py", true, 1),
                ("lib/py/x.py", false, 1),
                ("lib/py/y.py", false, 1),
            ],
        },
        Accepted {
            rule: "a directory two packages share is merged, its parts fold",
            roles: &[],
            packages: || {
                vec![
                    spec("a--1", &["lib/py/a/x.py"]),
                    spec("b--1", &["lib/py/b/y.py"]),
                ]
            },
            folded: &[
                ("lib/py", true, 2),
                ("lib/py/a", true, 1),
                ("lib/py/b", true, 1),
            ],
            unfolded: &[
                ("lib/py", true, 2),
                ("lib/py/a", true, 1),
                ("lib/py/a/x.py", false, 1),
                ("lib/py/b", true, 1),
                ("lib/py/b/y.py", false, 1),
            ],
        },
        Accepted {
            rule: "a role dir is linked on a host with that role only",
            roles: &["master"],
            packages: || vec![spec("a--1", &["bin_master/m", "bin_slave/s", "bin/x"])],
            folded: &[("bin/m", false, 1), ("bin/x", false, 1)],
            unfolded: &[("bin/m", false, 1), ("bin/x", false, 1)],
        },
        Accepted {
            rule: "two roles may share a directory without sharing a file",
            roles: &["master", "slave"],
            packages: || vec![spec("a--1", &["etc_master/d/m", "etc_slave/d/s"])],
            folded: &[
                ("etc/d", true, 2),
                ("etc/d/m", false, 1),
                ("etc/d/s", false, 1),
            ],
            unfolded: &[
                ("etc/d", true, 2),
                ("etc/d/m", false, 1),
                ("etc/d/s", false, 1),
            ],
        },
        Accepted {
            rule: "requires by name, cycles allowed; equal sysctl values merge",
            roles: &[],
            packages: || {
                let sysctl = |m: &mut Meta| {
                    m.sysctl = BTreeMap::from([(
                        "s".to_string(),
                        BTreeMap::from([("vm.x".to_string(), json!(1))]),
                    )])
                };
                vec![
                    with(spec("a--1", &["dcos.target.wants/s.service"]), |m| {
                        m.requires = vec!["b".into()];
                        sysctl(m)
                    }),
                    with(spec("b--1", &["lib/s.service"]), |m| {
                        m.requires = vec!["a".into()];
                        sysctl(m)
                    }),
                ]
            },
            folded: &[
                ("dcos.target.wants/s.service", false, 1),
                ("lib/s.service", false, 1),
            ],
            unfolded: &[
                ("dcos.target.wants/s.service", false, 1),
                ("lib/s.service", false, 1),
            ],
        },
    ]
}

#[test]
fn accepted_sets_give_the_farm_of_each_mode() {
    for row in accepted_rows() {
        for (fold, expected) in [(true, row.folded), (false, row.unfolded)] {
            let (_temp, result) = run((row.packages)(), row.roles, fold);
            let plan = result.unwrap_or_else(|e| panic!("{} (fold {fold}): {e}", row.rule));
            let nodes: Vec<(String, bool, usize)> = plan
                .nodes
                .iter()
                .map(|(path, node)| (path.0.display().to_string(), node.dir, node.sources.len()))
                .collect();
            let expected: Vec<(String, bool, usize)> = expected
                .iter()
                .map(|(p, d, n)| (p.to_string(), *d, *n))
                .collect();
            assert_eq!(nodes, expected, "{} (fold {fold})", row.rule);
        }
    }
}
