#!/usr/bin/env bash
# The main job, end to end: set up, start a local proxy-agent and a demo origin,
# validate, plan and apply examples/quickstart, then send traffic through the edge
# port and show the reply. Everything runs on 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
root=$PWD
py=$root/.venv/bin/python
l4plan=$root/.venv/bin/l4plan

work=$(mktemp -d -t l4plan-quickstart.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # the kernel fast path outlives its agent by design; this demo agent's table goes too
  if [ -f "$work/agent/node_id" ] && command -v nft >/dev/null; then
    table=$("$py" -c 'import sys; from l4agent.kernel import table_name; print(table_name(sys.argv[1]))' \
      "$(cat "$work/agent/node_id")")
    nft delete table inet "$table" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# three free loopback ports: agent control API, edge port, origin port
read -r control edge origin < <("$py" - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
  step() { printf '\n==> %s\n' "$*"; }
fi

step "Starting a demo origin on 127.0.0.1:$origin and a proxy-agent (control API 127.0.0.1:$control)"
"$py" examples/quickstart/origin.py 127.0.0.1 "$origin" &
pids+=($!)
"$root/.venv/bin/l4plan-agent" --control "127.0.0.1:$control" --state-dir "$work/agent" \
  --drain-timeout 1s >"$work/agent.log" 2>&1 &
pids+=($!)
"$py" - "$control" <<'PY'
import sys, time
from l4plan.agents.client import AgentClient
from l4plan.agents.errors import AgentError
client = AgentClient(f"http://127.0.0.1:{sys.argv[1]}", token=None, timeout=2, retries=0)
deadline = time.monotonic() + 20
while True:
    try:
        if client.health()["status"] == "SERVING":
            break
    except AgentError:
        pass
    if time.monotonic() > deadline:
        sys.exit("the agent did not start; see its log")
    time.sleep(0.1)
PY

cp examples/quickstart/*.hcl "$work/"
vars=(--var "agent_endpoint=http://127.0.0.1:$control" --var "edge_port=$edge" --var "origin_port=$origin")

step "l4plan validate"
"$l4plan" -C "$work" validate
step "l4plan plan"
"$l4plan" -C "$work" plan "${vars[@]}"
step "l4plan apply --auto-approve"
"$l4plan" -C "$work" apply --auto-approve "${vars[@]}"

step "Sending traffic through the edge port 127.0.0.1:$edge"
"$py" - "$edge" <<'PY'
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as conn:
    conn.sendall(b"hi through l4plan\n")
    reply = conn.makefile("rb").readline().decode().strip()
print(f"sent: 'hi through l4plan'\nreply: {reply}")
if not reply.startswith("hello from the origin"):
    sys.exit("unexpected reply")
PY

step "l4plan plan --detailed-exitcode (the agent now matches the configuration)"
"$l4plan" -C "$work" plan --detailed-exitcode "${vars[@]}"
step "l4plan output"
"$l4plan" -C "$work" output
printf '\nQuickstart complete: the agent forwards 127.0.0.1:%s to the origin on 127.0.0.1:%s.\n' "$edge" "$origin"
