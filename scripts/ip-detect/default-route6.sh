#!/bin/sh
# ip-detect (IPv6, run with `ip-detect-run --family 6`): the first global,
# non-temporary, non-deprecated IPv6 address of the interface that holds
# the IPv6 default route. Prints the address only: DC/OS's vagrant6.sh also
# printed the route metric with current iproute2. POSIX sh; needs iproute2.
set -eu

dev=$(ip -6 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
if [ -z "$dev" ]; then
    echo "ip-detect: no IPv6 default route" >&2
    exit 1
fi

addr=$(ip -6 -o addr show dev "$dev" scope global | awk '!/ (temporary|deprecated|tentative) / { split($4, a, "/"); print a[1]; exit }')
if [ -z "$addr" ]; then
    echo "ip-detect: interface $dev has no usable global IPv6 address" >&2
    exit 1
fi
echo "$addr"
