"""Moved and import blocks in a plan: carried out on the state the plan is made
against, shown as Terraform shows them, and recorded by apply."""

from __future__ import annotations

import copy
from pathlib import Path

from l4plan.agents.placement import desired_placements
from l4plan.agents.refresh import AgentSnapshot, RunningApp
from l4plan.apply.record import next_state
from l4plan.configs import load_config
from l4plan.configs.model import Config
from l4plan.plans import Action, build_plan, plan_from_json, plan_to_json, render_plan
from l4plan.plans.base import planning_base
from l4plan.plans.render_markdown import render_markdown
from l4plan.states.model import AgentAck, State
from tests.plans.factory import applied
from tests.plans.hcl import application, rule, write_config
from tests.plans.schema_check import assert_valid_plan_json

ON_HZ1 = "agents = [agent.hz1]"


def _load(directory: Path, *blocks: str) -> Config:
    config = load_config(write_config(directory, *blocks), environ={})
    assert config.diagnostics == [], config.diagnostics
    return config


def _app(name: str, extra: str = ON_HZ1, port: str = "80") -> str:
    return application(name, "play", [rule(port)], extra)


def _moved(source: str, destination: str) -> str:
    return f"\nmoved {{\n  from = {source}\n  to   = {destination}\n}}\n"


def _import(to: str, name: str = "play.example.com") -> str:
    return f'\nimport {{\n  to = {to}\n  id = "{name}"\n}}\n'


def _changes(plan) -> list[tuple[str, Action, str | None]]:
    return [(c.address, c.action, c.previous_address) for c in plan.changes]


def test_a_renamed_resource_has_moved_and_is_neither_destroyed_nor_created(
    tmp_path: Path,
) -> None:
    state = applied(_load(tmp_path, _app("old")))
    without_block = build_plan(_load(tmp_path, _app("new")), state)
    assert without_block.summary.add == 1 and without_block.summary.destroy == 1

    config = _load(tmp_path, _app("new"), _moved("l4_application.old", "l4_application.new"))
    plan = build_plan(config, state)
    assert not plan.errored, plan.diagnostics
    assert _changes(plan) == [
        ("l4_site.main", Action.NOOP, None),
        ("l4_application.new", Action.NOOP, "l4_application.old"),
    ]
    assert plan.changes[1].agents == {"hz1": "no-op"}  # nothing is sent to the agent
    assert plan.has_changes and plan.summary.add == plan.summary.destroy == 0
    text = render_plan(plan, color=False)
    assert "  # l4_application.old has moved to l4_application.new\n" in text
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in text
    assert "No changes." not in text and "symbols" not in text
    assert "**`l4_application.old`** has moved to l4_application.new" in render_markdown(plan)
    data = plan_to_json(plan)
    assert_valid_plan_json(data)
    moved = data["resource_changes"][1]
    assert moved["previous_address"] == "l4_application.old" and moved["action"] == ["no-op"]
    assert "previous_address" not in data["resource_changes"][0]
    assert data["applyable"] is True

    recorded = next_state(plan, _moved_base(config, state), {})
    assert set(recorded.resources) == {"l4_site.main", "l4_application.new"}
    assert (
        recorded.resources["l4_application.new"].agents
        == state.resources["l4_application.old"].agents
    )
    after = build_plan(config, recorded)  # the block stays, and does nothing more
    assert not after.has_changes and "No changes." in render_plan(after, color=False)


def _moved_base(config: Config, state: State) -> State:
    """The state apply records from: the plan's base, moves carried out."""
    base = planning_base(config, state, None, "normal").state
    assert base is not None
    return base


def test_a_moved_resource_that_also_changes_is_updated_and_says_where_from(
    tmp_path: Path,
) -> None:
    state = applied(_load(tmp_path, _app("old")))
    config = _load(
        tmp_path, _app("new", port="81"), _moved("l4_application.old", "l4_application.new")
    )
    plan = build_plan(config, state)
    change = plan.changes[1]
    assert (change.address, change.action) == ("l4_application.new", Action.UPDATE)
    text = render_plan(plan, color=False)
    assert "  # l4_application.new will be updated in place\n" in text
    assert "  # (moved from l4_application.old)\n" in text
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in text


