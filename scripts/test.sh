#!/usr/bin/env bash
# The project's test command (README): the Debian packages the tests need
# (installed when missing and run as root), formatting, lints, the static musl
# build of the six tools (the fleet test installs its hosts with them, as a
# real cluster would), then every test of the workspace against the real
# binaries. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# On a fresh Debian machine (as root) first install what the tests run:
# nginx (the tests' HTTP server), shellcheck, b3sum, iproute2, musl-gcc for
# the static build, make, the configuration-management tools the
# integration tests drive (ansible-core, puppet, ruby), e2fsprogs for
# the loop-mounted ext4 disks of the reliability tests, and cloud-init (its
# `cloud-init schema` and its Python modules check and expand the cloud-init
# user data in tests/cloud_init.rs; nothing runs it at boot in a test).
# Nothing is installed when all are present.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  for cmd in nginx:nginx shellcheck:shellcheck b3sum:b3sum ip:iproute2 musl-gcc:musl-tools \
      make:make ansible-playbook:ansible-core puppet:puppet ruby:ruby mkfs.ext4:e2fsprogs \
      cloud-init:cloud-init; do
    command -v "${cmd%%:*}" >/dev/null || need+=("${cmd#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  # cfn-lint (the CloudFormation linter of tests/cloud_init.rs) is not
  # packaged by Debian: from PyPI, the version the tests were written
  # against, with pip (from apt when missing). Debian 12's own Python is
  # "externally managed" (PEP 668): --break-system-packages when pip
  # refuses the plain install.
  if ! command -v cfn-lint >/dev/null; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
    fi
    python3 -m pip install --quiet cfn-lint==1.51.0 ||
      python3 -m pip install --quiet --break-system-packages cfn-lint==1.51.0
  fi
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
scripts/build-static.sh target/static >/dev/null
export TARMAC_STATIC_DIR="$PWD/target/static"
cargo test --workspace --locked "$@"
