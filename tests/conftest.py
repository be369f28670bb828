"""Every CLI command is registered before any test drives `cli` with click's runner.

Agents the tests start use the userspace relay unless a test asks for the kernel
path (`--fast-path on|auto`, tests/kernel): the suite then means the same on a
machine with and without nftables, and no test touches the host's nftables.
"""

import os

from l4plan.cli.main import load_commands

os.environ.setdefault("L4PLAN_AGENT_FAST_PATH", "off")
# one data-plane process unless a test asks for more, whatever the CPU count
os.environ.setdefault("L4PLAN_AGENT_WORKERS", "1")
load_commands()
