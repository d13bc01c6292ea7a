#!/usr/bin/env bash
# ONE command for every performance comparison of issue 7 and the table of
# docs/architecture.md § Performance targets. Each figure is a ratio against a baseline
# measured in the same run, on the same tree and filesystem:
#   hash       tarmac tree hash (archive-bench hash) vs find | xargs b3sum;
#              blake3 of the bundle file on one thread (as host-extract
#              hashes a download) vs b3sum (all cores) and b3sum --num-threads 1
#   build      pkg-build --tree, nothing changed vs the full build (60 packages)
#   bundle     pkg-bundle (its default level and window) vs tar -c | zstd
#              with the same parameters (time and size); vs tar -cJf (xz -6,
#              DC/OS) at scale 0.1 and at the main scale (1 run each: xz
#              runs at ~2.7 MB/s here, about 10 minutes at scale 1)
#   extract    host-extract (download + blake3 + extract + tree hashes +
#              syncfs) from nginx on loopback vs curl | zstd -dc | tar -x &&
#              sync -f, and vs curl | tar -xJf && sync -f of tar -cJf's
#              output (DC/OS) at 0.1 and the main scale, all three in turn
#   tmpfs      at the main scale, into a tmpfs (no disk at all): host-extract
#              vs curl | zstd -dc | tar -x, and archive-bench extract with 1,
#              2 and 4 writer threads vs zstd -dc | tar -x, in turn; with the
#              cores kept busy ((user + sys) / wall, medians)
#   install    the whole host install, measured at 0.1 and the main scale:
#              host-extract + pkg-activate vs curl | tar -xJf + pkgpanda
#   activate   pkg-activate folded and --no-fold vs the symlink floor
#              (bench/symlink-floor.rs: same dirs and links, bare syscalls +
#              one syncfs); vs pkgpanda's Install.activate (DC/OS source from
#              the fetch mirror, a venv with its four dependencies)
#   switch     pkg-activate rollback (a switch to the previous generation)
#   growth     all of the above at every scale given (default 0.1 0.2 0.4,
#              i.e. 1x 2x 4x of a tenth of the tree) besides the main scale
#
# usage: bench/run.sh [--scale S] [--growth "S1 S2 ..."|none] [--runs N]
#                     [--work DIR] [--no-drop-caches] [--no-pkgpanda]
#   --scale   the main tree (default 1: 60 packages, 120k files, 1.5 GB)
#   --growth  further scales for the growth table (default "0.1 0.2 0.4")
#   --runs    timed runs of each command (default 3): medians and ranges
#   --work    where results, and trees and outputs, go (default target/bench-run)
#   --fs loop|host  loop (default when root): a journaled ext4 image
#             (sparse, 60 GB, mounted with a direct-io loop device) under WORK,
#             closer to a production host and immune to the slow-down after
#             mass deletes, so outputs are deleted as soon as they are timed;
#             host: WORK's own filesystem, old outputs moved aside and deleted
#             only after each scale. The filesystem is named with every figure.
# Needs: python3, nginx, curl, zstd, xz, b3sum, bc, rustc; root to drop the
# page cache before each extraction (else the cache stays warm, and the
# report says so). Results: WORK/results.tsv and a markdown table on stdout.
#
# Traps (bench/README.md): on the host's unjournaled ext4 nothing
# big is deleted right before a timing (see --fs); the page cache is dropped
# before each extraction. One tree exists at a time (a scale-1 tree and its
# outputs take about 10 GB).
set -euo pipefail

SCALE=1
GROWTH="0.1 0.2 0.4"
RUNS=3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
WORK=$ROOT/target/bench-run
DROP=1
PKGPANDA=1
FSMODE=loop
while [ $# -gt 0 ]; do
    case $1 in
        --scale) SCALE=$2; shift 2 ;;
        --growth) GROWTH=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --no-drop-caches) DROP=0; shift ;;
        --no-pkgpanda) PKGPANDA=0; shift ;;
        --fs) FSMODE=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$GROWTH" = none ] && GROWTH=""
