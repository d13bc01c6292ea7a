#!/usr/bin/env bash
# The inputs of docs/fleet.md's install-time model, measured on this machine:
#   c_1   wall time of ONE host install alone (the fleet test's install:
#         curl dcos_install.sh, then `TARMAC_NO_SYSTEMD=1 bash
#         dcos_install.sh slave`, in a network namespace behind a veth pair
#         and a mount namespace whose /etc, /opt and /var/lib are overlays
#         onto a tmpfs, as tests/fleet.rs does), and
#   c_cpu the CPU seconds (user+sys) of all its processes,
#   S     the bytes that install downloads (from nginx's log), and
#   B_lo  one-stream HTTP bandwidth from nginx over loopback, and
#   B_veth the same from a network namespace through a veth pair.
#   P_cpu the CPUs the machine gives AT_ONCE busy processes right now.
# Then AT_ONCE (20) such installs at once: wall and CPU of the wave.
# Same example cluster and the same tools as the fleet test (the debug
# build, stripped). A benchmark, not a test. Needs root (mount namespaces,
# overlay, tmpfs, netns).
#
# usage: bench/fleet-host.sh        env: RUNS (3) single-host installs (the
#        median is reported); BIN (target/debug) the tools to serve and build with
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/debug}
RUNS=${RUNS:-3}
[ "$(id -u)" = 0 ] || { echo "fleet-host.sh: needs root" >&2; exit 2; }
for tool in pkg-build pkg-bundle cfg-gen host-extract ip-detect-run pkg-activate; do
    [ -x "$BIN/$tool" ] || { echo "fleet-host.sh: $BIN/$tool missing (cargo build --bins)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tarmac-fleet-host.XXXXXX")
tag=$(printf '%04x' $(( $$ & 0xffff )))
ns=tfh$tag
nginx_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
    umount -l "$work/hosts" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The tools, as the fleet test ships them: the debug build, stripped.
mkdir -p "$work/bin"
for tool in pkg-build pkg-bundle cfg-gen host-extract ip-detect-run pkg-activate; do
    cp "$BIN/$tool" "$work/bin/"
    strip "$work/bin/$tool" 2>/dev/null || true
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
veth_host=198.19.$(( RANDOM % 250 )).1
veth_ns=${veth_host%.1}.2

# The example cluster, built by the Makefile with bootstrap_url on this nginx.
cp -R "$ROOT/packages" "$work/packages"
cp -R "$ROOT/genconf" "$work/genconf"
rm -rf "$work/genconf/serve"
sed -i "s|^bootstrap_url:.*|bootstrap_url: http://$veth_host:$port|" "$work/genconf/config.yaml"
make -s -C "$ROOT" BIN="$work/bin" OUT="$work/out" GENCONF="$work/genconf" \
    PACKAGES_DIR="$work/packages" >/dev/null
head -c $((256 << 20)) /dev/zero >"$work/out/serve/zero.256m"

# The network namespace for the veth figure.
ip netns add "$ns"
ip link add "tfh${tag}v" type veth peer name eth0 netns "$ns"
ip addr add "$veth_host/30" dev "tfh${tag}v"
ip link set "tfh${tag}v" up
ip -n "$ns" addr add "$veth_ns/30" dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" link set lo up
ip -n "$ns" route add default via "$veth_host"

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 256; }
http {
  access_log $work/nginx/access.log;
  default_type application/octet-stream;
  sendfile on;
  client_body_temp_path $work/nginx/cb; proxy_temp_path $work/nginx/p;
  fastcgi_temp_path $work/nginx/f; uwsgi_temp_path $work/nginx/u; scgi_temp_path $work/nginx/s;
  server { listen 127.0.0.1:$port; listen $veth_host:$port; root $work/out/serve; location / { } }
}
EOF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/dcos_install.sh" 2>/dev/null && break; sleep 0.05; done

rate() { # URL [netns]: bytes/s of one curl of the 256 MiB file (best of 3)
    local best=0 r
    for _ in 1 2 3; do
        if [ -n "${2:-}" ]; then
            r=$(ip netns exec "$2" curl -fsS -o /dev/null -w '%{speed_download}' "$1")
        else
            r=$(curl -fsS -o /dev/null -w '%{speed_download}' "$1")
        fi
        r=${r%.*}
        [ "$r" -gt "$best" ] && best=$r
    done
    echo "$best"
}
b_lo=$(rate "http://127.0.0.1:$port/zero.256m")
b_veth=$(rate "http://$veth_host:$port/zero.256m" "$ns")

