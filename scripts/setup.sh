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
# Installed from Debian when missing, only as root; a failure leaves the relay path usable.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=""
  command -v nft >/dev/null 2>&1 || missing="$missing nftables"
  command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
  command -v conntrack >/dev/null 2>&1 || missing="$missing conntrack"
  if [ -n "$missing" ]; then
    echo "Installing$missing (kernel fast path) ..." >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; } \
      || echo "warning: could not install$missing; the kernel fast path will fall back to the relay" >&2
  fi
fi
