#!/usr/bin/env bash
# The project's test command (README): formatting, lints, then every test of
# the workspace against the real binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked "$@"
