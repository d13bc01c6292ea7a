#!/usr/bin/env bash
# The mount namespace of one simulated fleet host, set up before "$@" runs
# in it: tests/fleet.rs (each host) and bench/fleet-host.sh use this one
# file. Run as root inside `unshare --mount --propagation private` (and
# `--uts` when HOST_NAME is set). HOST_DIR holds everything the host writes.
#
# /etc, /opt and /var/lib are overlays whose upper layers are the host's own
# directories (the machine's files stay readable, every write lands in the
# host; useradd's rename(2) of /etc/passwd works on an overlay), and the
# host's directories are bind-mounted over DC/OS's default paths.
set -eu
h=$HOST_DIR
# Its own host name, only in its own UTS namespace: what dcos_install.sh
# hashes to choose its first mirror.
if [ -n "${HOST_NAME:-}" ]; then
    printf '%s' "$HOST_NAME" >/proc/sys/kernel/hostname
fi
for d in etc opt varlib; do
    mkdir -p "$h/upper/$d" "$h/overlay-work/$d"
done
mount -t overlay tarmac-etc -o "lowerdir=/etc,upperdir=$h/upper/etc,workdir=$h/overlay-work/etc" /etc
mount -t overlay tarmac-opt -o "lowerdir=/opt,upperdir=$h/upper/opt,workdir=$h/overlay-work/opt" /opt
mount -t overlay tarmac-varlib -o "lowerdir=/var/lib,upperdir=$h/upper/varlib,workdir=$h/overlay-work/varlib" /var/lib
for pair in opt-mesosphere:/opt/mesosphere etc-mesosphere:/etc/mesosphere \
    systemd:/etc/systemd/system state:/var/lib/dcos; do
    mkdir -p "$h/${pair%%:*}" "${pair#*:}"
    mount --bind "$h/${pair%%:*}" "${pair#*:}"
done
exec "$@"
