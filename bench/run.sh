#!/usr/bin/env bash
# Run every benchmark and print a summary: bench/run.sh [--quick]
#
# Installs the peers from Debian (haproxy, nginx with its stream module), sets up .venv
# (scripts/setup.sh), then runs the data-plane benchmark (bench/dataplane.py) and the
# control-plane benchmark (bench/configs.py). Results go to bench/results/run-DATE/
# (git-ignored).
# Everything listens on 127.0.0.1 only; every daemon is a child of this script and is
# stopped when it ends, however it ends. --quick: one short round of each, for a check
# that everything runs (about two minutes), not for figures.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $arg (try --help)" >&2; exit 1 ;;
  esac
done

child=""
policy_created=0
cleanup() {
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true # the benchmark stops its own children
    wait "$child" 2>/dev/null || true
  fi
  if [ "$policy_created" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a command as a child we can stop from the traps above.
run() {
  "$@" &
  child=$!
  wait "$child"
  child=""
}

peers_installed() {
  command -v haproxy >/dev/null && command -v nginx >/dev/null &&
    [ -e /usr/lib/nginx/modules/ngx_stream_module.so ]
}

if ! peers_installed; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || {
      echo "bench/run.sh: installing haproxy and nginx needs root (or sudo)" >&2
      exit 1
    }
    sudo="sudo"
  fi
  # Debian's maintainer scripts start a package's service after installing it; a
  # policy-rc.d that answers 101 stops that, so no haproxy or nginx daemon is left
  # listening (nginx's default site would bind 0.0.0.0:80).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    policy_created=1
  fi
  echo "Installing the peers from Debian: haproxy nginx libnginx-mod-stream ..." >&2
  $sudo apt-get update -qq
  # nginx's stream {} module is a separate package on Debian 12: libnginx-mod-stream
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    haproxy nginx libnginx-mod-stream >/dev/null
  if [ "$policy_created" = 1 ]; then
    $sudo rm -f /usr/sbin/policy-rc.d
    policy_created=0
  fi
fi

scripts/setup.sh
export PYTHONPATH="$PWD:$PWD/proxy-agent${PYTHONPATH:+:$PYTHONPATH}"
# this run's own folder: others may run single benchmarks into bench/results meanwhile
results="bench/results/run-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$results"
start=$(date +%s)

if [ "$quick" = 1 ]; then
  run .venv/bin/python -m bench.dataplane --rounds 1 --seconds 1 --results "$results"
  run .venv/bin/python -m bench.configs --sizes 10,100 --rounds 1 --results "$results"
else
  run .venv/bin/python -m bench.dataplane --rounds 5 --seconds 2 --results "$results"
  run .venv/bin/python -m bench.configs --sizes 100,1000 --rounds 3 --results "$results"
fi

echo
echo "==================== summary ($(($(date +%s) - start)) s) ===================="
.venv/bin/python -m bench.report "$results"/dataplane-*.json "$results"/configs-*.json
