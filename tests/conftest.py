"""Every CLI command is registered before any test drives `cli` with click's runner."""

from l4plan.cli.main import load_commands

load_commands()
