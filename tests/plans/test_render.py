from __future__ import annotations

import copy
import json

from l4plan.configs.model import UNKNOWN, Lifecycle
from l4plan.plans import build_plan, plan_from_json, plan_to_json, render_markdown, render_plan
from l4plan.plans.render_human import render_state
from l4plan.states.model import AgentAck
from tests.plans.factory import app, applied, config, instance, rule, site
from tests.plans.schema_check import assert_valid_plan_json


def _game(rules=None, **kw):
    return app("game", "play.example.com", rules or [rule("80"), rule("81")], **kw)


def _human(plan) -> list[str]:
    return render_plan(plan, color=False).splitlines()


def test_create_block_in_terraform_shape() -> None:
    lines = _human(build_plan(config(site(), _game()), None))
    text = "\n".join(lines)
    assert "  + create" in lines
    assert "l4plan will perform the following actions:" in lines
    assert "  # l4_application.game will be created" in lines
    assert '  + resource "l4_application" "game" {' in lines
    assert '      + domain                = "play.example.com"' in lines
    assert "      + revisions             = (known after apply)" in lines
    assert "      + rule {" in lines
    assert '          + edge_port             = "80"' in lines
    # null attributes are not shown on create
    assert "comment" not in text and "origin_port" not in text
    assert lines[-1] == "Plan: 2 to add, 0 to change, 0 to destroy."


def test_no_changes_message() -> None:
    cfg = config(site(), _game())
    lines = _human(build_plan(cfg, applied(cfg)))
    assert lines[0] == "No changes. Your infrastructure matches the configuration."
    assert not any(line.startswith("Plan:") for line in lines)


def test_update_hides_unchanged_attributes_and_blocks() -> None:
    rules = [rule(str(p)) for p in range(1000, 1030)]
    state = applied(config(site(), _game(rules)))
    lines = _human(build_plan(config(site(), _game(rules[1:])), state))
    assert "  # l4_application.game will be updated in place" in lines
    assert '  ~ resource "l4_application" "game" {' in lines
    assert '        id        = "play.example.com"' in lines
    assert "        # (7 unchanged attributes hidden)" in lines
    assert "      - rule {" in lines
    assert '          - edge_port             = "1000" -> null' in lines
    assert "        # (29 unchanged blocks hidden)" in lines
    assert sum(1 for line in lines if line.strip().endswith("rule {")) == 1
    assert lines[-1] == "Plan: 0 to add, 1 to change, 0 to destroy."


def test_changed_rule_shows_identity_and_the_changed_attribute() -> None:
    state = applied(config(site(), _game()))
    lines = _human(build_plan(config(site(), _game([rule("80"), rule("81", origin="h")])), state))
    i = lines.index("      ~ rule {")
    assert lines[i + 1 : i + 6] == [
        '            edge_port = "81"',
        '          ~ origin    = "10.0.0.1" -> "h"',
        '            protocol  = "tcp"',
        "            # (2 unchanged attributes hidden)",
        "        }",
    ]


def test_replacement_marks_what_forces_it() -> None:
    state = applied(config(site(), _game()))
    lines = _human(
        build_plan(config(site(), app("game", "new.example.com", [rule("80"), rule("81")])), state)
    )
    assert "-/+ destroy and then create replacement" in lines
    assert "  # l4_application.game must be replaced" in lines
    assert '-/+ resource "l4_application" "game" {' in lines
    assert (
        '      ~ domain    = "play.example.com" -> "new.example.com" # forces replacement' in lines
    )
    assert lines[-1] == "Plan: 1 to add, 0 to change, 1 to destroy."


def test_create_before_destroy_symbol() -> None:
    state = applied(config(site(), _game()))
    new = app("game", "new.example.com", [rule("80"), rule("81")])
    new.lifecycle = Lifecycle(create_before_destroy=True)
    lines = _human(build_plan(config(site(), new), state))
    assert "+/- create replacement and then destroy" in lines
    assert '+/- resource "l4_application" "game" {' in lines


