"""`l4plan plan` over real configuration directories and a real local state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import l4plan.cli.plan  # noqa: F401  (registers plan, show, graph)
from l4plan.cli.main import cli
from tests.plans.hcl import ACL, application, offline, read_state, record_apply, rule, write_config
from tests.plans.schema_check import assert_valid_plan_json

RunCli = Callable[..., subprocess.CompletedProcess[str]]

GAME = application("game", "play", [rule("18080"), rule("18081", "udp")])


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    for name in list(os.environ):
        if name.startswith("L4PLAN_"):
            monkeypatch.delenv(name)
    return tmp_path


def run(*args: str, color: bool = False, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, offline(args), color=color, env=env)


def plan_json(*args: str) -> dict:
    result = run("plan", "--json", *args)
    data = json.loads(result.stdout)
    assert_valid_plan_json(data)
    return data


def actions(data: dict) -> list[tuple[str, list[str]]]:
    return [
        (c["address"], c["action"]) for c in data["resource_changes"] if c["action"] != ["no-op"]
    ]


def test_fresh_state_plans_every_create_and_exits_2_with_detailed_exitcode(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    result = run("plan", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    assert "  # l4_site.main will be created" in lines
    assert "  # l4_application.game will be created" in lines
    assert "  # l4_ip_access_rule.office will be created" in lines
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in lines
    assert "Note: You didn't use the --out option" in result.stdout
    assert run("plan").exit_code == 0  # without --detailed-exitcode
    assert read_state(workdir) is None  # plan writes no state
    data = plan_json()
    assert data["summary"] == {"add": 3, "change": 0, "destroy": 0}
    assert data["prior_state"] is None
    assert data["resource_changes"][0]["address"] == "l4_site.main"


def test_identical_state_exits_0_with_no_changes(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    state = record_apply(workdir)
    result = run("plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No changes. Your infrastructure matches the configuration.")
    data = plan_json()
    assert actions(data) == []
    assert data["prior_state"] == {"lineage": state.lineage, "serial": 1}
    assert data["applyable"] is False


def test_rule_added_is_an_update(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    record_apply(workdir)
    write_config(
        workdir,
        ACL,
        application("game", "play", [rule("18080"), rule("18081", "udp"), rule("18090")]),
    )
    data = plan_json()
    assert actions(data) == [("l4_application.game", ["update"])]
    (game,) = [c for c in data["resource_changes"] if c["action"] == ["update"]]
    assert "rule" in game["changed_attributes"]
    assert game["agents"] == [{"name": "hz1", "action": "update"}]
    result = run("plan", "--detailed-exitcode")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert "  # l4_application.game will be updated in place" in lines
    assert "      + rule {" in lines
    assert '          + edge_port   = "18090"' in lines
    assert "        # (2 unchanged blocks hidden)" in lines
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in lines


def test_origin_port_changed_is_an_update_of_that_rule(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    record_apply(workdir)
    write_config(
        workdir,
        ACL,
        application("game", "play", [rule("18080", origin_port="9090"), rule("18081", "udp")]),
    )
    assert actions(plan_json()) == [("l4_application.game", ["update"])]
    lines = run("plan").stdout.splitlines()
    i = lines.index("      ~ rule {")
    assert lines[i + 1 : i + 4] == [
        '            edge_port   = "18080"',
        '          ~ origin_port = "8080" -> "9090"',
        '            protocol    = "tcp"',
    ]


def test_domain_changed_forces_replacement(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    record_apply(workdir)
    write_config(workdir, ACL, application("game", "arena", [rule("18080"), rule("18081", "udp")]))
    data = plan_json()
    assert actions(data) == [("l4_application.game", ["delete", "create"])]
    game = next(c for c in data["resource_changes"] if c["address"] == "l4_application.game")
    assert game["replace_paths"] == [["domain"]]
    assert game["before"]["id"] == "play.example.com"
    assert game["after"]["id"] == "arena.example.com"
    lines = run("plan").stdout.splitlines()
    assert "  # l4_application.game must be replaced" in lines
    assert '-/+ resource "l4_application" "game" {' in lines
    assert '      ~ domain      = "play" -> "arena" # forces replacement' in lines
    assert "Plan: 1 to add, 0 to change, 1 to destroy." in lines


def test_removed_resources_are_deleted_in_reverse_dependency_order(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    record_apply(workdir)
    write_config(workdir, site=False)
    data = plan_json()
    assert actions(data) == [
        ("l4_application.game", ["delete"]),
        ("l4_ip_access_rule.office", ["delete"]),
        ("l4_site.main", ["delete"]),
    ]
    result = run("plan", "--detailed-exitcode")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert "  # l4_application.game will be destroyed" in lines
    assert "  # (because l4_application.game is not in configuration)" in lines
    assert "Plan: 0 to add, 0 to change, 3 to destroy." in lines


def test_destroy_plans_every_recorded_resource(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    record_apply(workdir)
    data = plan_json("--destroy")
    assert data["mode"] == "destroy"
    assert [a for _, a in actions(data)] == [["delete"]] * 3


def test_configuration_errors_refuse_to_plan(workdir: Path) -> None:
    write_config(workdir, application("game", "play", [rule("18080,18080")]))
    result = run("plan", "--detailed-exitcode")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Error:" in result.stderr and "L4E003" in result.stderr
    assert "main.l4.hcl" in result.stderr
    data = json.loads(run("plan", "--json").stdout)
    assert_valid_plan_json(data)
    assert data["errored"] is True and data["resource_changes"] == []
    assert data["diagnostics"][0]["code"] == "L4E003"


def test_syntax_error_is_a_diagnostic_not_a_traceback(workdir: Path) -> None:
    (workdir / "main.l4.hcl").write_text('resource "l4_site" "x" {\n  name = \n}\n')
    result = run("plan")
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "main.l4.hcl" in result.stderr


def test_warnings_print_above_the_plan(workdir: Path) -> None:
    soon = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_config(workdir, GAME, expires=soon)
    result = run("plan")
    assert result.exit_code == 0
    assert "Warning:" in result.stderr and "L4W002" in result.stderr
    assert result.output.index("L4W002") < result.output.index("Plan: 2 to add")
    data = plan_json()
    assert [d["code"] for d in data["diagnostics"]] == ["L4W002"]


def test_prevent_destroy_refuses_the_plan(workdir: Path) -> None:
    guarded = application(
        "game", "play", [rule("18080")], extra="lifecycle {\n    prevent_destroy = true\n  }"
    )
    write_config(workdir, guarded)
    record_apply(workdir)
    write_config(
        workdir,
        application(
            "game", "arena", [rule("18080")], extra="lifecycle {\n    prevent_destroy = true\n  }"
        ),
    )
    result = run("plan", "--detailed-exitcode")
    assert result.exit_code == 1
    assert "L4E101" in result.stderr and "prevent_destroy" in result.stderr
    assert "Plan:" not in result.stdout


def test_ignore_changes_from_hcl(workdir: Path) -> None:
    lifecycle = "lifecycle {\n    ignore_changes = [rule]\n  }"
    write_config(workdir, application("game", "play", [rule("18080")], extra=lifecycle))
    record_apply(workdir)
    write_config(workdir, application("game", "play", [rule("18099")], extra=lifecycle))
    assert run("plan", "--detailed-exitcode").exit_code == 0


def test_target_limits_the_plan_and_warns(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    result = run("plan", "--target", "l4_application.game")
    assert result.exit_code == 0
    assert "Resource targeting is in effect" in result.stderr
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in result.stdout
    data = plan_json("--target", "l4_application.game")
    assert [c["address"] for c in data["resource_changes"]] == [
        "l4_site.main",
        "l4_application.game",
    ]
    assert data["targets"] == ["l4_application.game"]


def test_unknown_target_is_an_error(workdir: Path) -> None:
    write_config(workdir, GAME)
    result = run("plan", "--target", "l4_application.nope")
    assert result.exit_code == 1
    assert "--target l4_application.nope" in result.stderr
    assert "L4E102" in result.stderr


def test_var_and_var_file_shape_the_plan(workdir: Path) -> None:
    variable = 'variable "port" {\n  type = string\n}\n'
    write_config(workdir, variable, application("game", "play", [rule("${var.port}")]))
    data = plan_json("--var", "port=18111")
    game = next(c for c in data["resource_changes"] if c["type"] == "l4_application")
    assert game["after"]["rule"][0]["edge_port"] == "18111"
    (workdir / "ports.vars").write_text('port = "18222"\n')
    data = plan_json("--var-file", "ports.vars")
    game = next(c for c in data["resource_changes"] if c["type"] == "l4_application")
    assert game["after"]["rule"][0]["edge_port"] == "18222"
    missing = run("plan")
    assert missing.exit_code == 1 and "L4E017" in missing.stderr


def test_refresh_false_is_accepted(workdir: Path) -> None:
    write_config(workdir, GAME)
    record_apply(workdir)
    assert run("plan", "--refresh=false", "--detailed-exitcode").exit_code == 0
    assert run("plan", "--refresh", "false").exit_code == 0


def test_colour_follows_no_color(workdir: Path) -> None:
    write_config(workdir, GAME)
    coloured = run("plan", color=True)
    assert "\x1b[32m+\x1b[0m" in coloured.stdout
    assert "\x1b[" not in run("--no-color", "plan", color=True).stdout
    assert "\x1b[" not in run("plan", color=True, env={"NO_COLOR": "1"}).stdout
    assert "\x1b[" not in run("plan", "--no-color", color=True).stdout


def test_corrupt_state_is_a_clear_error(workdir: Path) -> None:
    write_config(workdir, GAME)
    (workdir / "l4plan.tfstate.json").write_text("{ not json")
    result = run("plan")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error:")
    assert "l4plan.tfstate.json" in result.stderr
    assert "Traceback" not in result.output


def test_missing_agent_after_a_partial_apply_plans_only_that_agent(workdir: Path) -> None:
    two = application("game", "play", [rule("18080")], extra="agents = [agent.hz1, agent.hz2]")
    write_config(workdir, two)
    state = record_apply(workdir)
    # the apply reached hz1 only: rewrite the state as a partial failure records it
    from l4plan.configs.model import BackendConfig
    from l4plan.states import open_backend

    del state.resources["l4_application.game"].agents["hz2"]
    backend = open_backend(BackendConfig(), workdir=workdir)
    expected = (state.lineage, state.serial)
    state.serial += 1
    backend.write(state, expected=expected)
    backend.close()
    data = plan_json()
    assert actions(data) == [("l4_application.game", ["update"])]
    game = next(c for c in data["resource_changes"] if c["type"] == "l4_application")
    assert game["agents"] == [
        {"name": "hz1", "action": "no-op"},
        {"name": "hz2", "action": "create"},
    ]
    assert game["action_reason"] == "update_because_agents_missing"
    assert '  # (because agent "hz2" has not acknowledged it)' in run("plan").stdout.splitlines()


def test_for_each_key_removed_says_why(workdir: Path) -> None:
    each = application(
        "game",
        "${each.key}",
        [rule("${each.value}")],
        extra='for_each = { eu = "18001", us = "18002" }',
    )
    write_config(workdir, each)
    record_apply(workdir)
    write_config(workdir, each.replace(', us = "18002"', ""))
    result = run("plan")
    assert '  # l4_application.game["us"] will be destroyed' in result.stdout.splitlines()
    assert '  # (because key ["us"] is not in for_each map)' in result.stdout.splitlines()


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from l4plan.configs.model import BackendConfig
from l4plan.states import open_backend
backend = open_backend(BackendConfig(), workdir=Path(sys.argv[1]))
with backend.lock("apply"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_lock(workdir: Path, seconds: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(workdir), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_plan_warns_when_a_writer_holds_the_lock(workdir: Path) -> None:
    write_config(workdir, GAME)
    holder = _hold_lock(workdir, 30)
    try:
        result = run("plan", "--lock-timeout", "200ms")
        assert result.exit_code == 0
        assert "L4W102" in result.stderr
        assert "The state is locked by" in result.stderr and f"pid {holder.pid}" in result.stderr
        assert '"apply"' in result.stderr
        assert "Plan: 2 to add" in result.stdout
        no_wait = run("plan", "--no-lock")
        assert "L4W102" not in no_wait.stderr
    finally:
        holder.kill()
        holder.wait()


def test_plan_waits_for_a_writer_that_finishes_in_time(workdir: Path) -> None:
    write_config(workdir, GAME)
    holder = _hold_lock(workdir, 0.5)
    try:
        result = run("plan", "--lock-timeout", "20s")
        assert result.exit_code == 0
        assert "L4W102" not in result.stderr
        assert holder.wait(timeout=5) == 0
    finally:
        holder.kill()
        holder.wait()


def test_subprocess_exit_codes(workdir: Path, l4plan: RunCli) -> None:
    write_config(workdir, ACL, GAME)
    # these agents do not run: refreshing them would fail the detailed exit code (L4E103)
    fresh = l4plan("plan", "--refresh=false", "--detailed-exitcode", "--no-color", cwd=workdir)
    assert fresh.returncode == 2, fresh.stderr
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in fresh.stdout
    usage = l4plan("plan", "--no-such-option", cwd=workdir)
    assert usage.returncode == 1  # not click's 2, which would read as "changes"
    assert "No such option" in usage.stderr
    record_apply(workdir)
    same = l4plan("plan", "--refresh=false", "--detailed-exitcode", cwd=workdir)
    assert same.returncode == 0
    assert "No changes." in same.stdout
    unseen = l4plan("plan", "--detailed-exitcode", cwd=workdir)
    assert unseen.returncode == 1 and "(L4E103)" in unseen.stderr
    chdir = l4plan("-C", str(workdir), "plan", "--json", cwd=workdir.parent)
    assert chdir.returncode == 0
    assert_valid_plan_json(json.loads(chdir.stdout))


def test_reordered_rules_and_agents_are_no_change(workdir: Path) -> None:
    """Rule blocks and agents carry no order, so neither do the attributes computed
    from them (endpoints, dns_records) nor an output that shows them."""
    outputs = (
        'output "eps" {\n  value = l4_application.game.endpoints\n}\n'
        'output "dns" {\n  value = l4_application.game.dns_records\n}\n'
    )
    game = application(
        "game", "play", [rule("18080"), rule("18081", "udp")], "agents = [agent.hz1, agent.hz2]"
    )
    write_config(workdir, game, outputs)
    record_apply(workdir)
    swapped = application(
        "game", "play", [rule("18081", "udp"), rule("18080")], "agents = [agent.hz2, agent.hz1]"
    )
    write_config(workdir, swapped, outputs)
    result = run("plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("No changes.")


def test_a_state_holding_infinity_is_refused_not_echoed(workdir: Path) -> None:
    """Python reads `Infinity` in JSON unless told not to; l4plan must not, or it
    would write it back in plan JSON, `output --json` and the next state."""
    write_config(workdir, GAME, 'output "n" {\n  value = 1\n}\n')
    record_apply(workdir)
    path = workdir / "l4plan.tfstate.json"
    text = path.read_text()
    assert '"value": 1' in text
    path.write_text(text.replace('"value": 1', '"value": Infinity'))
    for args in (("plan", "--json"), ("output", "--json"), ("show", "--json")):
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "Infinity" not in result.stdout, args
        assert "not valid JSON" in result.output, (args, result.output)
