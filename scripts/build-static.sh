#!/usr/bin/env bash
# Builds every binary of the root `tarmac` package as a static
# x86_64-unknown-linux-musl release executable, copies them into one
# directory, checks that each is really static and writes SHA256SUMS.
#
# The list of tools is not written here: it is read from `cargo metadata`
# (the root package's `bin` targets), so a new src/bin/<tool>/ is picked up
# and a removed one is not left behind. Safe to rerun: cargo builds
# incrementally and the output directory is rewritten, stale tools removed.
set -euo pipefail

readonly TARGET=x86_64-unknown-linux-musl
readonly ROOT_PACKAGE=tarmac

usage() {
  cat <<EOF
Usage: scripts/build-static.sh [OUT_DIR]
       scripts/build-static.sh --check FILE...
       scripts/build-static.sh --list

Build all of tarmac's tools (the bins of the root package) as static
$TARGET executables in release mode and copy them into OUT_DIR
(default: target/static/ in the workspace; a relative OUT_DIR is taken
from the current directory), with a
SHA256SUMS file (sha256sum -c format), and their man pages and shell
completions under OUT_DIR/share/ (man/man1, bash-completion, zsh, fish).

Each binary is checked with file(1) and ldd(1): if any is dynamically
linked the script fails before copying anything. --check runs only that
check on the given files (e.g. the tools cfg-gen put in serve/bin/).
--list prints the tools that would be built (from cargo metadata), one
per line, and builds nothing.

Needs: rustup (adds the $TARGET target if missing), musl-gcc (Debian
package musl-tools) for the C code of zstd-sys and blake3, python3 to
read cargo metadata, file, ldd, sha256sum.

Environment: CC_x86_64_unknown_linux_musl overrides the C compiler
(default musl-gcc). Cargo's own variables (CARGO_TARGET_DIR, ...) apply.

Output (stdout): the path of each binary, one per line. Progress and
cargo's output go to stderr.
EOF
}

die() {
  echo "build-static.sh: error: $*" >&2
  exit 1
}

# Fails unless $1 is a statically linked x86-64 ELF executable, by both
# file(1) and ldd(1).
check_static() {
  local exe=$1 description ldd_output
  [ -f "$exe" ] || die "$exe: no such file"
  description=$(file -b "$exe")
  case "$description" in
    *ELF*x86-64*) ;;
    *) die "$exe: not an x86-64 ELF executable: $description" ;;
  esac
  # file(1) says "statically linked", or "static-pie linked" for static-pie.
  case "$description" in
    *"statically linked"* | *"static-pie linked"*) ;;
    *) die "$exe: not statically linked according to file(1): $description" ;;
  esac
  # On a static binary ldd says "not a dynamic executable" (exit 1), or
  # "statically linked" for static-pie; a list of libraries is a failure.
  ldd_output=$(ldd "$exe" 2>&1 || true)
  case "$ldd_output" in
    *"not a dynamic executable"* | *"statically linked"*) ;;
    *) die "$exe: dynamically linked according to ldd: $(echo "$ldd_output" | tr '\n' ' ')" ;;
  esac
}

list_only=no
case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
  --check)
    shift
    [ $# -gt 0 ] || {
      echo "build-static.sh: error: --check needs at least one FILE" >&2
      exit 2
    }
    for exe in "$@"; do
      check_static "$exe"
      echo "$exe"
    done
    exit 0
    ;;
  --list)
    list_only=yes
    shift
    ;;
  -*)
    echo "build-static.sh: error: unknown option '$1'" >&2
    usage >&2
    exit 2
    ;;
esac
[ $# -le 1 ] || {
  echo "build-static.sh: error: expected at most one argument (OUT_DIR), got $#" >&2
  exit 2
}