def test_a_chain_of_moves_is_followed_to_its_end(tmp_path: Path) -> None:
    state = applied(_load(tmp_path, _app("a")))
    config = _load(
        tmp_path,
        _app("c"),
        _moved("l4_application.b", "l4_application.c"),
        _moved("l4_application.a", "l4_application.b"),
    )
    plan = build_plan(config, state)
    assert not plan.errored, plan.diagnostics
    assert _changes(plan)[1] == ("l4_application.c", Action.NOOP, "l4_application.a")


def test_moves_into_count_and_out_of_for_each(tmp_path: Path) -> None:
    state = applied(_load(tmp_path, _app("solo")))
    into = _load(
        tmp_path,
        _app("solo", ON_HZ1 + "\n  count = 1"),
        _moved("l4_application.solo", "l4_application.solo[0]"),
    )
    plan = build_plan(into, state)
    assert _changes(plan)[1] == ("l4_application.solo[0]", Action.NOOP, "l4_application.solo")
    assert "# l4_application.solo has moved to l4_application.solo[0]" in render_plan(
        plan, color=False
    )

    keyed = application("regional", "play", [rule("80")], ON_HZ1 + '\n  for_each = toset(["eu"])')
    state = applied(_load(tmp_path, keyed))
    out = _load(tmp_path, _app("eu"), _moved('l4_application.regional["eu"]', "l4_application.eu"))
    plan = build_plan(out, state)
    assert _changes(plan)[1] == ("l4_application.eu", Action.NOOP, 'l4_application.regional["eu"]')


def test_a_move_onto_an_address_in_the_state_is_an_error(tmp_path: Path) -> None:
    both = _load(tmp_path, _app("old"), application("new", "other", [rule("81")], ON_HZ1))
    state = applied(both)
    config = _load(
        tmp_path,
        application("new", "other", [rule("81")], ON_HZ1),
        _moved("l4_application.old", "l4_application.new"),
    )
    plan = build_plan(config, state)
    assert plan.errored and plan.changes == []
    [error] = [d for d in plan.diagnostics if d.is_error]
    assert (error.code, error.file) == ("L4E104", "main.l4.hcl")
    assert config.files["main.l4.hcl"].splitlines()[error.line - 1] == "moved {"
    assert "Unresolved resource instance address changes" in error.message
    assert "l4_application.new already exists in the state" in error.message


def _snapshot(config: Config, address: str, *, revision: int = 5, spec=None) -> AgentSnapshot:
    placement = desired_placements(config)[address]
    running = spec if spec is not None else placement.spec
    return AgentSnapshot("hz1", revision, {placement.name: RunningApp(running, "agent-hash")})


def test_an_import_that_matches_what_runs_is_imported_and_nothing_else(tmp_path: Path) -> None:
    config = _load(tmp_path, _app("game"), _import("l4_application.game"))
    state = applied(_load(tmp_path))  # the site only
    snapshots = {"hz1": _snapshot(config, "l4_application.game")}
    plan = build_plan(config, state, refreshed=state, snapshots=snapshots)
    assert not plan.errored, plan.diagnostics
    game = plan.changes[-1]
    assert (game.address, game.action, game.importing) == (
        "l4_application.game",
        Action.NOOP,
        "play.example.com",
    )
    assert game.agents == {"hz1": "no-op"}
    assert plan.imports == 1 and plan.has_changes
    text = render_plan(plan, color=False)
    assert "  # l4_application.game will be imported\n" in text
    assert '        domain              = "play"' in text  # the whole resource is shown
    assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy." in text
    data = plan_to_json(plan)
    assert_valid_plan_json(data)
    assert data["resource_changes"][-1]["importing"] == {"id": "play.example.com"}
    assert data["summary"] == {"add": 0, "change": 0, "destroy": 0, "import": 1}
    restored = plan_from_json(plan_to_json(plan, reveal_sensitive=True))
    assert restored.changes[-1].importing == "play.example.com"

    base = planning_base(config, state, snapshots, "normal").state
    recorded = next_state(plan, base, {})
    spec_hash = desired_placements(config)["l4_application.game"].spec_hash
    assert recorded.resources["l4_application.game"].agents == {"hz1": AgentAck(5, spec_hash)}
    assert recorded.resources["l4_application.game"].attributes["revisions"] == {"hz1": 5}
    after = build_plan(config, recorded, refreshed=recorded, snapshots=snapshots)
    assert not after.has_changes  # the block stays and does nothing more


