#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite: lint, then pytest.
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
