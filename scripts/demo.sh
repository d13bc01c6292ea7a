#!/usr/bin/env bash
# demo.sh: the whole tarmac pipeline on the bundled example, end to end.
#
#   build     pkg-build --tree        packages/        -> repo/
#   bundle    pkg-bundle --tree       repo/            -> dist/ (one bootstrap bundle)
#   config    cfg-gen                 genconf/ + dist/ -> genconf/serve/
#   serve     python3 http.server on 127.0.0.1 serving genconf/serve
#   install   dcos_install.sh on 3 hosts (1 master, 2 agents), each in its own
#             temp root, downloading from the server like a real host
#   status    pkg-activate status of each host
#
# Needs no root: hosts are temp directories (their /opt/mesosphere,
# /etc/mesosphere, systemd dir and user database are flags of the tools) and
# no service is started. Everything lives under one temp dir, removed at the
# end (pass --keep to look at it afterwards).
#
# Usage: scripts/demo.sh [--keep] [--bin-dir DIR]
#   --keep         keep the temp dir (printed at the end)
#   --bin-dir DIR  use the six tools already built in DIR instead of running
#                  `cargo build` (e.g. as a user without a Rust toolchain)
set -euo pipefail

keep=0
bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=1 ;;
        --bin-dir)
            [ $# -ge 2 ] || { echo "demo.sh: --bin-dir needs a directory" >&2; exit 2; }
            bin=$(cd "$2" && pwd)
            shift
            ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; /^set -euo/d'; exit 0 ;;
        *) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tarmac-demo.XXXXXX")
server_pid=""
# The exit status is the script's: a killed server's 143 must not replace
# it (nor, under errexit, skip the removal below).
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "$keep" = 1 ]; then
        echo "demo: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*" >&2; }

if [ -z "$bin" ]; then
    step "compile the tools"
    cargo build --quiet --bins --manifest-path "$repo/Cargo.toml"
    bin=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug
fi
for tool in pkg-build pkg-bundle cfg-gen ip-detect-run host-extract pkg-activate; do
    [ -x "$bin/$tool" ] || { echo "demo.sh: $bin/$tool: not an executable" >&2; exit 2; }
done

step "pkg-build: build the example package tree"
"$bin/pkg-build" --tree --packages "$repo/packages" --repo "$work/repo" --cache "$work/cache"

step "pkg-bundle: bundle it into one bootstrap artifact"
"$bin/pkg-bundle" --tree --packages "$repo/packages" --repo "$work/repo" --out "$work/dist"

# A free loopback port for the bootstrap server, chosen by the kernel.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

step "cfg-gen: render the example genconf for bootstrap_url http://127.0.0.1:$port"
cp -R "$repo/genconf" "$work/genconf"
rm -rf "$work/genconf/serve"
sed -i "s|^bootstrap_url:.*|bootstrap_url: http://127.0.0.1:$port|" "$work/genconf/config.yaml"
"$bin/cfg-gen" --genconf "$work/genconf" --dist "$work/dist" --bin-dir "$bin"

step "serve genconf/serve on 127.0.0.1:$port"
python3 -m http.server --bind 127.0.0.1 --directory "$work/genconf/serve" "$port" \
    >"$work/http.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/dcos_install.sh" 2>/dev/null && break
    sleep 0.1
done

# A host: its own root, config dir, systemd dir, state dirs and user
# database. The user database starts as a copy of this machine's, so
# pkg-activate can add the packages' dcos_* users without touching /etc
# (for a user db root other than /, it appends the entries itself: no
# useradd, no root; state dirs stay owned by whoever runs the demo).
install_host() {
    local name=$1 role=$2 host="$work/hosts/$1"
    mkdir -p "$host/userdb/etc"
    cp /etc/passwd /etc/group "$host/userdb/etc/"
    [ -r /etc/shadow ] && cp /etc/shadow "$host/userdb/etc/"
    [ -r /etc/gshadow ] && cp /etc/gshadow "$host/userdb/etc/"
    step "install $name ($role): curl dcos_install.sh | bash"
    curl -fsS "http://127.0.0.1:$port/dcos_install.sh" -o "$host/dcos_install.sh"
    TARMAC_ROOT="$host/opt/mesosphere" \
        TARMAC_CONFIG_DIR="$host/etc/mesosphere" \
        TARMAC_SYSTEMD_DIR="$host/etc/systemd/system" \
        TARMAC_STATE_DIR_ROOT="$host/var/lib/dcos" \
        TARMAC_USER_DB_ROOT="$host/userdb" \
        TARMAC_TOOLS_DIR="$host/tools" \
        TARMAC_NO_SYSTEMD=1 \
        TARMAC_SKIP_ROOT_CHECK=1 \
        TARMAC_MIN_FREE_MB=16 \
        bash "$host/dcos_install.sh" "$role"
}

install_host master-1 master
install_host agent-1 slave
install_host agent-2 slave

for name in master-1 agent-1 agent-2; do
    step "$name: pkg-activate status"
    "$bin/pkg-activate" --root "$work/hosts/$name/opt/mesosphere" \
        --config-dir "$work/hosts/$name/etc/mesosphere" \
        --systemd-dir "$work/hosts/$name/etc/systemd/system" status
done

step "done: 3 hosts installed from one bundle"
