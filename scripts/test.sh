#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite: lint, pytest, then (with no
# arguments) a bounded coverage-guided fuzz run.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/agent -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# The state-backend tests use the PostgreSQL server on 127.0.0.1:5432; start it if it is installed but stopped.
if command -v pg_ctlcluster >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi

.venv/bin/ruff check l4plan proxy-agent tests bench
.venv/bin/python -m pytest "$@"

# The whole suite (no arguments) ends with a bounded coverage-guided run of every fuzz target
# (L4PLAN_FUZZ_SECONDS each, default 5; README "Reliability"), when atheris is installed.
if [ $# -eq 0 ]; then
  if .venv/bin/python -c 'import atheris' 2>/dev/null; then
    fuzz/run.sh "${L4PLAN_FUZZ_SECONDS:-5}"
  else
    echo "atheris is not installed: no coverage-guided fuzz run (scripts/setup.sh)" >&2
  fi
fi
