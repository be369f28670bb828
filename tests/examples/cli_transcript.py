"""A transcript of the command line over every example: what each command prints and
its exit code, with what varies between runs (lineages, times, paths) masked.

Refactoring the commands must not change a byte of it:

    python -m tests.examples.cli_transcript > before.txt
    # ... change the code ...
    python -m tests.examples.cli_transcript > after.txt && diff before.txt after.txt

The examples' agents are not running, so every command that reads agents meets
agents that refuse the connection; that is part of what the transcript records.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Commands run in a fresh copy of each example, in this order.
SCRIPT: list[list[str]] = [
    ["validate"],
    ["validate", "--json"],
    ["fmt", "--check"],
    ["graph"],
    ["graph", "--type", "plan"],
    ["plan", "--refresh=false"],
    ["plan", "--refresh=false", "--json"],
    ["plan", "--refresh=false", "--detailed-exitcode"],
    ["plan", "--refresh=false", "--destroy"],
    ["plan", "--refresh=false", "--target", "l4_site.main"],
    ["plan"],
    ["plan", "--detailed-exitcode", "--json"],
    ["plan", "--refresh-only"],
    ["plan", "--refresh=false", "--out", "saved.plan"],
    ["show", "saved.plan"],
    ["show", "--json", "saved.plan"],
    ["show", "--format", "markdown", "saved.plan"],
    ["show"],
    ["drift"],
    ["drift", "--json"],
    ["apply"],
    ["apply", "--auto-approve", "--refresh=false"],
    ["apply", "saved.plan"],
    ["state", "list"],
    ["show"],
    ["output"],
    ["output", "--json"],
    ["plan", "--refresh=false"],
    ["apply", "--refresh-only", "--auto-approve"],
    ["import", "l4_application.nope", "x.example.com"],
    ["destroy"],
    ["destroy", "--auto-approve", "--refresh=false"],
    ["state", "list"],
]

_MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"\(\d+\.\d+s\)"), "(<seconds>)"),
    (re.compile(r"l4plan-\d{8}T\d{6}Z"), "l4plan-<stamp>"),
    (re.compile(r"pid \d+"), "pid <pid>"),
    (re.compile(r'"config_hash": "[0-9a-f]+"'), '"config_hash": "<hash>"'),
]


def _masked(text: str, workdir: Path) -> str:
    text = text.replace(str(workdir), "<workdir>")
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def _env() -> dict[str, str | None]:
    """The environment of every command: no colour, no L4PLAN_ setting from outside,
    and every agent endpoint on the discard port, where nothing listens."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("L4PLAN_")}
    env["NO_COLOR"] = "1"
    for name in ("agent_endpoint", "agent_a_endpoint", "agent_b_endpoint"):
        env[f"L4PLAN_VAR_{name}"] = "http://127.0.0.1:9"
    return env


def transcript() -> str:
    """Run SCRIPT in a copy of every example, in this process (click's runner, so a
    before/after comparison costs no interpreter start per command)."""
    from click.testing import CliRunner

    from l4plan.cli.main import cli, load_commands

    load_commands()
    out: list[str] = []
    home = Path.cwd()
    for example in sorted((ROOT / "examples").iterdir()):
        if not any(example.glob("*.hcl")):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp) / example.name
            shutil.copytree(example, workdir)
            os.chdir(workdir)
            try:
                for args in SCRIPT:
                    done = CliRunner().invoke(cli, args, env=_env())
                    code = done.exit_code
                    out.append(f"=== {example.name}: l4plan {' '.join(args)} -> {code}")
                    out.append("--- stdout")
                    out.append(_masked(done.stdout, workdir))
                    out.append("--- stderr")
                    out.append(_masked(done.stderr, workdir))
                    if done.exception is not None and not isinstance(done.exception, SystemExit):
                        out.append(
                            f"--- exception {type(done.exception).__name__}: {done.exception}"
                        )
            finally:
                os.chdir(home)
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(transcript())
