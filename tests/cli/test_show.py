"""`l4plan plan --out` and `l4plan show`: saved plans, their formats, and the state."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import l4plan.cli.plan  # noqa: F401  (registers plan, show, graph)
from l4plan.cli.main import cli
from l4plan.configs import load_config
from l4plan.plans import StalePlanError, check_fresh, load_planfile
from tests.plans.hcl import ACL, application, offline, read_state, record_apply, rule, write_config
from tests.plans.schema_check import assert_valid_plan_json

RunCli = Callable[..., subprocess.CompletedProcess[str]]

SECRET = """
variable "origin" {
  type      = string
  sensitive = true
}
"""
GAME = application("game", "play", [rule("18080"), rule("18081", "udp")])


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, offline(args))


def test_out_saves_a_plan_that_show_renders_in_every_format(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    record_apply(workdir)
    write_config(workdir, ACL, application("game", "arena", [rule("18080")]))
    planned = run("plan", "--out", "tfplan")
    assert planned.exit_code == 0, planned.output
    assert "Saved the plan to: tfplan" in planned.stdout
    assert 'l4plan apply "tfplan"' in planned.stdout
    assert stat.S_IMODE(os.stat(workdir / "tfplan").st_mode) == 0o600

    human = run("show", "tfplan")
    assert human.exit_code == 0
    assert "  # l4_application.game must be replaced" in human.stdout.splitlines()
    assert "Plan: 1 to add, 0 to change, 1 to destroy." in human.stdout.splitlines()

    shown = run("show", "--json", "tfplan")
    data = json.loads(shown.stdout)
    assert_valid_plan_json(data)
    assert data == json.loads(run("plan", "--json").stdout)
    assert json.loads(run("show", "--format", "json", "tfplan").stdout) == data

    md = run("show", "--format", "markdown", "tfplan")
    assert md.exit_code == 0
    assert md.stdout.startswith("### l4plan plan: 1 to add, 0 to change, 1 to destroy\n")
    assert "```diff" in md.stdout
    assert "| `l4_application.game` | replace (destroy, then create) | hz1 (replace) |" in md.stdout


def test_saved_plan_goes_stale_when_state_or_configuration_moves(workdir: Path) -> None:
    write_config(workdir, GAME)
    assert run("plan", "--out", "p.gz").exit_code == 0
    saved = load_planfile(workdir / "p.gz")
    check_fresh(saved, load_config(workdir), read_state(workdir))  # still fresh
    record_apply(workdir)
    with pytest.raises(StalePlanError, match="no state existed, and now there is one"):
        check_fresh(saved, load_config(workdir), read_state(workdir))

    assert run("plan", "--out", "p2").exit_code == 0
    record_apply(workdir)  # serial 1 -> 2
    with pytest.raises(StalePlanError, match="the state serial moved from 1 to 2"):
        check_fresh(load_planfile(workdir / "p2"), load_config(workdir), read_state(workdir))

    assert run("plan", "--out", "p3").exit_code == 0
    write_config(workdir, application("game", "play", [rule("18080")]))
    with pytest.raises(StalePlanError, match="configuration changed"):
        check_fresh(load_planfile(workdir / "p3"), load_config(workdir), read_state(workdir))


def test_sensitive_values_are_masked_in_output_but_kept_in_the_plan_file(workdir: Path) -> None:
    write_config(
        workdir,
        SECRET,
        application("game", "play", [rule("18080")]).replace(
            'origin      = "127.0.0.1"', "origin      = var.origin"
        ),
    )
    result = run("plan", "--var", "origin=10.9.8.7", "--out", "p")
    assert result.exit_code == 0, result.output
    assert "10.9.8.7" not in result.stdout
    assert "(sensitive value)" in result.stdout
    assert "10.9.8.7" not in run("show", "p").stdout
    assert "10.9.8.7" not in run("show", "--json", "p").stdout
    assert "10.9.8.7" not in run("show", "--format", "markdown", "p").stdout
    assert "10.9.8.7" in (workdir / "p").read_text()  # apply needs it; the file is 0600
    saved = load_planfile(workdir / "p")
    assert saved.variables["origin"] == "10.9.8.7"


def test_show_repeats_the_warnings_of_a_saved_plan(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    assert run("plan", "--target", "l4_application.game", "--out", "p").exit_code == 0
    shown = run("show", "p")
    assert "Resource targeting is in effect" in shown.stderr
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in shown.stdout


def test_errored_plan_is_not_saved(workdir: Path) -> None:
    write_config(workdir, application("game", "play", [rule("18080,18080")]))
    assert run("plan", "--out", "p").exit_code == 1
    assert not (workdir / "p").exists()


def test_show_refuses_a_file_that_is_not_a_plan(workdir: Path) -> None:
    (workdir / "notes.txt").write_text("hello")
    result = run("show", "notes.txt")
    assert result.exit_code == 1
    assert "notes.txt is not an l4plan plan file" in result.stderr
    missing = run("show", "nope")
    assert missing.exit_code == 1 and "cannot read plan file nope" in missing.stderr


def test_show_without_a_file_shows_the_state(workdir: Path) -> None:
    write_config(workdir, GAME)
    assert run("show").stdout == "No state.\n"
    state = record_apply(workdir)
    shown = run("show")
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert "# l4_application.game:" in lines
    assert 'resource "l4_application" "game" {' in lines
    assert '    domain              = "play"' in lines
    data = json.loads(run("show", "--json").stdout)
    assert data["lineage"] == state.lineage and data["serial"] == 1


def test_show_usage_errors(workdir: Path, l4plan: RunCli) -> None:
    write_config(workdir, GAME)
    both = l4plan("show", "--json", "--format", "markdown", "x", cwd=workdir)
    assert both.returncode == 1 and "exclude each other" in both.stderr
    md = l4plan("show", "--format", "markdown", cwd=workdir)
    assert md.returncode == 1 and "--format markdown shows a saved plan" in md.stderr
