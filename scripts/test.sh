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
# integration tests drive (ansible-core, puppet, ruby), and e2fsprogs for
# the loop-mounted ext4 disks of the reliability tests. Nothing is
# installed when all are present.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  for cmd in nginx:nginx shellcheck:shellcheck b3sum:b3sum ip:iproute2 musl-gcc:musl-tools \
      make:make ansible-playbook:ansible-core puppet:puppet ruby:ruby mkfs.ext4:e2fsprogs; do
    command -v "${cmd%%:*}" >/dev/null || need+=("${cmd#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
scripts/build-static.sh target/static >/dev/null
export TARMAC_STATIC_DIR="$PWD/target/static"
cargo test --workspace --locked "$@"
