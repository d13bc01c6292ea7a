#!/usr/bin/env bash
# The project's test command (README): formatting, lints, the static musl
# build of the six tools (the fleet test installs its hosts with them, as a
# real cluster would), then every test of the workspace against the real
# binaries. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
scripts/build-static.sh target/static >/dev/null
export TARMAC_STATIC_DIR="$PWD/target/static"
cargo test --workspace --locked "$@"
