"""`state`, `output`, `init` and `force-unlock` commands over real directories and processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from l4plan.states import dump_state_json, load_state_json
from l4plan.states.local import LocalBackend
from tests.states.support import (
    cli_runner,
    driver,
    env,
    kill,
    pg_backend_block,
    pg_schema,
    sample_state,
    start,
    wait_line,
    write_config,
)
from tests.states.support import l4plan as run_l4plan

__all__ = ["pg_schema"]

L4PLAN = [sys.executable, "-c", "from l4plan.cli.main import main; main()"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # -C changes the process directory; restore it afterwards
    for name in ("L4PLAN_WORKSPACE", "L4PLAN_PG_CONN_STR"):
        monkeypatch.delenv(name, raising=False)


def pushed(tmp_path: Path, n_apps: int = 2, serial: int = 3):  # type: ignore[no-untyped-def]
    state = sample_state(n_apps, serial=serial)
    (tmp_path / "in.json").write_text(dump_state_json(state))
    result = cli_runner(tmp_path, ["state", "push", "in.json"])
    assert result.exit_code == 0, result.output
    return state


def test_without_state_the_read_commands_print_nothing(tmp_path: Path) -> None:
    for args in (["state", "list"], ["state", "pull"]):
        result = cli_runner(tmp_path, args)
        assert (result.exit_code, result.output) == (0, "")
    result = cli_runner(tmp_path, ["output"])
    assert result.exit_code == 0 and "no outputs found" in result.output


def test_push_list_show_pull(tmp_path: Path) -> None:
    state = pushed(tmp_path)
    listed = cli_runner(tmp_path, ["state", "list"]).output.splitlines()
    assert listed == ["l4_site.main", 'l4_application.game["0"]', 'l4_application.game["1"]']
    only = cli_runner(tmp_path, ["state", "list", "l4_application.game"]).output.splitlines()
    assert only == ['l4_application.game["0"]', 'l4_application.game["1"]']
    by_id = cli_runner(tmp_path, ["state", "list", "--id", "g1.example.com"]).output
    assert by_id == 'l4_application.game["1"]\n'
    shown = cli_runner(tmp_path, ["state", "show", 'l4_application.game["0"]']).output
    assert 'resource "l4_application" "game" {' in shown
    assert 'domain = "g0.example.com"' in shown
    assert "origin    = (sensitive value)" in shown and "10.0.0.1" not in shown
    assert "# agent hz1: revision 1" in shown
    pulled = cli_runner(tmp_path, ["state", "pull"]).output
    assert load_state_json(pulled, source="pull").to_json() == state.to_json()
    missing = cli_runner(tmp_path, ["state", "show", "l4_site.other"])
    assert missing.exit_code == 1 and "no resource instance l4_site.other" in missing.output
    bad = cli_runner(tmp_path, ["state", "show", "not an address"])
    assert bad.exit_code == 1 and "invalid resource address 'not an address'" in bad.output


def test_push_refuses_to_lose_history_unless_forced(tmp_path: Path) -> None:
    state = pushed(tmp_path, serial=5)
    other = sample_state(1, serial=9)
    (tmp_path / "other.json").write_text(dump_state_json(other))
    refused = cli_runner(tmp_path, ["state", "push", "other.json"])
    assert refused.exit_code == 1 and "a different history. Use --force" in refused.output
    older = sample_state(1, lineage=state.lineage, serial=4)
    (tmp_path / "older.json").write_text(dump_state_json(older))
    refused = cli_runner(tmp_path, ["state", "push", "older.json"])
    assert refused.exit_code == 1 and "the state is at serial 5" in refused.output
    same = cli_runner(tmp_path, ["state", "push", "in.json"])
    assert same.exit_code == 0 and "already identical" in same.output
    current = LocalBackend(tmp_path).read()
    assert current is not None and current.to_json() == state.to_json()
    forced = cli_runner(tmp_path, ["state", "push", "--force", "older.json"])
    assert forced.exit_code == 0, forced.output
    current = LocalBackend(tmp_path).read()
    assert current is not None and current.serial == 6 and len(current.resources) == 2
    (tmp_path / "broken.json").write_text('{"version": 1}')
    broken = cli_runner(tmp_path, ["state", "push", "broken.json"])
    assert broken.exit_code == 1 and "broken.json: the state is invalid" in broken.output


def test_rm_takes_a_backup_and_bumps_the_serial(tmp_path: Path) -> None:
    state = pushed(tmp_path)
    dry = cli_runner(tmp_path, ["state", "rm", "--dry-run", "l4_application.game"])
    assert dry.exit_code == 0 and dry.output.count("Would remove") == 2
    assert "Successfully" not in dry.output
    assert LocalBackend(tmp_path).read().serial == 3  # type: ignore[union-attr]
    result = cli_runner(tmp_path, ["state", "rm", 'l4_application.game["1"]', "l4_site.main"])
    assert result.exit_code == 0, result.output
    assert "Successfully removed 2 resource instance(s)" in result.output
    current = LocalBackend(tmp_path).read()
    assert current is not None and current.serial == 4
    assert list(current.resources) == ['l4_application.game["0"]']
    (backup,) = tmp_path.glob("l4plan-*.tfstate.json.backup")
    assert backup.stat().st_mode & 0o777 == 0o600
    assert load_state_json(backup.read_text(), source="b").to_json() == state.to_json()
    missing = cli_runner(tmp_path, ["state", "rm", "l4_site.main"])
    assert (
        missing.exit_code == 1 and "no resource in the state matches l4_site.main" in missing.output
    )
    assert LocalBackend(tmp_path).read().serial == 4  # type: ignore[union-attr]


def test_mv_renames_instances_and_dependencies(tmp_path: Path) -> None:
    pushed(tmp_path)
    result = cli_runner(tmp_path, ["state", "mv", "--backup", "-", "l4_site.main", "l4_site.home"])
    assert result.exit_code == 0, result.output
    assert not list(tmp_path.glob("l4plan-*.backup"))
    result = cli_runner(tmp_path, ["state", "mv", "l4_application.game", "l4_application.play"])
    assert result.output.count("Move l4_application.game[") == 2
    result = cli_runner(
        tmp_path, ["state", "mv", 'l4_application.play["0"]', "l4_application.single"]
    )
    assert result.exit_code == 0, result.output
    state = LocalBackend(tmp_path).read()
    assert state is not None and state.serial == 6
    assert list(state.resources) == [
        "l4_site.home",
        "l4_application.single",
        'l4_application.play["1"]',
    ]
    single = state.resources["l4_application.single"]
    assert (single.name, single.index_key, single.dependencies) == (
        "single",
        None,
        ["l4_site.home"],
    )
    wrong = cli_runner(tmp_path, ["state", "mv", "l4_site.home", "l4_application.home"])
    assert wrong.exit_code == 1 and "a resource keeps its type" in wrong.output
    taken = cli_runner(
        tmp_path, ["state", "mv", "l4_application.single", 'l4_application.play["1"]']
    )
    assert taken.exit_code == 1 and "already exists in the state" in taken.output
    keyed = cli_runner(
        tmp_path, ["state", "mv", "l4_application.single", 'l4_application.play["0"]']
    )
    assert keyed.exit_code == 0, keyed.output
    moved = LocalBackend(tmp_path).read()
    assert moved is not None and moved.resources['l4_application.play["0"]'].index_key == "0"


def test_output_masks_sensitive_values_unless_asked_by_name(tmp_path: Path) -> None:
    pushed(tmp_path)
    listed = cli_runner(tmp_path, ["output"])
    assert listed.output == 'endpoint = "g0.example.com"\ntoken = <sensitive>\n'
    assert cli_runner(tmp_path, ["output", "token"]).output == '"s3cret"\n'
    assert cli_runner(tmp_path, ["output", "endpoint", "--raw"]).output == "g0.example.com\n"
    data = json.loads(cli_runner(tmp_path, ["output", "--json"]).output)
    assert data["token"] == {"sensitive": True, "type": "string", "value": "s3cret"}
    missing = cli_runner(tmp_path, ["output", "nope"])
    assert missing.exit_code == 1 and 'output "nope" not found' in missing.output


def test_a_second_writer_gets_a_lock_error_naming_the_holder(tmp_path: Path) -> None:
    pushed(tmp_path)
    holder = start(driver({"type": "local"}, tmp_path, "hold"))
    try:
        lock_id = wait_line(holder, "locked ").split()[1]
        result = run_l4plan(["state", "rm", "l4_site.main"], tmp_path)
        assert result.returncode == 1
        assert "Error: the state is locked by" in result.stderr
        assert f"PID:       {holder.pid}" in result.stderr and lock_id in result.stderr
        assert "Traceback" not in result.stderr
        cancelled = run_l4plan(["force-unlock", lock_id], tmp_path, input="no\n")
        assert cancelled.returncode == 1 and "cancelled" in cancelled.stderr
        assert (tmp_path / "l4plan.tfstate.json.lock").exists()
        unlocked = run_l4plan(["force-unlock", "--force", lock_id], tmp_path)
        assert unlocked.returncode == 0 and "successfully unlocked" in unlocked.stdout
        assert "still running" in unlocked.stderr
        result = run_l4plan(["state", "rm", "l4_site.main"], tmp_path)
        assert result.returncode == 0, result.stderr
    finally:
        kill(holder)


def test_lock_timeout_waits_for_the_holder(tmp_path: Path) -> None:
    pushed(tmp_path)
    holder = start(driver({"type": "local"}, tmp_path, "hold"))
    waiter = None
    try:
        wait_line(holder, "locked ")
        waiter = subprocess.Popen(
            [*L4PLAN, "state", "rm", "--lock-timeout", "30s", 'l4_application.game["0"]'],
            cwd=tmp_path,
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        assert waiter.poll() is None  # still waiting: the holder is alive
        kill(holder)  # the holder dies; the waiter takes the lock over
        _, err = waiter.communicate(timeout=30)
        assert waiter.returncode == 0, err
        assert "left by a holder that is gone" in err and f"pid {holder.pid}" in err
    finally:
        kill(holder)
        if waiter is not None and waiter.poll() is None:
            kill(waiter)
    state = LocalBackend(tmp_path).read()
    assert state is not None and state.serial == 4
    assert 'l4_application.game["0"]' not in state.resources


def test_configuration_errors_stop_state_commands_but_resource_errors_do_not(
    tmp_path: Path,
) -> None:
    (tmp_path / "main.l4.hcl").write_text('l4plan {\n  backend "pg" {\n    conn_str = \n')
    result = cli_runner(tmp_path, ["state", "list"])
    assert result.exit_code == 1 and "main.l4.hcl" in result.output
    (tmp_path / "main.l4.hcl").write_text(
        'resource "l4_site" "main" {\n  name = local.missing\n}\n'
    )
    result = cli_runner(tmp_path, ["state", "list"])
    assert result.exit_code == 0, result.output


def test_pg_backend_through_the_cli_and_migration_back_and_forth(
    tmp_path: Path, pg_schema: str
) -> None:
    state = pushed(tmp_path, serial=7)
    write_config(tmp_path, pg_backend_block(pg_schema))
    not_ready = cli_runner(tmp_path, ["state", "list"])
    assert not_ready.exit_code == 1 and "is not initialized" in not_ready.output
    refused = cli_runner(tmp_path, ["init"])
    assert refused.exit_code == 1 and "init --migrate-state" in refused.output
    result = cli_runner(tmp_path, ["init", "--migrate-state"])
    assert result.exit_code == 0, result.output
    assert "workspace default: copied (serial 7)" in result.output
    pulled = load_state_json(cli_runner(tmp_path, ["state", "pull"]).output, source="pg")
    assert pulled.to_json() == state.to_json()
    assert cli_runner(tmp_path, ["state", "rm", "l4_site.main"]).exit_code == 0
    write_config(tmp_path)  # back to the default local backend
    changed = cli_runner(tmp_path, ["state", "list"])
    assert changed.exit_code == 1 and "backend configuration changed" in changed.output
    result = cli_runner(tmp_path, ["init", "--migrate-state"])
    assert result.exit_code == 0, result.output
    local = LocalBackend(tmp_path).read()
    assert local is not None and (local.lineage, local.serial) == (state.lineage, 8)
    assert "l4_site.main" not in local.resources
    assert cli_runner(tmp_path, ["state", "list"]).exit_code == 0


def test_pg_errors_are_clear_and_carry_no_password(tmp_path: Path, pg_schema: str) -> None:
    from tests.ports import STATES, free_port

    port = free_port(STATES)
    write_config(
        tmp_path,
        '  backend "pg" {\n'
        f'    conn_str = "postgresql://postgres:hunter2@127.0.0.1:{port}/test"\n'
        "  }",
    )
    result = run_l4plan(["init"], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"postgresql://postgres@127.0.0.1:{port}/test: the server cannot be reached" in (
        result.stderr
    )
    assert "hunter2" not in result.stderr + result.stdout
