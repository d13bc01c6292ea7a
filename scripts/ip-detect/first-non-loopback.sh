#!/bin/sh
# ip-detect: the first global IPv4 address, interfaces in index order
# (loopback and link-local addresses are not global). Simple, but the answer
# changes if interfaces are added before the one you meant: prefer
# named-interface.sh where the name is known. POSIX sh; needs iproute2.
set -eu

addr=$(ip -4 -o addr show scope global | awk '!/ secondary / { split($4, a, "/"); print a[1]; exit }')
if [ -z "$addr" ]; then
    echo "ip-detect: no global IPv4 address on any interface" >&2
    exit 1
fi
echo "$addr"