GEN_TREE=${GEN_TREE:-$ROOT/bench/gen-tree.py}
# What pkg-bundle writes by default (WriteOptions: level 9, a 16 MiB
# window, long-distance matching): its baseline uses the same parameters.
ZSTD_PARAMS="-9 --long=24"
[ -f "$GEN_TREE" ] || { echo "run.sh: $GEN_TREE not found (set GEN_TREE)" >&2; exit 2; }
if [ "$(id -u)" != 0 ]; then
    [ "$DROP" = 1 ] && echo "run.sh: not root: the page cache is not dropped before extractions" >&2
    [ "$FSMODE" = loop ] && echo "run.sh: not root: no loop image, using WORK's filesystem" >&2
    DROP=0; FSMODE=host
fi
for tool in python3 nginx curl zstd xz b3sum bc rustc; do
    command -v "$tool" > /dev/null || [ -x "/usr/sbin/$tool" ] || { echo "run.sh: $tool is missing" >&2; exit 2; }
done

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
RESULTS=$WORK/results.tsv
LOG=$WORK/log.txt
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
: > "$RESULTS"
: > "$LOG"
say() { echo "$*" | tee -a "$LOG" >&2; }

say "building release binaries"
(cd "$ROOT" && cargo build --release -q --bin pkg-build --bin pkg-bundle --bin host-extract \
    --bin pkg-activate && cargo build --release -q -p tarmac-archive --example archive-bench)
BIN=$ROOT/target/release
BENCH=$BIN/examples/archive-bench
# The static build hosts run (scripts/test.sh builds it too): its libc
# (musl) has a slower allocator and byte-wise memcmp, so it is timed
# beside the glibc build in the tmpfs step.
STATIC_HX=""
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
    (cd "$ROOT" && cargo build --release -q --target x86_64-unknown-linux-musl --bin host-extract)
    STATIC_HX=$ROOT/target/x86_64-unknown-linux-musl/release/host-extract
else
    say "no x86_64-unknown-linux-musl target: the static host-extract is not timed"
fi
FLOOR=$WORK/symlink-floor
rustc -O --edition 2021 -o "$FLOOR" "$ROOT/bench/symlink-floor.rs"

# Where trees and outputs live (DATA), and how old outputs are disposed of.
DATA=$WORK/data
LOOPDEV=""
TMPFS=""
cleanup() {
    kill "${NGINX:-}" 2>/dev/null || true
    if [ -n "$TMPFS" ]; then umount "$TMPFS" 2>/dev/null || true; fi
    if [ -n "$LOOPDEV" ]; then
        umount "$DATA" 2>/dev/null || umount -l "$DATA" 2>/dev/null || true
        losetup -d "$LOOPDEV" 2>/dev/null || true
        rm -f "$WORK/ext4.img"
    fi
}
trap cleanup EXIT
if [ "$FSMODE" = loop ]; then
    [ -e "$WORK/ext4.img" ] && { echo "run.sh: $WORK/ext4.img exists (another run?)" >&2; exit 2; }
    truncate -s 60G "$WORK/ext4.img"
    mkfs.ext4 -q -F "$WORK/ext4.img"
    LOOPDEV=$(losetup --direct-io=on --find --show "$WORK/ext4.img")
    mkdir -p "$DATA"
    mount "$LOOPDEV" "$DATA"
    # A journaled ext4 does not slow down after mass deletes: outputs go at once.
    aside() { rm -rf "$@"; }
    FS="ext4, journaled, on a loop image (direct-io) in $(findmnt -n -o FSTYPE --target "$WORK") $(findmnt -n -o SOURCE --target "$WORK")"