def test_an_import_of_something_else_than_configured_plans_the_update(tmp_path: Path) -> None:
    other = _load(tmp_path, _app("game", port="99"))
    running = desired_placements(other)["l4_application.game"].spec
    config = _load(tmp_path, _app("game"), _import("l4_application.game"))
    snapshots = {"hz1": _snapshot(config, "l4_application.game", spec=running)}
    plan = build_plan(config, None, refreshed=None, snapshots=snapshots)
    game = plan.changes[-1]
    assert (game.action, game.importing, game.agents) == (
        Action.UPDATE,
        "play.example.com",
        {"hz1": "update"},
    )
    text = render_plan(plan, color=False)
    assert "  # l4_application.game will be updated in place\n" in text
    assert '  # (imported from "play.example.com")\n' in text
    assert "Plan: 1 to import, 1 to add, 1 to change, 0 to destroy." in text  # and the site


def test_imports_that_cannot_be_made_are_L4E105(tmp_path: Path) -> None:
    config = _load(tmp_path, _app("game"), _import("l4_application.game"))
    cases = {
        "no refresh": None,
        "not running": {"hz1": AgentSnapshot("hz1", 3, {})},
        "agent not read": {},
    }
    messages = {}
    for case, snapshots in cases.items():
        plan = build_plan(config, None, snapshots=snapshots)
        [error] = plan.diagnostics
        assert (error.code, error.address) == ("L4E105", "l4_application.game"), case
        assert config.files["main.l4.hcl"].splitlines()[error.line - 1] == "import {"
        messages[case] = error.message
    assert "without --refresh=false" in messages["no refresh"]
    assert messages["not running"].startswith("Cannot import non-existent remote object")
    assert "agent hz1 could not be read" in messages["agent not read"]

    elsewhere = applied(_load(tmp_path, _app("older")))
    plan = build_plan(
        config, elsewhere, snapshots={"hz1": _snapshot(config, "l4_application.game")}
    )
    assert [
        '"play.example.com" is already managed as l4_application.older' in d.message
        for d in plan.diagnostics
    ] == [True]


def test_an_import_of_an_address_already_in_the_state_does_nothing(tmp_path: Path) -> None:
    state = applied(_load(tmp_path, _app("game")))
    config = _load(tmp_path, _app("game"), _import("l4_application.game"))
    before = copy.deepcopy(state)
    plan = build_plan(config, state, snapshots={})  # no agent is even needed
    assert not plan.errored and not plan.has_changes
    assert all(c.importing is None for c in plan.changes)
    assert state == before


def test_targets_that_leave_out_a_moved_or_imported_instance_are_L4E106(tmp_path: Path) -> None:
    state = applied(_load(tmp_path, _app("old")))
    config = _load(
        tmp_path,
        _app("new"),
        application("other", "other", [rule("81")], ON_HZ1),
        _moved("l4_application.old", "l4_application.new"),
    )
    plan = build_plan(config, state, targets=["l4_application.other"])
    [error] = [d for d in plan.diagnostics if d.is_error]
    assert (error.code, error.address) == ("L4E106", "l4_application.new")
    assert "(moved from l4_application.old) is not among the targets" in error.message
    targeted = build_plan(config, state, targets=["l4_application.new"])
    assert not targeted.errored
    assert [c.previous_address for c in targeted.changes if c.type == "l4_application"] == [
        "l4_application.old"
    ]
