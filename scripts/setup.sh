#!/usr/bin/env bash
# Create .venv and install l4plan (with the pg and test extras, and fuzz where atheris has a
# wheel) and the agent into it.
# Idempotent: a second run only re-checks the installed packages.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "l4plan needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1 || echo none))." >&2
  echo "Install it (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "Installing python3-venv (needs apt)..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.l4plan-installed
inputs=$(cat pyproject.toml proxy-agent/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
  echo "Installing l4plan and l4plan-agent into .venv ..." >&2
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[pg,test]" -e ./proxy-agent
  echo "$inputs" > "$stamp"
fi
# An editable install leaves the bytecode to the first run, and with
# PYTHONDONTWRITEBYTECODE set every run compiles every module again (about 0.1 s of
# start-up); a wheel install compiles at install time, and so does this.
.venv/bin/python -m compileall -q l4plan proxy-agent/l4agent >/dev/null

# install_missing PURPOSE CONSEQUENCE COMMAND:PACKAGE...: the Debian packages of the
# commands that are missing, only as root; a failure is a warning naming what follows.
install_missing() {
  local purpose=$1 consequence=$2 missing="" pair
  shift 2
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then return 0; fi
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
  done
  [ -n "$missing" ] || return 0
  echo "Installing$missing ($purpose) ..." >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; } \
    || echo "warning: could not install$missing; $consequence" >&2
}

# Coverage-guided fuzzing (fuzz/run.sh, which scripts/test.sh runs briefly) needs atheris,
# the `fuzz` extra, from a wheel only; where there is none it is left out (tried once).
fuzz_stamp=.venv/.l4plan-fuzz-tried
if [ ! -f "$fuzz_stamp" ] || [ "$(cat "$fuzz_stamp")" != "$inputs" ]; then
  echo "Installing atheris (fuzz extra) into .venv ..." >&2
  .venv/bin/python -m pip install -q --only-binary atheris -e ".[fuzz]" \
    || echo "warning: could not install atheris; scripts/test.sh skips the coverage-guided fuzz run" >&2
  echo "$inputs" > "$fuzz_stamp"
fi

# The kernel fast path (docs/kernel-fast-path.md) and its tests use nft, ip and conntrack.
install_missing "kernel fast path" "the kernel fast path will fall back to the relay" \
  nft:nftables ip:iproute2 conntrack:conntrack
# The service tests (tests/service) check examples/systemd with systemd-analyze, trace the
# agent with strace, make certificates with openssl and switch users with setpriv.
install_missing "service tests" "some service tests will be skipped" \
  systemd-analyze:systemd strace:strace openssl:openssl setpriv:util-linux
# DNS publishing (docs/dns.md) is tested against a real BIND 9 (named, and nsupdate/dig
# to edit and query its zone); the DNS tests fail without it.
install_missing "DNS publishing tests" "the DNS publishing tests (tests/dns) will fail" \
  named:bind9 nsupdate:bind9-dnsutils
