#!/usr/bin/env bash
# Benchmark of pkg-activate (not a test). Generates the synthetic DC/OS-like
# tree (bench/gen-tree.py, scale 1 by default) once, then times,
# in the same run and on the same filesystem:
#   - pkg-activate, folded (default) and --no-fold, release build;
#   - a floor program making the same directories and symlinks (same
#     targets) with bare mkdir/symlink calls plus one syncfs;
#   - pkgpanda's Install.activate on the same packages, when it can be run
#     (needs a venv with requests, retrying, teamcity-messages, pyyaml).
# Prints medians of RUNS runs and the ratios. Old trees are moved aside, not
# deleted, before timing (ext4 slows down after mass deletes: see
# bench/README.md); everything but the generated packages is
# deleted at the end. Space: symlink targets longer than 59 bytes take a
# 4 KiB block each on ext4, so every per-file farm of the scale-1 tree is
# about 420 MB: have about 7 GB free (1.5 GB tree + 11 per-file farms).
#
# Usage: bench/activate.sh [WORK_DIR]   (env: SCALE=1 RUNS=3 DCOS_SRC=<dcos checkout or git dir>)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$here/target/bench-activate}
scale=${SCALE:-1}
runs=${RUNS:-3}
gen_tree=${GEN_TREE:-$here/bench/gen-tree.py}
mkdir -p "$work"
tree="$work/tree-s$scale"
old="$work/old"
mkdir -p "$old"

if [ ! -d "$tree/packages" ]; then
  echo "generating scale $scale tree in $tree" >&2
  python3 "$gen_tree" "$tree" --scale "$scale" --seed 1 >&2
fi
# Earlier runs' generations and floors go aside (deleted at the end).
stamp=$(date +%s)
for d in "$tree/generations" "$work/floor" "$work/pkgpanda"; do
  [ -e "$d" ] && mv "$d" "$old/$(basename "$d").$stamp.$$"
done
rm -f "$tree/current" "$tree"/{bin,lib,etc,include,active,environment,environment.export,active.buildinfo.full.json}
mkdir -p "$work/floor" "$work/pkgpanda" "$work/config/roles" "$work/systemd" "$work/state" "$work/users/etc"
touch "$work/config/roles/master" "$work/users/etc/"{passwd,group,shadow,gshadow}

(cd "$here" && cargo build --release --quiet --bin pkg-activate)
bin="$here/target/release/pkg-activate"
floor="$work/symlink-floor"
rustc -O --edition 2021 -o "$floor" "$here/bench/symlink-floor.rs"

ids=()
for p in "$tree"/packages/*--*; do ids+=("$(basename "$p")"); done
fs=$(stat -f -c %T "$tree")
dev=$(df --output=source "$tree" | tail -1)
echo "tree: $tree (${#ids[@]} packages), filesystem: $fs on $dev, runs: $runs"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

activate() { # $@: extra flags
  "$bin" --root "$tree" --config-dir "$work/config" --systemd-dir "$work/systemd" \
    --state-dir-root "$work/state" --user-db-root "$work/users" --no-systemd \
    "$@" activate --keep 1000 "${ids[@]}" >/dev/null
}

entries() { # $1: generation dir -> entry list for the floor
  (cd "$1" && find bin etc include lib dcos.target.wants active -mindepth 0 \
    \( -type d -printf 'D\t%p\n' \) -o \( -type l -printf 'L\t%l\t%p\n' \))
}

declare -A median_of links_of
for mode in fold no-fold; do
  flags=(); [ "$mode" = no-fold ] && flags=(--no-fold)
  activate "${flags[@]}"   # warm-up: page cache, users
  times=()
  for i in $(seq "$runs"); do
    sync
    t0=$(now); activate "${flags[@]}"; t1=$(now)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  n=$(readlink "$tree/current")
  links_of[$mode]=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['links'])" "$tree/$n/generation.json")
  median_of[$mode]=$(printf '%s\n' "${times[@]}" | median)
  entries "$tree/$n" > "$work/entries-$mode"
  ftimes=()
  for i in $(seq "$runs"); do
    sync
    t0=$(now); "$floor" "$work/entries-$mode" "$work/floor/$mode-$i" >/dev/null; t1=$(now)
    ftimes+=("$(echo "$t1 - $t0" | bc -l)")
  done
  median_of[floor-$mode]=$(printf '%s\n' "${ftimes[@]}" | median)
  printf '%-8s pkg-activate %.3f s (runs: %s)  floor %.3f s (runs: %s)  links %s  ratio %.2fx\n' \
    "$mode" "${median_of[$mode]}" "${times[*]}" "${median_of[floor-$mode]}" "${ftimes[*]}" \
    "${links_of[$mode]}" "$(echo "${median_of[$mode]} / ${median_of[floor-$mode]}" | bc -l)"
done

# Peak memory of one folded activation.
/usr/bin/time -f 'peak RSS %M KiB (folded activation)' "$bin" --root "$tree" --config-dir "$work/config" \
  --systemd-dir "$work/systemd" --state-dir-root "$work/state" --user-db-root "$work/users" \
  --no-systemd activate --keep 1000 "${ids[@]}" >/dev/null

# pkgpanda baseline, if it can run here.
dcos_src=${DCOS_SRC:-}
venv="$work/venv"
if [ -n "$dcos_src" ] && [ -d "$dcos_src" ]; then
  if [ ! -x "$venv/bin/python" ]; then
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q requests retrying teamcity-messages pyyaml >&2; }; then
      echo "could not set up a venv for pkgpanda; baseline skipped" >&2
      rm -rf "$venv"
    fi
  fi
  src="$work/dcos-src"
  if [ ! -d "$src/pkgpanda" ]; then
    mkdir -p "$src"
    if [ -d "$dcos_src/pkgpanda" ]; then cp -r "$dcos_src/pkgpanda" "$src/"
    else git -C "$dcos_src" archive HEAD pkgpanda | tar -x -C "$src"; fi
  fi
  if [ -x "$venv/bin/python" ]; then
    ptimes=()
    for i in $(seq "$runs"); do
      root="$work/pkgpanda/root-$i"
      mkdir -p "$root"
      ln -s "$tree/packages" "$root/packages"
      sync
      t=$(PYTHONPATH="$src" "$venv/bin/python" - "$root" "$tree/packages" "$work/config" "${ids[@]}" <<'PY'
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
) || { echo "pkgpanda baseline failed; skipped"; ptimes=(); break; }
      ptimes+=("$t")
    done
    if [ ${#ptimes[@]} -gt 0 ]; then
      p=$(printf '%s\n' "${ptimes[@]}" | median)
      printf 'pkgpanda Install.activate %.3f s (runs: %s)  folded pkg-activate is %.1fx faster, --no-fold %.1fx\n' \
        "$p" "${ptimes[*]}" "$(echo "$p / ${median_of[fold]}" | bc -l)" "$(echo "$p / ${median_of[no-fold]}" | bc -l)"
    fi
  fi
else
  echo "pkgpanda baseline skipped: set DCOS_SRC to a dcos/dcos checkout or git dir" >&2
fi

# Timing is over: free the space (farms, floors, pkgpanda roots).
rm -rf "$old" "$tree/generations" "$tree/current" "$work/floor" "$work/pkgpanda" "$work/entries-"*
rm -f "$tree"/{bin,lib,etc,include,active,environment,environment.export,active.buildinfo.full.json,installed-units.json}
