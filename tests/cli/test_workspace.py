"""`workspace list|show|new|select|delete` with the local and the pg backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from l4plan.states import dump_state_json
from l4plan.states.local import LocalBackend
from tests.states.support import (
    cli_runner,
    pg_backend_block,
    pg_schema,
    sample_state,
    write_config,
)

__all__ = ["pg_schema"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("L4PLAN_WORKSPACE", "L4PLAN_PG_CONN_STR"):
        monkeypatch.delenv(name, raising=False)


def ok(tmp_path: Path, *args: str) -> str:
    result = cli_runner(tmp_path, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fails(tmp_path: Path, *args: str) -> str:
    result = cli_runner(tmp_path, list(args))
    assert result.exit_code == 1, result.output
    return result.output


def exercise_workspaces(tmp_path: Path) -> None:
    assert ok(tmp_path, "workspace", "show") == "default\n"
    assert ok(tmp_path, "workspace", "list") == "* default\n"
    assert 'switched to workspace "prod"' in ok(tmp_path, "workspace", "new", "prod")
    assert ok(tmp_path, "workspace", "show") == "prod\n"
    ok(tmp_path, "workspace", "new", "staging")
    assert ok(tmp_path, "workspace", "list") == "  default\n  prod\n* staging\n"
    assert "already exists" in fails(tmp_path, "workspace", "new", "prod")
    # each workspace has its own state
    (tmp_path / "s.json").write_text(dump_state_json(sample_state(1)))
    ok(tmp_path, "state", "push", "s.json")
    assert "l4_site.main" in ok(tmp_path, "state", "list")
    ok(tmp_path, "workspace", "select", "prod")
    assert ok(tmp_path, "state", "list") == ""
    assert "does not exist" in fails(tmp_path, "workspace", "select", "nope")
    assert "Created workspace" in ok(tmp_path, "workspace", "select", "--or-create", "nope")
    # deleting: never default, never the selected one, never a state with resources
    assert "cannot be deleted" in fails(tmp_path, "workspace", "delete", "default")
    assert "is selected" in fails(tmp_path, "workspace", "delete", "nope")
    ok(tmp_path, "workspace", "select", "prod")
    ok(tmp_path, "workspace", "delete", "nope")
    assert "still manages 2 resource" in fails(tmp_path, "workspace", "delete", "staging")
    assert 'Deleted workspace "staging"' in ok(
        tmp_path, "workspace", "delete", "--force", "staging"
    )
    assert ok(tmp_path, "workspace", "list") == "  default\n* prod\n"
    assert "invalid workspace name" in fails(tmp_path, "workspace", "new", "../escape")


def test_local_workspaces(tmp_path: Path) -> None:
    exercise_workspaces(tmp_path)
    assert (tmp_path / "l4plan.d" / "prod").is_dir()
    assert not (tmp_path / "l4plan.d" / "staging").exists()
    assert (tmp_path / ".l4plan" / "environment").read_text() == "prod\n"


def test_pg_workspaces(tmp_path: Path, pg_schema: str) -> None:
    write_config(tmp_path, pg_backend_block(pg_schema))
    ok(tmp_path, "init")
    exercise_workspaces(tmp_path)


def test_the_environment_variable_overrides_the_selection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(tmp_path, "workspace", "new", "blue")
    ok(tmp_path, "workspace", "new", "green")
    monkeypatch.setenv("L4PLAN_WORKSPACE", "blue")
    assert ok(tmp_path, "workspace", "show") == "blue\n"
    (tmp_path / "s.json").write_text(dump_state_json(sample_state(1)))
    ok(tmp_path, "state", "push", "s.json")
    assert LocalBackend(tmp_path, workspace="blue").read() is not None
    assert LocalBackend(tmp_path, workspace="green").read() is None
    assert "L4PLAN_WORKSPACE" in fails(tmp_path, "workspace", "select", "green")
    monkeypatch.setenv("L4PLAN_WORKSPACE", "missing")
    assert "workspace 'missing' does not exist" in fails(tmp_path, "state", "list")
