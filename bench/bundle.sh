#!/usr/bin/env bash
# pkg-bundle against what DC/OS did (`tar -cJf`, xz -6) and against
# `tar -c | zstd -L -T0` at the same level, on the synthetic tree of
# bench/gen-tree.py; plus the no-op `pkg-build --tree` over it.
# A benchmark, not a test: ratios are measured in one run, on one machine.
#
# usage: bench/bundle.sh [SCALE]        (default 0.1; 1 = 60 packages, 1.5 GB)
# env:   LEVEL (9), WORK (target/bench-bundle), XZ=1 to also run xz at scale > 0.1,
#        XZ=0 to skip it at scale 0.1
#        GEN_TREE (path of gen-tree.py)
#
# The setup turns each generated package directory into a source tarball and
# a package tree whose build scripts unpack it, then builds that tree with
# pkg-build (archives at level 1: the bundle recompresses anyway). Nothing big
# is deleted right before a timing (ext4 slows after mass deletes: see
# bench/README.md); old outputs are moved aside.
# T_<name>/C_<name> are assigned by measure() through printf -v.
# shellcheck disable=SC2154
set -euo pipefail

SCALE=${1:-0.1}
LEVEL=${LEVEL:-9}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$ROOT/target/bench-bundle}
GEN_TREE=${GEN_TREE:-$ROOT/bench/gen-tree.py}

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
TREE=$WORK/tree-$SCALE
SRC=$WORK/src-$SCALE
PKGS=$WORK/pkgs-$SCALE
REPO=$WORK/repo-$SCALE
RUN=$WORK/run-$SCALE.$$

(cd "$ROOT" && cargo build --release -q --bin pkg-build --bin pkg-bundle)
BIN=$ROOT/target/release

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }
# measure NAME CMD...: runs CMD under /usr/bin/time; sets T_<NAME> (wall s)
# and C_<NAME> (user+sys CPU s). CPU time is the fairer figure when other
# work shares the cores (say which one you quote).
measure() {
    local name=$1
    shift
    /usr/bin/time -f "%e %U %S" -o "$RUN/time.$name" "$@" > "$RUN/out.$name"
    read -r wall user sys < "$RUN/time.$name"
    printf -v "T_$name" '%s' "$wall"
    printf -v "C_$name" '%s' "$(echo "$user + $sys" | bc)"
}
size() { stat -c %s "$1"; }
fs() { findmnt -n -o FSTYPE,OPTIONS --target "$1" | cut -c1-60; }

if [ ! -d "$TREE/packages" ]; then
    echo "generating the tree (scale $SCALE) in $TREE" >&2
    python3 "$GEN_TREE" "$TREE" --scale "$SCALE" --jobs 2 >&2
fi

if [ ! -f "$PKGS/.done" ]; then
    echo "making source tarballs and a package tree" >&2
    mkdir -p "$SRC" "$PKGS"
    for dir in "$TREE"/packages/*; do
        id=$(basename "$dir")
        [ -f "$SRC/$id.tar" ] || tar -C "$TREE/packages" --exclude "$id/pkginfo.json" \
            --exclude "$id/buildinfo.full.json" -cf "$SRC/$id.tar" "$id"
    done
    python3 "$ROOT/bench/tree-to-packages.py" "$TREE/packages" "$SRC" "$PKGS"
    touch "$PKGS/.done"
fi

if [ ! -f "$REPO/.done" ]; then
    echo "building the package tree (pkg-build, level 1)" >&2
    start=$(now)
    "$BIN/pkg-build" -q --packages "$PKGS" --repo "$REPO" --cache "$WORK/cache-$SCALE" \
        --tree --level 1 -j 2 > "$WORK/ids-$SCALE"
    echo "setup build: $(elapsed "$start" "$(now)") s" >&2
    touch "$REPO/.done"
fi
count=$(wc -l < "$WORK/ids-$SCALE")
bytes=$(du -sb "$TREE/packages" | cut -f1)

mkdir -p "$RUN"
# Warm the page cache for everyone alike.
cat "$REPO"/packages/*/*.tar.zst > /dev/null
tar -C "$TREE" -cf - packages > /dev/null

echo
echo "tree: scale $SCALE, $count packages, $bytes bytes; level $LEVEL; $(nproc) cores"
echo "filesystem of $WORK: $(fs "$WORK")"
echo

measure noop "$BIN/pkg-build" -q --packages "$PKGS" --repo "$REPO" --cache "$WORK/cache-$SCALE" --tree
printf '%-34s %9.2f %9.2f   (%d packages, all cached)\n' "pkg-build --tree, nothing changed" \
    "$T_noop" "$C_noop" "$count"

echo "load average before timing: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %9s %9s %12s\n' "" "wall s" "cpu s" "bytes"
measure bundle "$BIN/pkg-bundle" -q --repo "$REPO" --out "$RUN/dist" --level "$LEVEL" \
    --ids-from "$WORK/ids-$SCALE" --json
s_bundle=$(size "$RUN/dist/bootstrap/"*.bootstrap.tar.zst)
measure zstd sh -c "tar -C '$TREE' -cf - packages | zstd -q -$LEVEL -T0 -o '$RUN/tar.zst'"
s_zstd=$(size "$RUN/tar.zst")

printf '%-34s %9.2f %9.2f %12d\n' "pkg-bundle --level $LEVEL" "$T_bundle" "$C_bundle" "$s_bundle"
printf '%-34s %9.2f %9.2f %12d\n' "tar -c | zstd -$LEVEL -T0" "$T_zstd" "$C_zstd" "$s_zstd"
printf '%-34s %9.2f %9.2f %12.3f\n' "ratio pkg-bundle / tar|zstd" \
    "$(echo "$T_bundle / $T_zstd" | bc -l)" "$(echo "$C_bundle / $C_zstd" | bc -l)" \
    "$(echo "$s_bundle / $s_zstd" | bc -l)"

if [ "${XZ:-}" = 1 ] || { [ "${XZ:-}" != 0 ] && [ "$(echo "$SCALE <= 0.1" | bc)" = 1 ]; }; then
    measure xz tar -C "$TREE" -cJf "$RUN/tar.xz" packages
    s_xz=$(size "$RUN/tar.xz")
    printf '%-34s %9.2f %9.2f %12d\n' "tar -cJf (xz -6, DC/OS)" "$T_xz" "$C_xz" "$s_xz"
    printf '%-34s %9.2f %9.2f %12.3f\n' "ratio xz / pkg-bundle (size: ours/xz)" \
        "$(echo "$T_xz / $T_bundle" | bc -l)" "$(echo "$C_xz / $C_bundle" | bc -l)" \
        "$(echo "$s_bundle / $s_xz" | bc -l)"
else
    echo "tar -cJf skipped (about 2.7 MB/s here; XZ=1 runs it)"
fi
echo "outputs in $RUN (move aside or delete later, not before a timing)"
