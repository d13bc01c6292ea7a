#!/bin/sh
# ip-detect: the primary IPv4 address of one named interface. Edit INTERFACE
# below (or set IP_DETECT_INTERFACE in the environment the installer runs
# in). POSIX sh (runs under dash); needs iproute2.
set -eu

INTERFACE=${IP_DETECT_INTERFACE:-eth0}

addr=$(ip -4 -o addr show dev "$INTERFACE" scope global | awk '!/ secondary / { split($4, a, "/"); print a[1]; exit }')
if [ -z "$addr" ]; then
    echo "ip-detect: interface $INTERFACE has no global IPv4 address" >&2
    exit 1
fi
echo "$addr"
