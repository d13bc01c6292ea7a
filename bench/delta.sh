#!/usr/bin/env bash
# Delta upgrades (issue 16), measured in one run on one tree:
#   bytes      what a v1 host downloads to upgrade: host-extract (deltas,
#              the default) vs host-extract --no-delta (the changed packages
#              whole); per package: the delta's size against its archive
#   time       host-extract of the upgrade from nginx on loopback (fetch +
#              regenerate + decode + extract + verify + publish, durable)
#              with deltas vs --no-delta, on the same host; the delta
#              path's split (index, regenerate, download, decode, extract)
#              from the step lines host-extract prints
#   render     cfg-gen --upgrade-from (writes the deltas) vs cfg-gen alone
#   payload    where deltas do not help: a package whose content is one
#              compressed payload (a .tar.gz of another package's files),
#              1% of the inner files changed: the delta's size (zstd
#              --patch-from, the same frame cfg-gen makes) vs the archive
# The upgrade: 5 leaf packages (no other package requires them, so no
# other id changes) rebuilt with ~1% of their files changed (the first
# 4 KiB of each rewritten). Activation is not timed: it reads the same
# trees either way.
#
# usage: bench/delta.sh [SCALE]   (default 1: 60 packages, 120k files, 1.5 GB)
# env:   RUNS (3), WORK (target/bench-delta), DROP_CACHES=1 to drop the page
#        cache before each timed run (affects everything else on the machine)
# Needs: python3, nginx, curl, zstd, /usr/bin/time. The filesystem of WORK
# is printed with the figures. Old host trees are moved aside, never deleted
# right before a timing (bench/README.md).
set -euo pipefail

SCALE=${1:-1}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
WORK=${WORK:-$ROOT/target/bench-delta}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
RUN=$WORK/run.$$
mkdir -p "$RUN"

(cd "$ROOT" && cargo build --release -q --bins)
BIN=$ROOT/target/release
fs() { findmnt -n -o SOURCE,FSTYPE,OPTIONS --target "$1" | head -1 | cut -c1-70; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | grep . | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3g", a / b; else print "n/a" }'; }
settle() { sync; if [ "${DROP_CACHES:-0}" = 1 ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }

# ---- v1: the generated tree built by pkg-build, bundled, rendered
TREE=$WORK/tree-$SCALE
if [ ! -d "$TREE/packages" ]; then
    echo "generating the tree (scale $SCALE)" >&2
    python3 "$ROOT/bench/gen-tree.py" "$TREE" --scale "$SCALE" --jobs 2 >&2
fi
# Sources and package definitions (make_pkgs, bench/lib.sh).
build() { # PKGS DIST
    "$BIN/pkg-build" --tree --packages "$1" --repo "$WORK/repo" --cache "$WORK/cache" > /dev/null
    "$BIN/pkg-bundle" --tree --packages "$1" --repo "$WORK/repo" --out "$2" > /dev/null
}
GENCONF=$WORK/genconf
render() { # DIST [ARGS...]: cfg-gen into $GENCONF/serve
    local dist=$1; shift
    "$BIN/cfg-gen" --genconf "$GENCONF" --dist "$dist" --bin-dir "$BIN" --json "$@" > "$RUN/generated.json"
}
if [ ! -f "$WORK/v1.done" ]; then
    echo "building v1 (pkg-build, pkg-bundle)" >&2
    make_pkgs "$TREE" "$WORK/src1" "$WORK/pkgs1"
    build "$WORK/pkgs1" "$WORK/dist1"
    rm -rf "$GENCONF"; cp -R "$ROOT/genconf" "$GENCONF"
    render "$WORK/dist1"
    rm -rf "$WORK/serve1"; cp -al "$GENCONF/serve" "$WORK/serve1"
    touch "$WORK/v1.done"
fi

# ---- v2: 5 leaf packages with ~1% of their files changed
LEAVES=$(python3 - "$TREE/packages" <<'PY'
import json, os, sys
root = sys.argv[1]
ids = sorted(os.listdir(root))
required = set()
for pid in ids:
    required.update(json.load(open(os.path.join(root, pid, "pkginfo.json"))).get("requires", []))
def size(pid):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(root, pid)) for f in fs
               if not os.path.islink(os.path.join(d, f)))
leaves = [p for p in ids if p.split("--")[0] not in required]
leaves.sort(key=size, reverse=True)
# Five of the larger leaves, not all from the top (varied kinds).
print(" ".join(leaves[i] for i in (0, 2, 4, 6, 8)[:min(5, len(leaves))]))
PY
)
if [ ! -f "$WORK/v2.done" ]; then
    echo "v2: changing ~1% of the files of $LEAVES" >&2
    rm -rf "$WORK/tree2"; mkdir -p "$WORK/tree2"
    cp -al "$TREE/packages" "$WORK/tree2/packages"
    for id in $LEAVES; do
        # Break the hard links of the package, then rewrite the head of
        # every 100th regular file.
        rm -rf "$WORK/tree2/packages/$id"; cp -a "$TREE/packages/$id" "$WORK/tree2/packages/$id"
        find "$WORK/tree2/packages/$id" -type f ! -name pkginfo.json ! -name buildinfo.full.json | sort \
            | awk 'NR % 100 == 1' | while read -r f; do
                head -c 4096 /dev/urandom | dd of="$f" conv=notrunc status=none
            done
    done
    # Only the changed packages get new source tarballs, at the same paths
    # (a package's id covers its buildinfo, source URL included): the
    # others keep their ids.
    for id in $LEAVES; do
        tar -C "$WORK/tree2/packages" --exclude "$id/pkginfo.json" --exclude "$id/buildinfo.full.json" \
            -cf "$WORK/src1/$id.tar" "$id"
    done
    python3 "$ROOT/bench/tree-to-packages.py" "$WORK/tree2/packages" "$WORK/src1" "$WORK/pkgs2"
    build "$WORK/pkgs2" "$WORK/dist2"
    touch "$WORK/v2.done"
