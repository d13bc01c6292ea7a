#!/usr/bin/env bash
# The archive library against the command-line tools doing the same work,
# on the synthetic tree of bench/gen-tree.py (one package dir per
# generated package, packed as one tree):
#   pack     tarmac writer (tar + tree hash + zstd -L, MT)  vs  tar -c | zstd -L -T0
#   extract  tarmac strict extractor (+ tree hash)          vs  zstd -dc | tar -x
#   hash     tarmac tree_hash                                vs  find -type f | b3sum
# A benchmark, not a test: ratios are measured in one run, on one machine.
# Extract outputs are moved aside, never deleted right before a timing
# (ext4 slows after mass deletes, bench/README.md).
#
# usage: bench/archive.sh [SCALE]     (default 0.1)
# env:   LEVEL (9), RUNS (3), WORK (target/bench-archive), GEN_TREE
set -euo pipefail

SCALE=${1:-0.1}
LEVEL=${LEVEL:-9}
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$ROOT/target/bench-archive}
GEN_TREE=${GEN_TREE:-$ROOT/bench/gen-tree.py}

(cd "$ROOT" && cargo build --release -q -p tarmac-archive --example archive-bench)
BENCH=$ROOT/target/release/examples/archive-bench
mkdir -p "$WORK"
TREE=$WORK/tree-$SCALE
[ -d "$TREE" ] || python3 "$GEN_TREE" "$TREE" --scale "$SCALE" --seed 1 >/dev/null
SRC=$TREE/packages
RUN=$WORK/run.$$
mkdir -p "$RUN"

# median of RUNS timings of a command, in seconds
time_it() {
    local times=() i start end
    for i in $(seq "$RUNS"); do
        start=$(date +%s.%N)
        "$@" "$i" >/dev/null
        end=$(date +%s.%N)
        times+=("$(echo "$end - $start" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

ours_pack() { "$BENCH" pack "$SRC" "$RUN/ours-$1.tar.zst" "$LEVEL"; }
tool_pack() { tar -C "$SRC" -cf - . | zstd -q -"$LEVEL" -T0 -o "$RUN/tool-$1.tar.zst"; }
ours_extract() { "$BENCH" extract "$RUN/ours-1.tar.zst" "$RUN/x-ours-$1"; }
tool_extract() { mkdir "$RUN/x-tool-$1" && zstd -dc "$RUN/ours-1.tar.zst" | tar -x -C "$RUN/x-tool-$1"; }
ours_hash() { "$BENCH" hash "$SRC"; }
tool_hash() { (cd "$SRC" && find . -type f -print0 | xargs -0 b3sum); }

echo "tree: $SRC ($(du -sh "$SRC" | cut -f1), $(find "$SRC" | wc -l) entries), level $LEVEL, runs $RUNS"
echo "filesystem: $(df -T "$RUN" | awk 'NR==2 {print $2}')"
printf '%-8s %10s %10s %7s\n' what tarmac tools ratio
for what in pack extract hash; do
    ours=$(time_it "ours_$what")
    tool=$(time_it "tool_$what")
    printf '%-8s %9.2fs %9.2fs %6.2fx\n' "$what" "$ours" "$tool" "$(echo "$ours / $tool" | bc -l)"
done
printf 'size     %10s %10s\n' "$(stat -c %s "$RUN/ours-1.tar.zst")" "$(stat -c %s "$RUN/tool-1.tar.zst")"
echo "outputs left in $RUN (delete when no benchmark is running)"
