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
#   P_cpu the CPUs the machine gives AT_ONCE busy processes right now (and
#         2·AT_ONCE processes, a check: docs/fleet.md).
# Then AT_ONCE (20) such installs at once: wall and CPU of the wave, and
# the CPU the origin nginx spent serving it.
# Then (MIRRORS, default 2; 0 skips it) the same wave through MIRRORS caching
# mirrors (nginx from scripts/nginx-mirror.conf, only its three values
# filled in, in front of the origin, as tests/fleet.rs starts them): cold,
# then again warm, each with the CPU of the mirrors' nginx processes
# (master and workers, from /proc/PID/stat), the origin's CPU and the bytes
# the origin sent, and P_cpu before and after each.
# Same example cluster and the same tools as the fleet test (the debug
# build, stripped). A benchmark, not a test. Needs root (mount namespaces,
# overlay, tmpfs, netns).
#
# usage: bench/fleet-host.sh        env: RUNS (3) single-host installs (the
#        median is reported); BIN (target/debug) the tools to serve and build
#        with; AT_ONCE (20) hosts per wave; MIRRORS (2) mirrors, 0 for none
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
mirror_pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    declare -F stop_mirrors >/dev/null && stop_mirrors
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

# The host's mount namespace: the same file tests/fleet.rs uses.
mkdir -p "$work/hosts"
mount -t tmpfs -o size=2g,mode=0755 tarmac-fleet-host "$work/hosts"
cp "$ROOT/tests/fleet-host-mounts.sh" "$work/mounts.sh"
# No --uts here: the host name must not be set (it would be the machine's).
unset HOST_NAME

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
install_one() { # HOST_DIR [MIRROR_URL...]: the mirrors first, in this order
    local first=${2:-http://$veth_host:$port}
    HOST_DIR=$1 TARMAC_MIRRORS="${*:2}" ip netns exec "$ns" unshare --mount --propagation private \
        bash "$work/mounts.sh" \
        bash -euc "curl -fsS $first/dcos_install.sh -o \$HOST_DIR/dcos_install.sh
                   TARMAC_NO_SYSTEMD=1 bash \$HOST_DIR/dcos_install.sh slave"
}
wave() { # env WAVE (a name), WAVE_MIRRORS (URLs; host i starts at the i-th)
    local i k failed=0 pids=() urls order
    read -r -a urls <<<"${WAVE_MIRRORS:-}"
    for i in $(seq "$at_once"); do
        order=()
        for k in $(seq 0 $(( ${#urls[@]} - 1 ))); do
            order+=("${urls[(i + k) % ${#urls[@]}]}")
        done
        mkdir -p "$work/hosts/$WAVE-$i"
        install_one "$work/hosts/$WAVE-$i" "${order[@]}" >"$work/$WAVE.$i" 2>&1 &
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
calibrate() { # [PROCESSES]
    local i pids=()
    for i in $(seq "${1:-$at_once}"); do sha256sum "$work/hosts/calibrate" >/dev/null & pids+=($!); done
    wait "${pids[@]}"
}
export -f calibrate
p_cpu() { # [PROCESSES]
    local wall user sys
    /usr/bin/time -f "%e %U %S" -o "$work/time.cal" bash -c "calibrate ${1:-}"
    read -r wall user sys <"$work/time.cal"
    echo "scale=2; ($user + $sys) / $wall" | bc
}
# The same with 2·AT_ONCE processes. A check, not the model's input: the
# cores are shared per runnable thread and an install runs more than one
# (host-extract's reader, decoder and writer; pkg-activate's workers); does
# that explain why the installs get more CPU than AT_ONCE sha256sum?
p_cpu2() { p_cpu $(( 2 * at_once )); }
# CPU seconds (user + system) of running processes, from /proc/PID/stat.
cpu_of() {
    local total=0 p stat fields
    for p in "$@"; do
        stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        read -r -a fields <<<"${stat##*) }"
        total=$(( total + fields[11] + fields[12] ))
    done
    echo "scale=2; $total / $(getconf CLK_TCK)" | bc
}
origin_log_bytes() {
    awk -F'"' '{ split($3, a, " "); s += a[2] } END { print s + 0 }' "$work/nginx/access.log"
}
# One wave: WAVE=name WAVE_MIRRORS=urls; sets wave_wall, wave_cpu (the
# installs), origin_cpu, origin_sent.
run_wave() {
    local o0 user sys
    : >"$work/nginx/access.log"
    o0=$(cpu_of "$nginx_pid")
    WAVE=$1 WAVE_MIRRORS=${2:-} /usr/bin/time -f "%e %U %S" -o "$work/time.$1" bash -c wave ||
        { cat "$work/$1".* >&2; exit 1; }
    sleep 0.3 # nginx logs a request after its last byte
    read -r wave_wall user sys <"$work/time.$1"
    wave_cpu=$(echo "$user + $sys" | bc)
    origin_cpu=$(echo "$(cpu_of "$nginx_pid") - $o0" | bc)
    origin_sent=$(origin_log_bytes)
    # The hosts' tmpfs must keep the install preflight's 1 GiB margin free
    # for the next wave.
    rm -rf "$work/hosts/$1"-*
}
p2_first=$(p_cpu2)
p_before=$(p_cpu)
run_wave wave
p_after=$(p_cpu)
wave_line="$at_once hosts at once: wall $wave_wall s; CPU $wave_cpu s; origin nginx CPU $origin_cpu s, sent $origin_sent bytes"

# The mirrors: nginx from the shipped scripts/nginx-mirror.conf with its
# three values filled in (workers kept root, as in tests/fleet.rs), each
# with an empty cache, proxying to the origin over loopback.
mirrors=${MIRRORS:-2}
mirror_urls=()
start_mirrors() { # ROUND
    local k state mport
    mirror_urls=() mirror_pids=()
    for k in $(seq "$mirrors"); do
        state=$work/mirror-$1-$k
        mkdir -p "$state"
        mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        sed -e "s|@ORIGIN@|http://127.0.0.1:$port|" -e "s|@LISTEN@|$veth_host:$mport|" \
            -e "s|@STATE_DIR@|$state|" "$ROOT/scripts/nginx-mirror.conf" >"$state/nginx.conf"
        /usr/sbin/nginx -p "$state" -c "$state/nginx.conf" -e "$state/error.log" \
            -g "daemon off; user root;" &
        mirror_pids+=($!)
        mirror_urls+=("http://$veth_host:$mport")
    done
    for url in "${mirror_urls[@]}"; do # listening? (no request: the caches stay empty)
        url=${url#http://}
        for _ in $(seq 100); do
            (exec 3<>"/dev/tcp/${url%:*}/${url#*:}") 2>/dev/null && break
            sleep 0.05
        done
    done
}
mirror_cpu() { # master and workers of every mirror
    local p all=()
    for p in "${mirror_pids[@]}"; do
        all+=("$p")
        while read -r w; do all+=("$w"); done < <(pgrep -P "$p")
    done
    cpu_of "${all[@]}"
}
stop_mirrors() {
    local p
    for p in "${mirror_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    mirror_pids=()
}
mirror_lines=()
if [ "$mirrors" -gt 0 ]; then
    start_mirrors 1
    for state in cold warm; do
        p2_before=$(p_cpu2)
        pm_before=$(p_cpu)
        m0=$(mirror_cpu)
        run_wave "mirrors-$state" "${mirror_urls[*]}"
        m_cpu=$(echo "$(mirror_cpu) - $m0" | bc)
        pm_after=$(p_cpu)
        p2_after=$(p_cpu2)
        mirror_lines+=("$at_once hosts through $mirrors $state mirrors: wall $wave_wall s; CPU $wave_cpu s (installs) + $m_cpu s (mirrors' nginx) + $origin_cpu s (origin nginx); origin sent $origin_sent bytes; P_cpu $pm_before before, $pm_after after; with $(( 2 * at_once )) processes $p2_before before, $p2_after after")
    done
    # B_m: one stream from a mirror to the network namespace (the 256 MiB
    # file: the first of the 3 runs fills the mirror's cache, the best is
    # a cached one).
    b_m=$(rate "${mirror_urls[0]}/zero.256m" "$ns")
    mirror_lines+=("B_m (one mirror, cached, to the veth): $b_m bytes/s ($(echo "scale=1; $b_m * 8 / 1000000000" | bc) Gbit/s)")
    stop_mirrors
fi

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "one host install (dcos_install.sh slave), $RUNS runs: wall ${walls[*]} s; CPU ${cpus[*]} s"
echo "c_1 (median wall):  $(median "${walls[@]}") s"
echo "c_cpu (median CPU): $(median "${cpus[@]}") s"
echo "S (bytes per host): $(( bytes / RUNS ))"
echo "B_lo:   $b_lo bytes/s ($(echo "scale=1; $b_lo * 8 / 1000000000" | bc) Gbit/s)"
echo "B_veth: $b_veth bytes/s ($(echo "scale=1; $b_veth * 8 / 1000000000" | bc) Gbit/s)"
echo "P_cpu ($at_once busy processes): $p_before CPUs before the wave, $p_after after; with $(( 2 * at_once )) processes $p2_first before"
echo "$wave_line"
for line in "${mirror_lines[@]}"; do echo "$line"; done
echo "cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
