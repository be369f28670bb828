#!/usr/bin/env bash
# Run the benchmarks and print a summary: bench/run.sh [--quick] [--check]
#
# Installs what is missing from Debian (iperf3, wrk, nginx with its stream module,
# haproxy), sets up .venv (scripts/setup.sh), then runs the data-plane benchmark
# (bench/dataplane.py: iperf3, wrk and bench/load.py through every peer, interleaved)
# and the control-plane benchmark (bench/configs.py). Results: bench/results/run-DATE/
# (git-ignored). Traffic stays on 127.0.0.1; every daemon is a child of this script and
# is stopped when it ends, however it ends.
#   --quick  one short round of each (under two minutes): checks that everything runs
#   --check  exit non-zero if a measurement failed or a peer that should run did not
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
check=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --check) check=(--check) ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

missing=()
command -v iperf3 >/dev/null || missing+=(iperf3)
command -v wrk >/dev/null || missing+=(wrk)
command -v haproxy >/dev/null || missing+=(haproxy)
command -v nginx >/dev/null || missing+=(nginx)
# nginx's stream {} module is a separate package on Debian 12
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(libnginx-mod-stream)

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || {
      echo "bench/run.sh: installing ${missing[*]} needs root (or sudo)" >&2
      exit 1
    }
    sudo="sudo"
  fi
  # Debian's maintainer scripts start a package's service after installing it (nginx's
  # default site on 0.0.0.0:80, iperf3's server); a policy-rc.d answering 101 stops that.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    policy_created=1
  fi
  echo "Installing from Debian: ${missing[*]} ..." >&2
  $sudo apt-get update -qq
  # iperf3 asks whether to start a daemon: the preseed answers no
  echo "iperf3 iperf3/start_daemon boolean false" | $sudo debconf-set-selections
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
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
  run .venv/bin/python -m bench.dataplane --quick --results "$results" "${check[@]}"
  run .venv/bin/python -m bench.configs --sizes 10 --rounds 1 --results "$results"
else
  run .venv/bin/python -m bench.dataplane --rounds 3 --results "$results" "${check[@]}"
  if [ "$(id -u)" = 0 ] && command -v nft >/dev/null; then
    # the kernel path again with 300 more (idle) rules: a packet's work must not grow
    run .venv/bin/python -m bench.dataplane --rounds 3 --peers agent-kernel,direct-netns \
      --benches http_close,http_keepalive,udp_rr --kernel-extra-rules 300 --results "$results"
  fi
  run .venv/bin/python -m bench.configs --sizes 100 --rounds 3 --results "$results"
fi

echo
echo "==================== summary ($(($(date +%s) - start)) s) ===================="
.venv/bin/python -m bench.report "$results"/dataplane-*.json "$results"/configs-*.json
