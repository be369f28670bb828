"""`l4plan` lists its commands without importing them and loads one only to run it."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from l4plan.cli.main import COMMANDS, cli, load_commands

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from l4plan.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("networkx", "deepdiff", "rich", "jsonschema", "lark", "hcl2", "tempfile",
         "l4plan.plans", "l4plan.states", "l4plan.agents", "l4plan.apply",
         "l4plan.workflows.options", "l4plan.configs", "dns")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
"""


def _fresh(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> tuple[str, list[str]]:
    """stdout of `l4plan ARGS` in a new interpreter, and the heavy modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=True,
    )
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def test_every_listed_command_is_the_command_it_names() -> None:
    load_commands()
    for name, (_, _, first_paragraph) in COMMANDS.items():
        command = cli.commands[name]
        assert isinstance(command, click.Command) and command.name == name
        assert inspect.cleandoc(command.help or "").split("\n\n")[0] == first_paragraph


def test_help_without_the_commands_is_the_help_with_them() -> None:
    listed, imported = _fresh("--help")
    assert imported == []
    load_commands()
    assert listed == CliRunner().invoke(cli, ["--help"], prog_name="l4plan").output


def test_version_imports_nothing_it_does_not_need() -> None:
    printed, imported = _fresh("version")
    assert printed.startswith("l4plan v") and imported == []


def test_validate_imports_only_the_configuration_layer(tmp_path: Path) -> None:
    """Once the parser tables are cached, a valid configuration is loaded and checked
    without lark, the planner, the state, the agents or the operations' options."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    quickstart = REPO / "examples" / "quickstart"
    _fresh("validate", cwd=quickstart, env=env)  # builds and caches the parser tables
    printed, imported = _fresh("validate", cwd=quickstart, env=env)
    assert printed == "Success! The configuration is valid.\n"
    assert imported == ["l4plan.configs"]


def test_show_imports_no_dns_client_until_a_zone_is_asked(tmp_path: Path) -> None:
    """The plan commands' module (plan, show, graph) imports dnspython only when a
    zone is asked (l4plan/dns/errors.py): show without a state asks none."""
    (tmp_path / "main.l4.hcl").write_bytes((REPO / "examples/quickstart/main.l4.hcl").read_bytes())
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    printed, imported = _fresh("show", cwd=tmp_path, env=env)
    assert printed == "No state.\n"
    assert "l4plan.plans" in imported and "dns" not in imported