def test_delete_shows_reason_and_agents() -> None:
    state = applied(config(site(), _game()))
    lines = _human(build_plan(config(site()), state))
    assert "  # l4_application.game will be destroyed" in lines
    assert "  # (because l4_application.game is not in configuration)" in lines
    assert "  # agents: hz1 (remove)" in lines
    assert '      - domain                = "play.example.com" -> null' in lines
    assert lines[-1] == "Plan: 0 to add, 0 to change, 1 to destroy."


def test_missing_agent_is_explained() -> None:
    cfg = config(site(), _game(agents=["hz1", "hz2"]))
    state = applied(cfg)
    del state.resources["l4_application.game"].agents["hz2"]
    lines = _human(build_plan(cfg, state))
    assert '  # (because agent "hz2" has not acknowledged it)' in lines
    assert "  # agents: hz1 (no change), hz2 (create)" in lines


def test_list_attribute_update_shows_elements() -> None:
    state = applied(config(site(), _game(agents=["hz1"])))
    lines = _human(build_plan(config(site(), _game(agents=["hz1", "hz2"])), state))
    i = lines.index("      ~ agents    = [")
    assert lines[i + 1 : i + 4] == [
        '          + "hz2",',
        "            # (1 unchanged element hidden)",
        "        ]",
    ]


def test_sensitive_values_are_masked() -> None:
    secret = _game([rule("80", origin="secret-origin.internal")])
    secret.sensitive = {"rule.0.origin"}
    text = render_plan(build_plan(config(site(), secret), None), color=False)
    assert "secret-origin" not in text
    assert "          + origin                = (sensitive value)" in text.splitlines()


def test_colour_only_when_asked() -> None:
    plan = build_plan(config(site(), _game()), None)
    assert "\x1b[" not in render_plan(plan, color=False)
    coloured = render_plan(plan, color=True)
    assert "\x1b[32m+\x1b[0m" in coloured  # green plus
    assert "\x1b[1mPlan:\x1b[0m" in coloured


def test_output_changes_section() -> None:
    cfg = config(site(), outputs={"zone": "example.com"})
    plan = build_plan(config(site(), outputs={"zone": "example.org", "eps": UNKNOWN}), applied(cfg))
    lines = _human(plan)
    i = lines.index("Changes to Outputs:")
    assert lines[i + 1 : i + 3] == [
        "  + eps  = (known after apply)",
        '  ~ zone = "example.com" -> "example.org"',
    ]
    assert "You can apply this plan to save these new output values" in "\n".join(lines)


def test_drift_note_comes_first() -> None:
    cfg = config(site(), _game())
    prior = applied(cfg)
    refreshed = copy.deepcopy(prior)
    refreshed.resources["l4_application.game"].agents["hz1"] = AgentAck(5, "changed")
    lines = _human(build_plan(cfg, prior, refreshed=refreshed))
    assert lines[0] == "Note: Objects have changed outside of l4plan"
    assert "  # l4_application.game has changed" in lines
    assert "  # agents: hz1 (spec changed)" in lines


def test_markdown_has_a_table_and_a_diff_block_per_resource() -> None:
    state = applied(config(site(), _game()))
    new = app("game", "new.example.com", [rule("80"), rule("81")])
    md = render_markdown(build_plan(config(site(), new), state))
    lines = md.splitlines()
    assert lines[0] == "### l4plan plan: 1 to add, 0 to change, 1 to destroy"
    assert "| Resource | Action | Agents |" in lines
    assert "| `l4_application.game` | replace (destroy, then create) | hz1 (replace) |" in lines
    assert lines.count("```diff") == 1
    assert '!   resource "l4_application" "game" {' in lines
    assert (
        '!       domain    = "play.example.com" -> "new.example.com" # forces replacement' in lines
    )
    # every line of the diff block starts with a diff marker or a space
    start = lines.index("```diff")
    end = lines.index("```", start + 1)
    assert all(line[:1] in ("+", "-", "!", " ", "") for line in lines[start + 1 : end])


def test_markdown_no_changes_and_warnings() -> None:
    cfg = config(site(), _game())
    plan = build_plan(cfg, applied(cfg), targets=["l4_site.main"])
    md = render_markdown(plan)
    assert md.startswith("### l4plan plan: no changes\n")
    assert "> **Warning** (L4W101): Resource targeting is in effect" in md
    assert "**No changes.**" in md


