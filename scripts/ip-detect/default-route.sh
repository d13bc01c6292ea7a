#!/bin/sh
# ip-detect: the primary IPv4 address of the interface that holds the
# default route. Good for hosts with one routed network; on multi-homed hosts
# prefer named-interface.sh. POSIX sh (runs under dash); needs iproute2.
set -eu

# "default via 10.0.0.1 dev eth0 proto dhcp metric 100": take the word after
# "dev" (the route metric and the rest are never printed).
dev=$(ip -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
if [ -z "$dev" ]; then
    echo "ip-detect: no IPv4 default route" >&2
    exit 1
fi

# "2: eth0    inet 10.0.0.5/24 brd ... scope global eth0": the first
# non-secondary global address, without its prefix length.
addr=$(ip -4 -o addr show dev "$dev" scope global | awk '!/ secondary / { split($4, a, "/"); print a[1]; exit }')
if [ -z "$addr" ]; then
    echo "ip-detect: interface $dev has no global IPv4 address" >&2
    exit 1
fi
echo "$addr"
