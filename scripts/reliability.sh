#!/usr/bin/env bash
# Runs the reliability suite (docs/reliability.md): kill loops, full and
# read-only disks, concurrent runs, the 20-host fleet under 5% faults.
#   scripts/reliability.sh          the bounded run CI does: 100 kills per operation, 200 installs
#   scripts/reliability.sh --long   500 kills per operation, 1,000 fleet installs
# The counts are environment knobs: TARMAC_KILLS (kill loops) and
# TARMAC_FLEET_INSTALLS (fleet); --long only raises them.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '2,7s/^# \{0,1\}//p' "$0"
}

case "${1:-}" in
  "") ;;
  -h | --help)
    usage
    exit 0
    ;;
  --long)
    export TARMAC_KILLS="${TARMAC_KILLS:-500}"
    export TARMAC_FLEET_INSTALLS="${TARMAC_FLEET_INSTALLS:-1000}"
    ;;
  *)
    echo "reliability.sh: error: unknown argument '$1'" >&2
    usage >&2
    exit 2
    ;;
esac

# The older loops in tests/pkg_activate.rs and tests/host_extract.rs follow
# the one knob: 2 runs per kill wanted (about 70% land), and a third of it
# for the slow 11 MB host-extract loop (default 30).
if [[ -n "${TARMAC_KILLS:-}" ]]; then
  [[ "$TARMAC_KILLS" =~ ^[1-9][0-9]*$ ]] || {
    echo "reliability.sh: error: TARMAC_KILLS=$TARMAC_KILLS: expected a positive number" >&2
    exit 2
  }
  export TARMAC_CRASH_ITERATIONS="${TARMAC_CRASH_ITERATIONS:-$((TARMAC_KILLS * 2))}"
  export TARMAC_KILL_ITERATIONS="${TARMAC_KILL_ITERATIONS:-$((TARMAC_KILLS * 3 / 10))}"
fi

# --test-threads 2: the loops time their kills; two at once on two cores.
exec cargo test --test integration -- --nocapture --test-threads 2 \
  reliability:: \
  fleet::installs_under \
  pkg_activate::crash_loop \
  pkg_activate::failpoints \
  host_extract::kill_during \
  host_extract::fleet_on
