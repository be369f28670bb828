"""Configure a freshly started agent: wait until it serves, then one `Config.Apply`.

    python -m bench.agentctl --control PORT --spec-file FILE

FILE holds {application name: spec}.

A process of its own so that it can run inside the agent's network namespace
(`ip netns exec NAME python -m bench.agentctl ...`), where the agent's control port
is. Waits at most 30 s; exits non-zero with the reason on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

from l4plan.agents.client import AgentClient
from l4plan.agents.errors import AgentError

WAIT = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.agentctl")
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--spec-file", type=Path, required=True)
    args = parser.parse_args()
    apps = json.loads(args.spec_file.read_text())
    with AgentClient(f"http://127.0.0.1:{args.control}", token=None, timeout=10.0) as client:
        deadline = time.monotonic() + WAIT
        while True:
            with contextlib.suppress(AgentError):
                if client.health()["status"] == "SERVING":
                    break
            if time.monotonic() > deadline:
                sys.exit(f"the agent was not serving after {WAIT:g}s")
            time.sleep(0.05)
        try:
            client.apply(
                expected_revision=None,
                upsert=[{"name": name, "spec": spec} for name, spec in apps.items()],
                delete=[],
            )
        except AgentError as e:
            sys.exit(f"Config.Apply failed: {e}")


if __name__ == "__main__":
    main()