else
    mkdir -p "$DATA/old"
    # Never delete right before a timing: moved aside, deleted after each scale.
    aside() { for p in "$@"; do [ -e "$p" ] && mv "$p" "$DATA/old/$(basename "$p").$RANDOM$RANDOM"; done; true; }
    FS="$(findmnt -n -o FSTYPE,SOURCE,OPTIONS --target "$DATA" | head -1 | cut -c1-60)"
fi
purge() { rm -rf "$DATA/old"; mkdir -p "$DATA/old"; if [ -n "$LOOPDEV" ]; then fstrim "$DATA" 2>/dev/null || true; fi; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | grep . | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3g", a / b; else print "n/a" }'; }

# Timings go to $WORK/t.<key>: one "wall rss_kib" line per run.
# timed KEY CMD...: one run of CMD (a shell string), appended to t.KEY.
# Wall time from the clock (/usr/bin/time's %e has 10 ms steps), peak RSS
# of the largest process and CPU seconds (user + sys, all processes of the
# command) from /usr/bin/time: "wall rss_kib cpu" per run.
timed() {
    local key=$1 cmd=$2 t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f '%M %U %S' -o "$WORK/time.tmp" bash -c "$cmd" > /dev/null 2>> "$LOG" || {
        say "FAILED: $cmd"
        return 1
    }
    t1=$(date +%s.%N)
    echo "$(echo "scale=3; ($t1 - $t0) / 1" | bc | sed 's/^\./0./') $(awk '{printf "%s %.2f", $1, $2 + $3}' "$WORK/time.tmp")" >> "$WORK/t.$key"
}
times_of() { [ -f "$WORK/t.$1" ] && cut -d' ' -f1 "$WORK/t.$1" | tr '\n' ' '; }
rss_of() { cut -d' ' -f2 "$WORK/t.$1" | sort -n | tail -1; }
# Cores kept busy: median over runs of cpu / wall.
busy_of() { awk '$3 != "" && $1 > 0 {print $3 / $1}' "$WORK/t.$1" | median | awk '{printf "%.2f", $1}'; }
fresh() { rm -f "$WORK/t.$1"; }
# record SCALE WHAT OURS_KEY BASE_NAME BASE_KEY NOTE: one result row.
record() {
    local scale=$1 what=$2 ours=$3 base=$4 bkey=$5 note=${6:-}
    local om or bm br r
    om=$(times_of "$ours" | median); or=$(times_of "$ours" | range)
    bm=$(times_of "$bkey" | median); br=$(times_of "$bkey" | range)
    r=$(ratio "$om" "$bm")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scale" "$what" "$om" "$or" "$base" "$bm" "$br" \
        "$r" "$FS" "$note" >> "$RESULTS"
    say "$(printf 'scale %-4s %-34s %8ss (%s)  vs %-32s %8ss (%s)  = %sx  %s' "$scale" "$what" "$om" "$or" \
        "$base" "$bm" "$br" "$r" "$note")"
}
settle() { sync; if [ "$DROP" = 1 ]; then echo 3 > /proc/sys/vm/drop_caches; fi; }

# nginx on a free loopback port serving $DATA/serve, stopped on exit.
mkdir -p "$DATA/serve"
serve_dir "$WORK" "$DATA/serve"

# pkgpanda: DC/OS's source (DCOS_SRC) and a venv.
PANDA_SRC=$WORK/dcos-src
PANDA_PY=$WORK/venv/bin/python
if [ "$PKGPANDA" = 1 ]; then
    # DC/OS's source is a baseline, never part of this repository: a
    # checkout or git dir named by DCOS_SRC (e.g. a clone of dcos/dcos).
    dcos_git=${DCOS_SRC:-}
    if [ ! -d "$PANDA_SRC/pkgpanda" ] && [ -d "$dcos_git" ]; then
        mkdir -p "$PANDA_SRC"
        if [ -d "$dcos_git/pkgpanda" ]; then cp -r "$dcos_git/pkgpanda" "$PANDA_SRC/"
        else git -C "$dcos_git" archive HEAD pkgpanda | tar -x -C "$PANDA_SRC"; fi
    fi
    if [ ! -x "$PANDA_PY" ]; then
        { python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q requests retrying \
            teamcity-messages pyyaml; } >> "$LOG" 2>&1 || say "no venv for pkgpanda"
    fi
    if [ ! -d "$PANDA_SRC/pkgpanda" ] || [ ! -x "$PANDA_PY" ]; then
        say "pkgpanda baseline skipped (no DC/OS source in DCOS_SRC, or no venv)"
        PKGPANDA=0
    fi
fi

# The package tree pkg-build builds from the generated tree: one source
# tarball per package and a build script that copies it into place.

pkgpanda_activate() { # ROOT PACKAGES CONFIG IDS...: prints seconds
    PYTHONPATH="$PANDA_SRC" "$PANDA_PY" - "$@" <<'PY'
import collections, collections.abc, sys, time
collections.Iterable = collections.abc.Iterable  # pkgpanda predates Python 3.10
from pkgpanda import Install, Repository
root, repo, config, ids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
install = Install(root, config, True, False, False, skip_systemd_dirs=False)
packages = Repository(repo).load_packages(ids)
t0 = time.monotonic()
install.activate(packages)
print(time.monotonic() - t0)
PY
}

# Extraction into a tmpfs (no disk at all: what is left is CPU), in turn:
# host-extract from nginx vs curl | zstd -dc | tar -x, and archive-bench
# extract with 1, 2 and 4 writer threads vs zstd -dc | tar -x of the same
# file. Outputs are removed right after each run (free on a tmpfs).
tmpfs_extract() { # SCALE BUNDLE URL PIN
    local s=$1 bundle=$2 url=$3 pin=$4 t=$WORK/tmpfs i w k
    mkdir -p "$t"
    mount -t tmpfs -o size=8g tmpfs "$t"
    TMPFS=$t
    say "== scale $s: extraction into a tmpfs"
    for k in host static floor b1 b2 b4 plain; do fresh "tmpfs_$k.$s"; done
    for i in $(seq "$RUNS"); do
        cat "$bundle" > /dev/null
        timed "tmpfs_host.$s" "'$BIN/host-extract' --quiet --root '$t/h' --url '$url' --blake3 '$pin'"
        rm -rf "$t/h"
        if [ -n "$STATIC_HX" ]; then
            timed "tmpfs_static.$s" "'$STATIC_HX' --quiet --root '$t/h' --url '$url' --blake3 '$pin'"
            rm -rf "$t/h"
        fi
        timed "tmpfs_floor.$s" "mkdir '$t/f' && curl -s '$url' | zstd -dc | tar -x -C '$t/f'"
        rm -rf "$t/f"
        for w in 1 2 4; do
            timed "tmpfs_b$w.$s" "'$BENCH' extract '$bundle' '$t/b' $w"
            rm -rf "$t/b"
        done
        timed "tmpfs_plain.$s" "mkdir '$t/p' && zstd -dc '$bundle' | tar -x -C '$t/p'"
        rm -rf "$t/p"
    done
    umount "$t"
    TMPFS=""
    record "$s" "tmpfs: host-extract (fetch+b3+extract)" "tmpfs_host.$s" "tmpfs: curl|zstd -dc|tar -x" \
        "tmpfs_floor.$s" "cores busy $(busy_of "tmpfs_host.$s") vs $(busy_of "tmpfs_floor.$s"); peak RSS $(( $(rss_of "tmpfs_host.$s") / 1024 )) MiB; target <= 0.65x, >= 1.7 cores busy"
    if [ -n "$STATIC_HX" ]; then
        record "$s" "tmpfs: host-extract, static musl build (what hosts run)" "tmpfs_static.$s" "tmpfs: curl|zstd -dc|tar -x" \
            "tmpfs_floor.$s" "cores busy $(busy_of "tmpfs_static.$s") vs $(busy_of "tmpfs_floor.$s"); peak RSS $(( $(rss_of "tmpfs_static.$s") / 1024 )) MiB"
    fi
    for w in 1 2 4; do
        record "$s" "tmpfs: archive-bench extract, $w writer(s)" "tmpfs_b$w.$s" "tmpfs: zstd -dc|tar -x" \
            "tmpfs_plain.$s" "cores busy $(busy_of "tmpfs_b$w.$s") vs $(busy_of "tmpfs_plain.$s"); peak RSS $(( $(rss_of "tmpfs_b$w.$s") / 1024 )) MiB"
    done
}

run_scale() { # SCALE
    local s=$1 d=$DATA/s$1 tree pkgs repo ids i n rel pin url dest t
    aside "$d"
    mkdir -p "$d"
    tree=$d/tree; pkgs=$d/pkgs; repo=$d/repo
    say "== scale $s: generating the tree"
    python3 "$GEN_TREE" "$tree" --scale "$s" --seed 1 --jobs 2 >> "$LOG" 2>&1
    local files bytes
    files=$(find "$tree/packages" -type f | wc -l)
    bytes=$(du -sb "$tree/packages" | cut -f1)
    printf 'tree\t%s\t%s\t%s\n' "$s" "$files" "$bytes" >> "$WORK/trees.tsv"

    say "== scale $s: hashing"
    for k in tree_hash b3sum_tree; do fresh "$k.$s"; done
    cat "$(find "$tree/packages" -type f | head -1)" > /dev/null
    tar -C "$tree" -cf - packages > /dev/null   # warm for both
    for i in $(seq "$RUNS"); do
        timed "tree_hash.$s" "'$BENCH' hash '$tree/packages'"
        timed "b3sum_tree.$s" "cd '$tree/packages' && find . -type f -print0 | xargs -0 b3sum"
    done
    record "$s" "tree hash (archive-bench hash)" "tree_hash.$s" "find|xargs b3sum" "b3sum_tree.$s" "warm cache"

    say "== scale $s: pkg-build (full, then nothing changed)"
    make_pkgs "$tree" "$d/src" "$pkgs"
    fresh "build_full.$s"; fresh "build_noop.$s"
    sync
    timed "build_full.$s" "'$BIN/pkg-build' -q --packages '$pkgs' --repo '$repo' --cache '$d/cache' --tree --level 1 -j 2 > '$d/ids'"
    for i in $(seq "$RUNS"); do
        timed "build_noop.$s" "'$BIN/pkg-build' -q --packages '$pkgs' --repo '$repo' --cache '$d/cache' --tree"
    done
    record "$s" "pkg-build --tree, nothing changed" "build_noop.$s" "pkg-build --tree, full (1 run)" "build_full.$s" \
        "$(wc -l < "$d/ids") packages; target < 1 s"

    say "== scale $s: bundling"
    fresh "bundle.$s"; fresh "tar_zstd.$s"
    cat "$repo"/packages/*/*.tar.zst > /dev/null
    for i in $(seq "$RUNS"); do
        aside "$d/dist" "$d/tar.zst"
        sync
        timed "bundle.$s" "'$BIN/pkg-bundle' -q --repo '$repo' --out '$d/dist' --ids-from '$d/ids'"
        sync
        timed "tar_zstd.$s" "tar -C '$tree' -cf - packages | zstd -q $ZSTD_PARAMS -T0 -o '$d/tar.zst' && sync -f '$d/tar.zst'"
    done
    local bsize zsize
    bsize=$(stat -c %s "$d"/dist/bootstrap/*.bootstrap.tar.zst)
    zsize=$(stat -c %s "$d/tar.zst")
    record "$s" "pkg-bundle (default: $ZSTD_PARAMS)" "bundle.$s" "tar -c | zstd $ZSTD_PARAMS -T0 && sync -f" "tar_zstd.$s" \
        "size $bsize vs $zsize bytes ($(ratio "$bsize" "$zsize")x); target <= 1.0x, size within 2%"
    printf 'size\t%s\t%s\t%s\n' "$s" "$bsize" "$zsize" >> "$WORK/sizes.tsv"

    rel=$(cd "$d/dist" && ls bootstrap/*.bootstrap.tar.zst)
    fresh "b3_one.$s"; fresh "b3sum_file.$s"; fresh "b3sum_1.$s"
    cat "$d/dist/$rel" > /dev/null
    for i in $(seq "$RUNS"); do
        timed "b3_one.$s" "'$BENCH' b3 '$d/dist/$rel'"
        timed "b3sum_file.$s" "b3sum '$d/dist/$rel'"
        timed "b3sum_1.$s" "b3sum --num-threads 1 '$d/dist/$rel'"
    done
    record "$s" "bundle blake3, 1 thread (as fetched)" "b3_one.$s" "b3sum (all cores, mmap)" "b3sum_file.$s" "warm cache"
    record "$s" "bundle blake3, 1 thread (as fetched)" "b3_one.$s" "b3sum --num-threads 1" "b3sum_1.$s" "warm cache"

    local with_xz=0
    { [ "$s" = 0.1 ] || [ "$s" = "$SCALE" ]; } && with_xz=1
    if [ "$with_xz" = 1 ]; then
        say "== scale $s: tar -cJf (xz -6, what DC/OS used; 1 run)"
        fresh "tar_xz.$s"
        sync
        timed "tar_xz.$s" "tar -C '$tree' -cJf '$d/tar.xz' packages && sync -f '$d/tar.xz'"
        record "$s" "pkg-bundle (default: $ZSTD_PARAMS)" "bundle.$s" "tar -cJf (xz -6), 1 run" "tar_xz.$s" \
            "size $bsize vs $(stat -c %s "$d/tar.xz") bytes ($(ratio "$bsize" "$(stat -c %s "$d/tar.xz")")x); target <= 0.04x (25x faster), size <= 1.1x"
        printf 'xz\t%s\t%s\n' "$s" "$(stat -c %s "$d/tar.xz")" >> "$WORK/sizes.tsv"
    fi

    say "== scale $s: host-extract from nginx on loopback"
    aside "$DATA/serve/s$s"
    mkdir -p "$DATA/serve/s$s"
    ln "$d/dist/$rel" "$DATA/serve/s$s/bundle.tar.zst"
    pin=$(b3sum --no-names "$d/dist/$rel")
    url=http://127.0.0.1:$PORT/s$s/bundle.tar.zst
    # DC/OS's path downloads the tar -cJf output made above (same tree).
    if [ "$with_xz" = 1 ]; then mv "$d/tar.xz" "$DATA/serve/s$s/bundle.tar.xz"; fi
    for k in extract_floor extract_host extract_dcos; do fresh "$k.$s"; done
    n=0
    for i in $(seq "$RUNS"); do
        for what in floor host dcos; do
            [ "$what" = dcos ] && [ "$with_xz" != 1 ] && continue
            n=$((n + 1))
            dest=$d/x.$what.$n
            mkdir -p "$dest"
            settle
            cat "$DATA/serve/s$s"/* > /dev/null   # the server's file is warm
            case $what in
                floor) timed "extract_floor.$s" "curl -s '$url' | zstd -dc | tar -x -C '$dest' && sync -f '$dest'" ;;
                host) timed "extract_host.$s" "'$BIN/host-extract' --quiet --root '$dest' --url '$url' --blake3 '$pin'" ;;
                dcos) timed "extract_dcos.$s" "curl -s '${url%.zst}.xz' | tar -xJf - -C '$dest' && sync -f '$dest'" ;;
            esac
            aside "$dest"
        done
    done
    local cache=warm; [ "$DROP" = 1 ] && cache="page cache dropped before each run"
    record "$s" "host-extract (fetch+b3+extract+syncfs)" "extract_host.$s" "curl|zstd -dc|tar -x && sync -f" \
        "extract_floor.$s" "$cache; peak RSS $(( $(rss_of "extract_host.$s") / 1024 )) MiB; cores busy $(busy_of "extract_host.$s") vs $(busy_of "extract_floor.$s"); target <= 0.7x"
    if [ "$with_xz" = 1 ]; then
        record "$s" "host-extract (fetch+b3+extract+syncfs)" "extract_host.$s" "curl|tar -xJf && sync -f (DC/OS)" \
            "extract_dcos.$s" "$cache"
    fi

    if [ "$s" = "$SCALE" ] && [ "$(id -u)" = 0 ]; then
        tmpfs_extract "$s" "$d/dist/$rel" "$url" "$pin"
    fi

    say "== scale $s: pkg-activate"
    ids=()
    for i in "$tree"/packages/*--*; do ids+=("$(basename "$i")"); done
    mkdir -p "$d/config/roles" "$d/systemd" "$d/state" "$d/users/etc" "$d/floor" "$d/panda"
    touch "$d/config/roles/master" "$d/users/etc/"{passwd,group,shadow,gshadow}
    local act="'$BIN/pkg-activate' --root '$tree' --config-dir '$d/config' --systemd-dir '$d/systemd' --state-dir-root '$d/state' --user-db-root '$d/users' --no-systemd"
    local mode flags gen
    for mode in fold nofold; do
        flags=""; [ "$mode" = nofold ] && flags=--no-fold
        fresh "act_$mode.$s"; fresh "floor_$mode.$s"
        bash -c "$act $flags activate --keep 1000 ${ids[*]}" > /dev/null   # warm-up: users, page cache
        for i in $(seq "$RUNS"); do
            sync
            timed "act_$mode.$s" "$act $flags activate --keep 1000 ${ids[*]}"
        done
        gen=$(readlink "$tree/current")
        (cd "$tree/$gen" && find bin etc include lib dcos.target.wants active -mindepth 0 \
            \( -type d -printf 'D\t%p\n' \) -o \( -type l -printf 'L\t%l\t%p\n' \)) > "$d/entries-$mode" 2>/dev/null || true
        for i in $(seq "$RUNS"); do
            sync
            timed "floor_$mode.$s" "'$FLOOR' '$d/entries-$mode' '$d/floor/$mode-$i'"
        done
        local links
        links=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['links'])" "$tree/$gen/generation.json")
        local target="target <= 1.2x"; [ "$mode" = fold ] && target="(the floor of the folded farm)"
        record "$s" "pkg-activate ${flags:-(folded)}" "act_$mode.$s" "symlink floor, same $mode farm" "floor_$mode.$s" \
            "$links links; peak RSS $(( $(rss_of "act_$mode.$s") / 1024 )) MiB; $target"
    done
    fresh "rollback.$s"; fresh "rollback_noop.$s"
    for i in $(seq "$RUNS"); do
        sync
        timed "rollback.$s" "$act rollback"
    done
    for i in $(seq "$RUNS"); do
        timed "rollback_noop.$s" "$act active"
    done
    record "$s" "pkg-activate rollback (switch)" "rollback.$s" "pkg-activate active (start-up)" "rollback_noop.$s" \
        "target: independent of tree size (compare scales)"

    if [ "$PKGPANDA" = 1 ]; then
        fresh "pkgpanda.$s"
        for i in $(seq "$RUNS"); do
            local proot=$d/panda/root-$i
            mkdir -p "$proot"
            ln -s "$tree/packages" "$proot/packages"
            sync
            if t=$(pkgpanda_activate "$proot" "$tree/packages" "$d/config" "${ids[@]}" 2>> "$LOG"); then
                printf '%.3f 0\n' "$t" >> "$WORK/t.pkgpanda.$s"
            else
                say "pkgpanda failed (see $LOG)"; break
            fi
        done
        if [ -s "$WORK/t.pkgpanda.$s" ]; then
            record "$s" "pkg-activate (folded)" "act_fold.$s" "pkgpanda Install.activate" "pkgpanda.$s" \
                "pkgpanda timed in-process (no interpreter start-up); target <= 0.067x (15x faster)"
            record "$s" "pkg-activate --no-fold" "act_nofold.$s" "pkgpanda Install.activate" "pkgpanda.$s" ""
            if [ "$with_xz" = 1 ]; then
                # The whole host install from its parts (medians): ours is
                # host-extract + folded pkg-activate; DC/OS's is curl | tar
                # -xJf + pkgpanda's activate.
                local a b
                a=$(echo "$(times_of "extract_host.$s" | median) + $(times_of "act_fold.$s" | median)" | bc | sed 's/^\./0./')
                b=$(echo "$(times_of "extract_dcos.$s" | median) + $(times_of "pkgpanda.$s" | median)" | bc | sed 's/^\./0./')
                echo "$a 0" > "$WORK/t.install_ours.$s"; echo "$b 0" > "$WORK/t.install_dcos.$s"
                record "$s" "whole install: host-extract + pkg-activate" "install_ours.$s" \
                    "curl|tar -xJf + pkgpanda activate" "install_dcos.$s" "sums of the medians above, measured at this scale; target <= 0.25x (4x faster)"
            fi
        fi
    fi
    say "== scale $s done; moving its outputs aside"
    aside "$d"
}

say "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $FS; started $STARTED"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$WORK/trees.tsv"; : > "$WORK/sizes.tsv"
for s in $GROWTH $SCALE; do
    run_scale "$s"
    say "load average after scale $s: $(cut -d' ' -f1-3 /proc/loadavg)"
    # Outputs of finished scales go; not right before a timing of the same
    # tree, and the next scale starts by generating (untimed).
    rm -rf "$DATA/serve"; purge
done

# Summary: markdown tables on stdout.
{
    echo "## bench/run.sh results"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -r); filesystem: $FS."
    echo "Started $STARTED, finished $(date -u '+%H:%M UTC'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Command: bench/run.sh --scale $SCALE --growth \"${GROWTH:-none}\" --runs $RUNS"
    echo
    echo "| scale | tarmac | median s (range) | baseline | median s (range) | ratio | notes |"
    echo "|---|---|---|---|---|---|---|"
    awk -F'\t' '{for (i = 1; i <= NF; i++) gsub(/\|/, "\\|", $i); printf "| %s | %s | %s (%s) | %s | %s (%s) | %sx | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $10}' "$RESULTS"
    echo
    echo "Growth (median seconds by scale):"
    echo
    python3 - "$RESULTS" "$WORK/trees.tsv" <<'PY'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
trees = {l.split("\t")[1]: l.split("\t")[2:] for l in open(sys.argv[2])}
scales = sorted({r[0] for r in rows}, key=float)
series = collections.OrderedDict()
for r in rows:
    series.setdefault(r[1], {})[r[0]] = r[2]
    series.setdefault(r[4], {})[r[0]] = r[5]
print("| what | " + " | ".join(f"scale {s} ({trees.get(s, ['?'])[0]} files)" for s in scales) + " | last/first |")
print("|---|" + "---|" * (len(scales) + 1))
for what, by in series.items():
    vals = [by.get(s, "") for s in scales]
    have = [float(v) for v in vals if v]
    growth = f"{have[-1] / have[0]:.2f}x" if len(have) > 1 and have[0] > 0 else ""
    print(f"| {what.replace('|', chr(92) + '|')} | " + " | ".join(vals) + f" | {growth} |")
PY
} | tee "$WORK/summary.md"
rm -rf "$DATA/old" "$DATA"/s*
