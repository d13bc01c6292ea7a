#!/usr/bin/env bash
# host-extract of the bootstrap bundle from nginx on loopback, against, in
# the same run and on the same content:
#   floor: curl -s URL | zstd -dc | tar -x && sync -f   (docs/architecture.md: target <= 1.0x)
#   dcos:  curl -s URL.xz | tar -xJf - && sync -f       (what DC/OS did; issue 3: >= 5x faster)
# (`sync -f DEST` is syncfs(2) of the destination's filesystem, exactly what
# host-extract does before publishing; a plain `sync` would also flush every
# other filesystem.)
# host-extract also verifies (blake3 of the raw bytes, tree hash of every
# package) and publishes durably (syncfs). Peak RSS of host-extract is
# reported too (docs/architecture.md: under 64 MiB).
# A benchmark, not a test: ratios are measured in one run, on one machine.
#
# usage: bench/host-extract.sh [SCALE]   (default 0.1; 1 = 60 packages, 1.5 GB)
# env:   RUNS (3), LEVEL (9, the bundle's zstd level), WORK (target/bench-host-extract),
#        EXTRACT_DIR (where the timed extractions go; default WORK: give a
#        tmpfs or a loop-mounted ext4 when the disk is short, and say so),
#        GEN_TREE (path of gen-tree.py), DROP_CACHES=1 to drop the page cache
#        before each timed run (affects everything else on the machine).
#
# Old trees are moved aside, never deleted right before a timing (ext4 slows
# inode creation for minutes after a mass delete: bench/README.md);
# they are deleted at the end.
set -euo pipefail

SCALE=${1:-0.1}
RUNS=${RUNS:-3}
LEVEL=${LEVEL:-9}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
WORK=${WORK:-$ROOT/target/bench-host-extract}
GEN_TREE=${GEN_TREE:-$ROOT/bench/gen-tree.py}

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
TREE=$WORK/tree-$SCALE
SERVE=$WORK/serve-$SCALE-$LEVEL
RUN=$WORK/run.$$
mkdir -p "$RUN"
EXTRACT=${EXTRACT_DIR:-$WORK}/extract.$$
mkdir -p "$EXTRACT"

(cd "$ROOT" && cargo build --release -q --bin host-extract && cargo build --release -q -p tarmac-testkit --example make-bundle)
BIN=$ROOT/target/release

fs() { findmnt -n -o SOURCE,FSTYPE,OPTIONS --target "$1" | head -1 | cut -c1-70; }

if [ ! -d "$TREE/packages" ]; then
    echo "generating the tree (scale $SCALE) in $TREE" >&2
    python3 "$GEN_TREE" "$TREE" --scale "$SCALE" --jobs 2 >&2
fi
if [ ! -f "$SERVE/.done" ]; then
    echo "bundling (zstd -$LEVEL) and making the same tar as .tar.xz (xz -6)" >&2
    mkdir -p "$SERVE"
    "$BIN/examples/make-bundle" "$TREE/packages" "$SERVE" "$LEVEL" > "$SERVE/bundle.txt"
    rel=$(sed -n 1p "$SERVE/bundle.txt")
    zstd -dc "$SERVE/$rel" | xz -6 -T0 > "$SERVE/bundle.tar.xz"
    touch "$SERVE/.done"
fi
REL=$(sed -n 1p "$SERVE/bundle.txt")
PIN=$(sed -n 2p "$SERVE/bundle.txt")

# nginx on a free loopback port, its own prefix, stopped on exit.
serve_dir "$RUN" "$SERVE"
cleanup() { kill "$NGINX" 2>/dev/null || true; }
trap cleanup EXIT
URL=http://127.0.0.1:$PORT/$REL
XZURL=http://127.0.0.1:$PORT/bundle.tar.xz

prepare() {
    sync
    if [ "${DROP_CACHES:-0}" = 1 ]; then echo 3 > /proc/sys/vm/drop_caches; fi
    cat "$SERVE/$REL" "$SERVE/bundle.tar.xz" > /dev/null   # the server's files are warm
}

declare -A T=([floor]='' [dcos]='' [host]='') C=([floor]='' [dcos]='' [host]='')
RSS=''
n=0
for _ in $(seq "$RUNS"); do
    for what in floor dcos host; do
        n=$((n + 1))
        dest=$EXTRACT/$what.$n
        mkdir -p "$dest"
        prepare
        case $what in
            floor) cmd="curl -s '$URL' | zstd -dc | tar -x -C '$dest' && sync -f '$dest'" ;;
            dcos) cmd="curl -s '$XZURL' | tar -xJf - -C '$dest' && sync -f '$dest'" ;;
            host) cmd="'$BIN/host-extract' --quiet --root '$dest' --url '$URL' --blake3 '$PIN' > /dev/null" ;;
        esac
        # %e elapsed, %U+%S CPU of the shell and all its children, %M peak
        # RSS of the largest child (host-extract itself in its case).
        /usr/bin/time -f '%e %U %S %M' -o "$RUN/time.$n" sh -c "$cmd"
        read -r e u s m < "$RUN/time.$n"
        T[$what]+="$e "
        C[$what]+="$(echo "$u + $s" | bc) "
        [ "$what" = host ] && RSS+="$m "
        mv "$dest" "$dest.old"   # aside, deleted at the end
    done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | grep . | sort -n | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
floor=$(echo "${T[floor]}" | median)
dcos=$(echo "${T[dcos]}" | median)
host=$(echo "${T[host]}" | median)
rss=$(echo "$RSS" | tr ' ' '\n' | grep . | sort -n | tail -1)

echo "host-extract benchmark: scale $SCALE, bundle $(stat -c %s "$SERVE/$REL") bytes (zstd -$LEVEL), xz $(stat -c %s "$SERVE/bundle.tar.xz") bytes, $RUNS runs"
echo "filesystem of the extractions: $(fs "$EXTRACT"); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-46s %8s %18s %8s\n' "" "elapsed" "(range)" "CPU"
for what in floor dcos host; do
    case $what in
        floor) label="curl | zstd -dc | tar -x && sync -f (floor)" ;;
        dcos) label="curl | tar -xJf && sync -f (DC/OS)" ;;
        host) label="host-extract (fetch+blake3+extract+verify)" ;;
    esac
    printf '%-46s %7ss %18s %7ss\n' "$label" "$(echo "${T[$what]}" | median)" "($(echo "${T[$what]}" | range))" "$(echo "${C[$what]}" | median)"
done
echo "host-extract / floor: $(echo "scale=2; $host / $floor" | bc)x elapsed, $(echo "scale=2; $(echo "${C[host]}" | median) / $(echo "${C[floor]}" | median)" | bc)x CPU   (target <= 1.0x; issue 3: <= 1.3x)"
echo "DC/OS path / host-extract: $(echo "scale=2; $dcos / $host" | bc)x elapsed   (target >= 5x)"
echo "host-extract peak RSS: $((rss / 1024)) MiB   (target < 64 MiB)"

rm -rf "$RUN" "$EXTRACT"