caller_dir=$(pwd)
cd "$(dirname "$0")/.."
workspace=$(pwd)
# OUT_DIR is relative to where the script was run from; the default is
# inside the workspace.
out_dir=${1:-$workspace/target/static}
[[ "$out_dir" = /* ]] || out_dir="$caller_dir/$out_dir"

for cmd in cargo python3 file ldd sha256sum; do
  command -v "$cmd" >/dev/null || die "'$cmd' not found in PATH"
done

# Bins of the root package and cargo's target directory, from cargo metadata.
metadata=$(cargo metadata --no-deps --format-version 1) || die "cargo metadata failed"
read_metadata='
import json, sys
meta = json.load(sys.stdin)
packages = [p for p in meta["packages"] if p["name"] == sys.argv[1]]
if len(packages) != 1:
    sys.exit(f"expected one package named {sys.argv[1]!r} in the workspace, found {len(packages)}")
print(meta["target_directory"])
for target in sorted(packages[0]["targets"], key=lambda t: t["name"]):
    if "bin" in target["kind"]:
        print(target["name"])
'
mapfile -t lines < <(python3 -c "$read_metadata" "$ROOT_PACKAGE" <<<"$metadata")
[ ${#lines[@]} -ge 1 ] || die "could not read the target directory and bins from cargo metadata"
target_dir=${lines[0]}
bins=("${lines[@]:1}")
[ ${#bins[@]} -gt 0 ] || die "package '$ROOT_PACKAGE' has no bin targets"
if [ "$list_only" = yes ]; then
  printf '%s\n' "${bins[@]}"
  exit 0
fi

# The C parts (zstd-sys, blake3's assembly/intrinsics) must be compiled
# against musl's headers, not glibc's: musl-gcc is the wrapper that does it.
export CC_x86_64_unknown_linux_musl="${CC_x86_64_unknown_linux_musl:-musl-gcc}"
command -v "$CC_x86_64_unknown_linux_musl" >/dev/null ||
  die "C compiler '$CC_x86_64_unknown_linux_musl' for $TARGET not found (install musl-tools: apt-get install musl-tools)"

if command -v rustup >/dev/null; then
  if ! rustup target list --installed | grep -qx "$TARGET"; then
    echo "build-static.sh: adding rust target $TARGET" >&2
    rustup target add "$TARGET" >&2 || die "rustup target add $TARGET failed"
  fi
else
  echo "build-static.sh: warning: no rustup; assuming the $TARGET std is installed" >&2
fi

echo "build-static.sh: building ${bins[*]} for $TARGET (release)" >&2
bin_args=()
for bin in "${bins[@]}"; do
  bin_args+=(--bin "$bin")
done
cargo build --release --locked --target "$TARGET" -p "$ROOT_PACKAGE" "${bin_args[@]}" >&2 ||
  die "cargo build for $TARGET failed (see above)"

build_dir="$target_dir/$TARGET/release"
mkdir -p "$out_dir" || die "$out_dir: cannot create directory"

# Check every binary before copying any, so a failure leaves no
# half-updated directory that looks complete.
for bin in "${bins[@]}"; do
  check_static "$build_dir/$bin"
done

# Remove tools an earlier run wrote (listed in its SHA256SUMS) that are no
# longer bins of the package. Other files in OUT_DIR are never touched.
if [ -f "$out_dir/SHA256SUMS" ]; then
  while read -r _ old; do
    old=${old#\*}
    keep=no
    for bin in "${bins[@]}"; do
      [ "$old" = "$bin" ] && keep=yes
    done
    if [ "$keep" = no ] && [[ "$old" != */* ]] && [ -f "$out_dir/$old" ]; then
      echo "build-static.sh: removing $out_dir/$old (no longer a tool)" >&2
      rm -f -- "${out_dir:?}/$old"
    fi
  done <"$out_dir/SHA256SUMS"
fi

for bin in "${bins[@]}"; do
  # Copy to a temporary name, then rename: a reader never sees a half-copied tool.
  install -m 0755 "$build_dir/$bin" "$out_dir/.$bin.tmp" || die "$out_dir/$bin: copy failed"
  mv -f "$out_dir/.$bin.tmp" "$out_dir/$bin"
done

(cd "$out_dir" && sha256sum -- "${bins[@]}" >.SHA256SUMS.tmp && mv -f .SHA256SUMS.tmp SHA256SUMS) ||
  die "$out_dir/SHA256SUMS: cannot write"

# Man pages and shell completions (generated from the clap definitions and
# kept current by tests/generated.rs) beside the tools, in the FHS layout:
# copy OUT_DIR/share to /usr/local/share on a host. Replaced as a whole.
rm -rf "$out_dir/.share.tmp"
cp -R "$workspace/share" "$out_dir/.share.tmp" || die "$out_dir/share: copy failed"
rm -rf "$out_dir/share"
mv "$out_dir/.share.tmp" "$out_dir/share"

for bin in "${bins[@]}"; do
  echo "$out_dir/$bin"
done
