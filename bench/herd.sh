#!/usr/bin/env bash
# Thundering herd (issue 12, "Figures to report"): N hosts run host-extract
# at the same moment against ONE origin that answers `503` with
# `Retry-After: 2` for its first 10 seconds (bench/herd-origin.py), then
# serves the bundle. Reports what the origin saw: requests per second (a
# per-second histogram), the peak and the total; and the hosts' exit codes
# and the wall time until the last one finished.
# A benchmark, not a test: compare binaries in runs on the same machine.
#
# usage: bench/herd.sh [HOST_EXTRACT]     (default: target/release/host-extract)
# env:   N (200) hosts; ERROR_SECONDS (10) of 503; RETRY_AFTER (2) seconds;
#        FLAGS: extra host-extract flags (default none: the shipped
#        retry/backoff defaults are what a fleet runs with);
#        TOOLS: dir holding pkg-build and pkg-bundle for the tiny bundle
#        (default target/release, else target/debug).
#
# Each host is one host-extract process with its own temp --root; all run on
# this machine against 127.0.0.1, so the origin's request rate is what the
# clients' retry policy produces, not what a network would allow. Everything
# is made under one temp dir and removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/release/host-extract}
N=${N:-200}
ERROR_SECONDS=${ERROR_SECONDS:-10}
RETRY_AFTER=${RETRY_AFTER:-2}
FLAGS=${FLAGS:-}
TOOLS=${TOOLS:-}
if [ -z "$TOOLS" ]; then
    TOOLS=$ROOT/target/release
    [ -x "$TOOLS/pkg-bundle" ] && [ -x "$TOOLS/pkg-build" ] || TOOLS=$ROOT/target/debug
fi
[ -x "$BIN" ] || { echo "herd.sh: $BIN: no such executable (cargo build --release --bin host-extract)" >&2; exit 2; }
for tool in pkg-build pkg-bundle; do
    [ -x "$TOOLS/$tool" ] || { echo "herd.sh: $TOOLS/$tool missing: cargo build --bins, or set TOOLS" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tarmac-herd.XXXXXX")
origin_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [ -n "$origin_pid" ] && kill "$origin_pid" 2>/dev/null && wait "$origin_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# A tiny real bundle: the example tree's libgreet, built and bundled by the
# repo's own tools.
id=$("$TOOLS/pkg-build" --quiet --packages "$ROOT/packages" --repo "$work/repo" \
    --cache "$work/cache" libgreet | grep -x 'libgreet--.*')
{ read -r bootstrap_id; read -r blake3; } < <("$TOOLS/pkg-bundle" --quiet --repo "$work/repo" --out "$work/dist" "$id")
bundle=$work/dist/bootstrap/$bootstrap_id.bootstrap.tar.zst

python3 "$ROOT/bench/herd-origin.py" --file "$bundle" --port-file "$work/port" \
    --log "$work/requests.tsv" --error-seconds "$ERROR_SECONDS" --retry-after "$RETRY_AFTER" &
origin_pid=$!
for _ in $(seq 100); do [ -f "$work/port" ] && break; sleep 0.05; done
[ -f "$work/port" ] || { echo "herd.sh: the origin did not start" >&2; exit 1; }
url=http://127.0.0.1:$(cat "$work/port")/$(basename "$bundle")

echo "herd: $N x $BIN" >&2
echo "      origin: 503 + Retry-After: $RETRY_AFTER for ${ERROR_SECONDS}s after its first request; bundle $(stat -c %s "$bundle") bytes" >&2
mkdir -p "$work/hosts" "$work/rc"
start=$(date +%s.%N)
for i in $(seq "$N"); do
    (
        # shellcheck disable=SC2086 # FLAGS is a list of words
        "$BIN" --root "$work/hosts/$i" --url "$url" --blake3 "$blake3" --quiet \
            --reserve-bytes 0 --reserve-inodes 0 $FLAGS >/dev/null 2>"$work/rc/$i.err"
        echo "$? $(date +%s.%N)" >"$work/rc/$i"
    ) &
done
launched=$(date +%s.%N)
wait_failed=0
for job in $(jobs -p); do
    [ "$job" = "$origin_pid" ] && continue
    wait "$job" || wait_failed=1
done
end=$(date +%s.%N)

python3 - "$work" "$N" "$start" "$end" "$ERROR_SECONDS" "$launched" <<'EOF'
import collections, os, sys
work, n, start, end, error_seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
launched = float(sys.argv[6])
rows = [line.split("\t") for line in open(os.path.join(work, "requests.tsv")) if line.strip()]
per_second = collections.defaultdict(collections.Counter)
for since, status, *_ in rows:
    per_second[int(float(since))][status] += 1
total = len(rows)
statuses = collections.Counter(status for _, status, *_ in rows)
print("requests seen by the origin, per second since its first request:")
print(" second  total    503    200  other")
peak = (0, 0)
last = max(per_second) if per_second else -1
for second in range(last + 1):
    c = per_second.get(second, collections.Counter())
    t = sum(c.values())
    if t > peak[1]:
        peak = (second, t)
    other = t - c["503"] - c["200"]
    print(f"{second:7d} {t:6d} {c['503']:6d} {c['200']:6d} {other:6d}  {'#' * min(60, (t + 9) // 10)}")
window = [sum(per_second.get(s, {}).values()) for s in range(int(error_seconds))]
print(f"total requests: {total} ({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}); "
      f"{total / n:.2f} per host")
print(f"peak: {peak[1]} requests/s (second {peak[0]})")
if window:
    print(f"during the {error_seconds:g} s of 503: {sum(window)} requests, "
          f"mean {sum(window) / len(window):.1f}/s, after the first second "
          f"{(sum(window[1:]) / max(1, len(window) - 1)):.1f}/s")
codes = collections.Counter()
done = []
for i in range(1, n + 1):
    try:
        code, when = open(os.path.join(work, "rc", str(i))).read().split()
        codes[code] += 1
        done.append(float(when) - start)
    except (OSError, ValueError):
        codes["missing"] += 1
done.sort()
print("host exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())))
if done:
    print(f"hosts finished: first {done[0]:.2f} s, median {done[len(done) // 2]:.2f} s, "
          f"last {done[-1]:.2f} s after launch")
print(f"wall time (launch to last exit): {end - start:.2f} s; "
      f"starting the {n} processes took {launched - start:.2f} s")
print(f"load average: {open('/proc/loadavg').read().split()[0]}; cores: {os.cpu_count()}")
errors = collections.Counter()
for i in range(1, n + 1):
    path = os.path.join(work, "rc", f"{i}.err")
    if os.path.exists(path):
        for line in open(path):
            if "error" in line:
                errors[line.split(": ", 2)[-1].strip()[:120]] += 1
for message, count in errors.most_common(3):
    print(f"  {count} x {message}")
EOF
exit "$wait_failed"