fi

# ---- render v2: without deltas, then with (the cost of making them)
T0=$(date +%s.%N); render "$WORK/dist2"; T1=$(date +%s.%N)
RENDER_PLAIN=$(echo "$T1 - $T0" | bc)
T0=$(date +%s.%N); render "$WORK/dist2" --upgrade-from "$WORK/serve1"; T1=$(date +%s.%N)
RENDER_DELTA=$(echo "$T1 - $T0" | bc)
SERVE=$GENCONF/serve
V1=$(cd "$WORK/serve1/packages" && ls */*.json | grep -v deltas.json | sed 's|.*/||; s|\.json$||' | sort)
V2=$(cd "$SERVE/packages" && ls */*.json | grep -v deltas.json | sed 's|.*/||; s|\.json$||' | sort)
NEW=$(comm -13 <(echo "$V1") <(echo "$V2"))
if [ "$(echo "$NEW" | grep -vc -- '--setup_')" != "$(echo "$LEAVES" | wc -w)" ]; then
    echo "bench/delta.sh: expected only the changed packages to get new ids, got: $NEW" >&2
    exit 1
fi

# ---- the host: v1 installed once (from the v1 serve tree on disk)
HOST=$WORK/host
if [ ! -f "$WORK/host.done" ]; then
    rm -rf "$HOST"
    # shellcheck disable=SC2086
    "$BIN/host-extract" --quiet --max-requests 1000 --root "$HOST" --repository "$WORK/serve1" \
        --package $V1 > /dev/null
    touch "$WORK/host.done"
fi
mkdir -p "$HOST/old"
aside() { # the v2 packages out of the host (moved, deleted at the end)
    local id n=$RANDOM$RANDOM
    for id in $NEW; do
        if [ -d "$HOST/packages/$id" ]; then mv "$HOST/packages/$id" "$HOST/old/$id.$n"; fi
        rm -f "$HOST/packages/.manifests/$id.json"
    done
}

# nginx on a free loopback port serving the v2 tree, stopped on exit.
serve_dir "$RUN" "$SERVE"
cleanup() { kill "$NGINX" 2>/dev/null || true; rm -rf "$HOST/old" "$RUN"; }
trap cleanup EXIT
URL=http://127.0.0.1:$PORT

declare -A T=([full]='' [delta]='') B=([full]='' [delta]='') M=([full]='' [delta]='')
for _ in $(seq "$RUNS"); do
    for mode in full delta; do
        aside; settle
        flag=""; [ "$mode" = full ] && flag=--no-delta
        # shellcheck disable=SC2086
        /usr/bin/time -f '%e %M' -o "$RUN/time" "$BIN/host-extract" --json $flag --root "$HOST" \
            --repository "$URL" --package $V2 > "$RUN/out.json"
        read -r e m < "$RUN/time"
        T[$mode]+="$e "; M[$mode]+="$m "
        B[$mode]+="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["downloaded_bytes"])' "$RUN/out.json") "
        if [ "$mode" = delta ]; then
            python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert not d["delta_failures"], d; print(" ".join(d["deltas"]))' \
                "$RUN/out.json" > "$RUN/deltas"
        fi
    done
done
# Anonymous vs file-backed memory of each path: /proc/PID/status sampled
# every 5 ms (peak RSS above counts the mapped temp files, which are page
# cache, not anonymous memory).
declare -A ANON=() FILE=()
for mode in full delta; do
    aside; settle
    flag=""; [ "$mode" = full ] && flag=--no-delta
    # shellcheck disable=SC2086
    "$BIN/host-extract" --quiet $flag --root "$HOST" --repository "$URL" --package $V2 > /dev/null &
    pid=$!
    read -r ANON[$mode] FILE[$mode] < <(python3 - "$pid" <<'PY'
import sys, time
pid = sys.argv[1]; anon = fil = 0
while True:
    try:
        fields = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
    except (FileNotFoundError, ProcessLookupError):
        break
    if "RssAnon" not in fields:
        break
    anon = max(anon, int(fields["RssAnon"].split()[0]))
    fil = max(fil, int(fields["RssFile"].split()[0]))
    time.sleep(0.005)
print(anon, fil)
PY
)
    wait "$pid"
done
# The delta path's split: the step lines host-extract prints, timestamped.
aside; settle
# shellcheck disable=SC2086
"$BIN/host-extract" --root "$HOST" --repository "$URL" --package $V2 2>&1 >/dev/null | python3 -c '
import sys, time, collections
t = collections.Counter(); last = None; start = time.monotonic(); prev = start
for line in sys.stdin:
    now = time.monotonic()
    if last: t[last] += now - prev
    words = line.split(": ", 1)[-1].split()
    step = " ".join(words[:-1]) if words and "--" in words[-1] else None
    last, prev = (step or last), now
if last: t[last] += time.monotonic() - prev
print(" ".join(f"{k.replace(chr(32), chr(95))}={v:.2f}" for k, v in sorted(t.items())))
' > "$RUN/split"

# ---- where deltas do not help: one compressed payload
P=$RUN/payload; mkdir -p "$P/a" "$P/b"
first=$(echo "$LEAVES" | cut -d' ' -f1)
tar -C "$TREE/packages/$first" -czf "$P/a/payload.tar.gz" .
cp -a "$TREE/packages/$first" "$P/inner"
find "$P/inner" -type f | sort | awk 'NR % 100 == 1' | while read -r f; do
    head -c 4096 /dev/urandom | dd of="$f" conv=notrunc status=none
done
tar -C "$P/inner" -czf "$P/b/payload.tar.gz" .
tar -C "$P/a" --sort=name --mtime=@0 --owner=0 --group=0 -cf "$P/a.tar" .
tar -C "$P/b" --sort=name --mtime=@0 --owner=0 --group=0 -cf "$P/b.tar" .
zstd -q -9 -T0 "$P/b.tar" -o "$P/b.tar.zst"
zstd -q -19 --long=31 --patch-from="$P/a.tar" "$P/b.tar" -o "$P/b.delta"
# The same for the plain files (what the packages above carry).
tar -C "$TREE/packages/$first" --sort=name --mtime=@0 --owner=0 --group=0 -cf "$P/pa.tar" .
tar -C "$P/inner" --sort=name --mtime=@0 --owner=0 --group=0 -cf "$P/pb.tar" .
zstd -q -9 -T0 "$P/pb.tar" -o "$P/pb.tar.zst"
zstd -q -19 --long=31 --patch-from="$P/pa.tar" "$P/pb.tar" -o "$P/pb.delta"
size() { stat -c %s "$1"; }

# ---- report
echo
echo "## Delta upgrades, scale $SCALE ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "filesystem of the host and serve tree: $(fs "$WORK")"
echo
echo "| package | archive (bytes) | delta (bytes) | delta/archive |"
echo "|---|---:|---:|---:|"
for id in $NEW; do
    name=${id%%--*}
    archive=$(size "$SERVE/packages/$name/$id.tar.zst")
    delta=$(ls "$SERVE/packages/$name/$id".from-*.delta 2>/dev/null | head -1 || true)
    if [ -n "$delta" ]; then d=$(size "$delta"); r=$(ratio "$d" "$archive"); else d="not written"; r="-"; fi
    echo "| $id | $archive | $d | $r |"
done
bf=$(echo "${B[full]}" | median); bd=$(echo "${B[delta]}" | median)
tf=$(echo "${T[full]}" | median); td=$(echo "${T[delta]}" | median)
echo
echo "| upgrade of one host | --no-delta (baseline) | deltas | ratio |"
echo "|---|---:|---:|---:|"
echo "| bytes downloaded | $bf | $bd | $(ratio "$bd" "$bf") |"
echo "| host-extract time, s (median, range of $RUNS) | $tf ($(echo "${T[full]}" | range)) | $td ($(echo "${T[delta]}" | range)) | $(ratio "$td" "$tf") |"
echo "| peak RSS, KiB (max) | $(echo "${M[full]}" | tr ' ' '\n' | sort -n | tail -1) | $(echo "${M[delta]}" | tr ' ' '\n' | sort -n | tail -1) | |"
echo "| peak anonymous / file-backed RSS, KiB (sampled) | ${ANON[full]} / ${FILE[full]} | ${ANON[delta]} / ${FILE[delta]} | |"
echo
echo "installed from deltas: $(cat "$RUN/deltas")"
echo "delta path split (s, one run, step lines timestamped): $(cat "$RUN/split")"
echo "render: cfg-gen $RENDER_PLAIN s; with --upgrade-from (writes the deltas) $RENDER_DELTA s; ratio $(ratio "$RENDER_DELTA" "$RENDER_PLAIN")"
echo
echo "| where deltas do not help ($first, 1% of files changed) | archive (bytes) | delta (bytes) | delta/archive |"
echo "|---|---:|---:|---:|"
echo "| plain files (as packaged) | $(size "$P/pb.tar.zst") | $(size "$P/pb.delta") | $(ratio "$(size "$P/pb.delta")" "$(size "$P/pb.tar.zst")") |"
echo "| the same files as one .tar.gz payload | $(size "$P/b.tar.zst") | $(size "$P/b.delta") | $(ratio "$(size "$P/b.delta")" "$(size "$P/b.tar.zst")") |"
