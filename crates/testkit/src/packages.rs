//! Extracted-package fixtures: lays out `<root>/packages/<id>/...` with a
//! `pkginfo.json`, the way host-extract leaves a package, so pkg-activate
//! tests read like the scenario:
//!
//! ```text
//! PkgFixture::new("mesos", "0.22.0")
//!     .file("bin_master/mesos-master", b"#!/bin/sh\n", 0o755)
//!     .env("FOO", "BAR")
//!     .build(&root);
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

enum Entry {
    File(Vec<u8>, u32),
    Dir,
    Symlink(String),
}

/// A package to write into `<root>/packages/<name>--<version>/`.
pub struct PkgFixture {
    name: String,
    version: String,
    entries: Vec<(String, Entry)>,
    pkginfo: Map<String, Value>,
    raw_pkginfo: Option<Vec<u8>>,
    buildinfo_full: Option<Value>,
}

impl PkgFixture {
    pub fn new(name: &str, version: &str) -> PkgFixture {
        PkgFixture {
            name: name.to_string(),
            version: version.to_string(),
            entries: Vec::new(),
            pkginfo: Map::new(),
            raw_pkginfo: None,
            buildinfo_full: None,
        }
    }

    pub fn id(&self) -> String {
        format!("{}--{}", self.name, self.version)
    }

    /// A regular file with `mode` (e.g. 0o755), parents created.
    pub fn file(mut self, path: &str, content: &[u8], mode: u32) -> Self {
        self.entries
            .push((path.to_string(), Entry::File(content.to_vec(), mode)));
        self
    }

    /// An (empty unless files are added under it) directory.
    pub fn dir(mut self, path: &str) -> Self {
        self.entries.push((path.to_string(), Entry::Dir));
        self
    }

    /// A symlink inside the package (target taken verbatim).
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.entries
            .push((path.to_string(), Entry::Symlink(target.to_string())));
        self
    }

    /// Adds `NAME=value` to pkginfo's `environment` (in call order).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        let env = self
            .pkginfo
            .entry("environment")
            .or_insert_with(|| Value::Object(Map::new()));
        env.as_object_mut()
            .expect("environment is an object")
            .insert(name.to_string(), json!(value));
        self
    }

    pub fn requires(mut self, names: &[&str]) -> Self {
        self.pkginfo.insert("requires".into(), json!(names));
        self
    }

    /// Sets `sysctl.<service>.<key>` to a JSON value (`json!(1)` or `json!("1")`).
    pub fn sysctl(mut self, service: &str, key: &str, value: Value) -> Self {
        let sysctl = self
            .pkginfo
            .entry("sysctl")
            .or_insert_with(|| Value::Object(Map::new()));
        let service = sysctl
            .as_object_mut()
            .expect("sysctl is an object")
            .entry(service.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        service
            .as_object_mut()
            .expect("service is an object")
            .insert(key.to_string(), value);
        self
    }

    pub fn username(mut self, user: &str) -> Self {
        self.pkginfo.insert("username".into(), json!(user));
        self
    }

    pub fn group(mut self, group: &str) -> Self {
        self.pkginfo.insert("group".into(), json!(group));
        self
    }

    pub fn state_directory(mut self) -> Self {
        self.pkginfo.insert("state_directory".into(), json!(true));
        self
    }

    /// Replaces the generated pkginfo.json by these exact bytes.
    pub fn raw_pkginfo(mut self, bytes: &[u8]) -> Self {
        self.raw_pkginfo = Some(bytes.to_vec());
        self
    }

    /// Writes `buildinfo.full.json` with this content.
    pub fn buildinfo_full(mut self, value: Value) -> Self {
        self.buildinfo_full = Some(value);
        self
    }

    /// Writes the package under `<root>/packages/<id>/`; returns its path.
    pub fn build(self, root: &Path) -> PathBuf {
        let dir = tarmac_model::layout::host::package(root, &self.id());
        std::fs::create_dir_all(&dir).expect("create package dir");
        for (path, entry) in &self.entries {
            let full = dir.join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).expect("create parent");
            }
            match entry {
                Entry::File(content, mode) => {
                    std::fs::write(&full, content).expect("write fixture file");
                    std::fs::set_permissions(&full, std::fs::Permissions::from_mode(*mode))
                        .expect("chmod fixture file");
                }
                Entry::Dir => std::fs::create_dir_all(&full).expect("create fixture dir"),
                Entry::Symlink(target) => {
                    std::os::unix::fs::symlink(target, &full).expect("create fixture symlink")
                }
            }
        }
        let pkginfo = match &self.raw_pkginfo {
            Some(bytes) => bytes.clone(),
            None => serde_json::to_vec_pretty(&Value::Object(self.pkginfo.clone())).expect("json"),
        };
        std::fs::write(dir.join("pkginfo.json"), pkginfo).expect("write pkginfo.json");
        if let Some(buildinfo) = &self.buildinfo_full {
            std::fs::write(
                dir.join("buildinfo.full.json"),
                serde_json::to_vec_pretty(buildinfo).expect("json"),
            )
            .expect("write buildinfo.full.json");
        }
        dir
    }
}

/// pkgpanda's `mesos--0.22.0` test package (pkgpanda/test_resources):
/// bin, bin_master, lib, dcos.target.wants_master/_slave, sysctl settings.
pub fn mesos_0_22() -> PkgFixture {
    PkgFixture::new("mesos", "0.22.0")
        .file("bin/mesos", b"#!/bin/sh\necho mesos\n", 0o755)
        .file("bin/mesos-dir/.gitignore", b"", 0o644)
        .file("bin_master/mesos-master", b"#!/bin/sh\n", 0o755)
        .file("bin_master/mesos-slave", b"#!/bin/sh\n", 0o755)
        .file("lib/libmesos.so", b"ELF", 0o644)
        .file(
            "dcos.target.wants_master/dcos-mesos-master.service",
            b"[Service]\nExecStart=/opt/mesosphere/bin/mesos-master\n",
            0o644,
        )
        .file(
            "dcos.target.wants_slave/dcos-mesos-slave.service",
            b"[Service]\nExecStart=/opt/mesosphere/bin/mesos-slave\n",
            0o644,
        )
        .sysctl("dcos-mesos-master", "kernel.watchdog_thresh", json!("11"))
        .sysctl(
            "dcos-mesos-master",
            "net.netfilter.nf_conntrack_udp_timeout",
            json!("30"),
        )
        .sysctl("dcos-mesos-slave", "kperf.debug_level", json!("1"))
        .buildinfo_full(json!({}))
}

/// pkgpanda's `mesos-config--<version>`: etc/foobar, FOO=BAR and BAZ=TEST,
/// requiring mesos and (a cycle pkgpanda accepts) itself.
pub fn mesos_config(version: &str) -> PkgFixture {
    PkgFixture::new("mesos-config", version)
        .file("etc/foobar", b"", 0o644)
        .requires(&["mesos", "mesos-config"])
        .env("FOO", "BAR")
        .env("BAZ", "TEST")
        .buildinfo_full(json!({}))
}
