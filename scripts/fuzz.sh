#!/usr/bin/env bash
# Runs the parser property tests (docs/reliability.md, "Fuzzing").
#   scripts/fuzz.sh              the bounded run CI does (debug build)
#   scripts/fuzz.sh --long [N]   N cases per property (default 25000), release build
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '2,4s/^# \{0,1\}//p' "$0"
}

cases=
profile=()
case "${1:-}" in
  "") ;;
  -h | --help)
    usage
    exit 0
    ;;
  --long)
    cases=${2:-25000}
    [[ "$cases" =~ ^[1-9][0-9]*$ ]] || {
      echo "fuzz.sh: error: --long $cases: expected a positive number of cases" >&2
      exit 2
    }
    profile=(--release)
    ;;
  *)
    echo "fuzz.sh: error: unknown argument '$1'" >&2
    usage >&2
    exit 2
    ;;
esac

# Every crate with a tests/fuzz.rs.
targets=()
for file in crates/*/tests/fuzz.rs; do
  crate=$(basename "$(dirname "$(dirname "$file")")")
  targets+=(-p "tarmac-$crate")
done
[ ${#targets[@]} -gt 0 ] || {
  echo "fuzz.sh: error: no crates/*/tests/fuzz.rs found" >&2
  exit 1
}

if [ -n "$cases" ]; then
  export TARMAC_FUZZ_CASES=$cases
fi
exec cargo test --locked "${profile[@]}" "${targets[@]}" --test fuzz