def test_markdown_escapes_table_cells() -> None:
    cfg = config(site(), outputs={"o": "a|b"})
    md = render_markdown(build_plan(cfg, None))
    assert '| `o` | create | null | "a\\|b" |' in md


def _plans():
    cfg = config(site(), _game(), outputs={"zone": "example.com"})
    state = applied(cfg)
    secret = _game([rule("80", origin="s3cr3t")])
    secret.sensitive = {"rule.0.origin"}
    lb = instance(
        "l4_load_balancer",
        "pool",
        {
            "id": "lb:lb.example.com",
            "site": "example.com",
            "domain": "lb.example.com",
            "origin": [{"address": "a", "weight": 1}],
            "health_check": None,
        },
        depends_on=["l4_site.main"],
    )
    drifted = copy.deepcopy(state)
    del drifted.resources["l4_application.game"]
    return [
        build_plan(cfg, None),
        build_plan(cfg, state),
        build_plan(config(site(), secret, lb, outputs={"e": UNKNOWN}), state),
        build_plan(config(), state),
        build_plan(cfg, state, mode="destroy"),
        build_plan(cfg, state, refreshed=drifted),
        build_plan(cfg, state, targets=["nope"]),
    ]


def test_json_follows_the_schema_and_round_trips() -> None:
    for plan in _plans():
        for reveal in (False, True):
            data = plan_to_json(plan, reveal_sensitive=reveal)
            json.dumps(data)  # serialisable as is
            assert_valid_plan_json(data)
        restored = plan_from_json(plan_to_json(plan, reveal_sensitive=True))
        assert plan_to_json(restored, reveal_sensitive=True) == plan_to_json(
            plan, reveal_sensitive=True
        )
        assert render_plan(restored, color=False) == render_plan(plan, color=False)


def test_json_marks_unknown_and_masks_sensitive() -> None:
    secret = _game([rule("80", origin="s3cr3t")])
    secret.sensitive = {"rule.0.origin"}
    data = plan_to_json(build_plan(config(site(), secret), None))
    game = next(c for c in data["resource_changes"] if c["type"] == "l4_application")
    assert game["action"] == ["create"]
    assert game["after"]["revisions"] is None
    assert game["after_unknown"] == {"revisions": True}
    assert game["after"]["rule"][0]["origin"] is None
    assert game["after_sensitive"] == {"rule": [{"origin": True}]}
    assert "s3cr3t" not in json.dumps(data)
    revealed = plan_to_json(build_plan(config(site(), secret), None), reveal_sensitive=True)
    assert "s3cr3t" in json.dumps(revealed)
    assert game["agents"] == [{"name": "hz1", "action": "create"}]
    assert data["summary"] == {"add": 2, "change": 0, "destroy": 0}


def test_json_replace_and_delete_actions() -> None:
    state = applied(config(site(), _game()))
    replaced = plan_to_json(
        build_plan(config(site(), app("game", "x.example.com", [rule("80")])), state)
    )
    game = next(c for c in replaced["resource_changes"] if c["type"] == "l4_application")
    assert game["action"] == ["delete", "create"]
    assert game["replace_paths"] == [["domain"]]
    deleted = plan_to_json(build_plan(config(), state))
    assert [c["action"] for c in deleted["resource_changes"]] == [["delete"], ["delete"]]
    assert [c["address"] for c in deleted["resource_changes"]] == [
        "l4_application.game",
        "l4_site.main",
    ]


def test_state_rendering_masks_sensitive_attributes() -> None:
    secret = _game([rule("80", origin="s3cr3t")])
    secret.sensitive = {"rule.0.origin"}
    state = applied(config(site(), secret, outputs={"zone": "example.com"}))
    text = render_state(state, color=False)
    assert "# l4_application.game:" in text.splitlines()
    assert 'resource "l4_application" "game" {' in text.splitlines()
    assert "s3cr3t" not in text and "(sensitive value)" in text
    assert 'zone = "example.com"' in text