# The host's mount namespace, as in tests/fleet.rs (MOUNTS).
mkdir -p "$work/hosts"
mount -t tmpfs -o size=2g,mode=0755 tarmac-fleet-host "$work/hosts"
cat >"$work/mounts.sh" <<'EOF'
set -eu
h=$HOST_DIR
for d in etc opt varlib; do mkdir -p "$h/upper/$d" "$h/work/$d"; done
mount -t overlay tarmac-etc -o "lowerdir=/etc,upperdir=$h/upper/etc,workdir=$h/work/etc" /etc
mount -t overlay tarmac-opt -o "lowerdir=/opt,upperdir=$h/upper/opt,workdir=$h/work/opt" /opt
mount -t overlay tarmac-varlib -o "lowerdir=/var/lib,upperdir=$h/upper/varlib,workdir=$h/work/varlib" /var/lib
for pair in opt-mesosphere:/opt/mesosphere etc-mesosphere:/etc/mesosphere \
    systemd:/etc/systemd/system state:/var/lib/dcos; do
    mkdir -p "$h/${pair%%:*}" "${pair#*:}"
    mount --bind "$h/${pair%%:*}" "${pair#*:}"
done
exec "$@"
EOF

: >"$work/nginx/access.log"
walls=() cpus=()
for i in $(seq "$RUNS"); do
    host=$work/hosts/host-$i
    mkdir -p "$host"
    HOST_DIR=$host /usr/bin/time -f "%e %U %S" -o "$work/time.$i" \
        ip netns exec "$ns" unshare --mount --propagation private bash "$work/mounts.sh" \
        bash -euc "curl -fsS http://$veth_host:$port/dcos_install.sh -o \$HOST_DIR/dcos_install.sh
                   TARMAC_NO_SYSTEMD=1 bash \$HOST_DIR/dcos_install.sh slave" \
        >"$work/out.$i" 2>&1 || { cat "$work/out.$i" >&2; exit 1; }
    read -r wall user sys <"$work/time.$i"
    walls+=("$wall")
    cpus+=("$(echo "$user + $sys" | bc)")
done
sleep 0.3 # nginx logs a request after its last byte
bytes=$(awk -F'"' '{ split($3, a, " "); s += a[2] } END { print s }' "$work/nginx/access.log")

# K hosts at once (K = AT_ONCE, default 20 as in the fleet test), each in its
# own mount namespace (sharing the one network namespace): the wall time of
# the wave and the CPU of all its processes.
at_once=${AT_ONCE:-20}
install_one() { # HOST_DIR
    HOST_DIR=$1 ip netns exec "$ns" unshare --mount --propagation private \
        bash "$work/mounts.sh" \
        bash -euc "curl -fsS http://$veth_host:$port/dcos_install.sh -o \$HOST_DIR/dcos_install.sh
                   TARMAC_NO_SYSTEMD=1 bash \$HOST_DIR/dcos_install.sh slave"
}
wave() {
    local i failed=0 pids=()
    for i in $(seq "$at_once"); do
        mkdir -p "$work/hosts/wave-$i"
        install_one "$work/hosts/wave-$i" >"$work/wave.$i" 2>&1 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || failed=1; done
    return "$failed"
}
export -f install_one wave
export work ns veth_host port at_once
# P_cpu: how much CPU this machine gives AT_ONCE busy processes right now
# (CPU seconds / wall seconds of AT_ONCE sha256sum runs over a cached 64 MiB
# file), measured before and after the wave: the simulated hosts share these
# cores with whatever else runs.
head -c $((64 << 20)) /dev/urandom >"$work/hosts/calibrate"
calibrate() {
    local i pids=()
    for i in $(seq "$at_once"); do sha256sum "$work/hosts/calibrate" >/dev/null & pids+=($!); done
    wait "${pids[@]}"
}
export -f calibrate
p_cpu() {
    local wall user sys
    /usr/bin/time -f "%e %U %S" -o "$work/time.cal" bash -c calibrate
    read -r wall user sys <"$work/time.cal"
    echo "scale=2; ($user + $sys) / $wall" | bc
}
p_before=$(p_cpu)
/usr/bin/time -f "%e %U %S" -o "$work/time.wave" bash -c wave ||
    { cat "$work"/wave.* >&2; exit 1; }
read -r wave_wall wave_user wave_sys <"$work/time.wave"
p_after=$(p_cpu)

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "one host install (dcos_install.sh slave), $RUNS runs: wall ${walls[*]} s; CPU ${cpus[*]} s"
echo "c_1 (median wall):  $(median "${walls[@]}") s"
echo "c_cpu (median CPU): $(median "${cpus[@]}") s"
echo "S (bytes per host): $(( bytes / RUNS ))"
echo "B_lo:   $b_lo bytes/s ($(echo "scale=1; $b_lo * 8 / 1000000000" | bc) Gbit/s)"
echo "B_veth: $b_veth bytes/s ($(echo "scale=1; $b_veth * 8 / 1000000000" | bc) Gbit/s)"
echo "P_cpu ($at_once busy processes): $p_before CPUs before the wave, $p_after after"
echo "$at_once hosts at once: wall $wave_wall s; CPU $(echo "$wave_user + $wave_sys" | bc) s"
echo "cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
