#!/usr/bin/env python3
"""Turns a gen-tree.py output into a pkg-build package tree.

Usage: tree-to-packages.py TREE_PACKAGES SRC_DIR PKGS_DIR

For each generated package TREE_PACKAGES/<id>/, SRC_DIR/<id>.tar must hold
its files (without pkginfo.json and buildinfo.full.json); this writes
PKGS_DIR/<name>/{buildinfo.json,build} with a url_extract source pinned by
sha1 and the package's requires/environment/state_directory, plus an empty
PKGS_DIR/treeinfo.json. Shared by bench/run.sh and bench/bundle.sh.
"""
import hashlib, json, os, sys
tree, src, pkgs = sys.argv[1:]
for pid in sorted(os.listdir(tree)):
    name = pid.split("--")[0]
    info = json.load(open(os.path.join(tree, pid, "pkginfo.json")))
    tarball = os.path.join(src, pid + ".tar")
    h = hashlib.sha1()
    with open(tarball, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    build = {"single_source": {"kind": "url_extract", "url": "file://" + tarball, "sha1": h.hexdigest()},
             "requires": info.get("requires", []), "environment": info.get("environment", {})}
    if info.get("state_directory"):
        build["state_directory"] = True
    os.makedirs(os.path.join(pkgs, name), exist_ok=True)
    with open(os.path.join(pkgs, name, "buildinfo.json"), "w") as f:
        json.dump(build, f, indent=2)
    script = os.path.join(pkgs, name, "build")
    with open(script, "w") as f:
        f.write('#!/bin/sh\nset -e\ncp -a "$PKG_SRC/$PKG_NAME/." "$PKG_PATH/"\n')
    os.chmod(script, 0o755)
with open(os.path.join(pkgs, "treeinfo.json"), "w") as f:
    f.write("{}\n")
