#!/usr/bin/env bash
# The no-op `make` on the example tree: once everything is built, a second
# `make` (and `make -q`) must do no work and return well under a second
# (issue 9). Baseline in the same run: GNU make reading an empty makefile,
# i.e. make's own start-up cost. A benchmark, not a test.
#
# usage: bench/make-noop.sh            env: BIN (target/release, else target/debug)
#        RUNS (hyperfine --runs, default 30)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-}
if [ -z "$BIN" ]; then
    BIN=$ROOT/target/release
    [ -x "$BIN/pkg-build" ] || BIN=$ROOT/target/debug
fi
[ -x "$BIN/pkg-build" ] || { echo "no tools in $BIN: cargo build --bins, or set BIN" >&2; exit 2; }
RUNS=${RUNS:-30}

work=$(mktemp -d "${TMPDIR:-/tmp}/tarmac-make-noop.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$ROOT/Makefile" "$work/"
cp -R "$ROOT/packages" "$ROOT/genconf" "$work/"
rm -rf "$work/genconf/serve"
echo "all: ;" >"$work/empty.mk"

echo "== first make (builds everything; not timed)" >&2
make -s --no-print-directory -C "$work" BIN="$BIN" >/dev/null
make -s -q -C "$work" BIN="$BIN" || { echo "make -q: not up to date after make" >&2; exit 1; }

cd "$work"
hyperfine --warmup 3 --runs "$RUNS" --export-json "$work/result.json" \
    -n "make -f empty.mk (baseline)" "make -s -f empty.mk" \
    -n "make (no-op)" "make -s BIN=$BIN" \
    -n "make -q (no-op)" "make -q BIN=$BIN"

python3 - "$work/result.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
base = r["make -f empty.mk (baseline)"]
for name in ("make (no-op)", "make -q (no-op)"):
    print(f"{name}: {r[name]*1000:.1f} ms mean, {r[name]/base:.1f}x make's start-up ({base*1000:.1f} ms)")
PY
