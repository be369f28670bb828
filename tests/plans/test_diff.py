from __future__ import annotations

import copy
from datetime import UTC, datetime

from l4plan.configs.model import UNKNOWN, Lifecycle
from l4plan.plans import Action, ResourceChange, build_plan, plan_to_json, render_plan
from l4plan.plans.attrdiff import BlockDiff, diff_attributes
from l4plan.states.model import AgentAck
from tests.plans.factory import app, applied, config, instance, rule, site
from tests.plans.schema_check import assert_valid_plan_json


def _actions(plan) -> dict[str, Action]:
    return {c.address: c.action for c in plan.changes}


def _app_change(plan) -> ResourceChange:
    return next(c for c in plan.changes if c.type == "l4_application")


def _blocks(change: ResourceChange, name: str) -> list[BlockDiff]:
    diffs = diff_attributes(change.type, change.before, change.after)
    return next(d for d in diffs if d.name == name).blocks


def _game(rules=None, **kw):
    return app("game", "play.example.com", rules or [rule("80"), rule("81")], **kw)


def test_fresh_state_creates_everything_in_dependency_order() -> None:
    cfg = config(_game(), site())
    plan = build_plan(cfg, None)
    assert [(c.address, c.action) for c in plan.changes] == [
        ("l4_site.main", Action.CREATE),
        ("l4_application.game", Action.CREATE),
    ]
    assert plan.summary.add == 2 and plan.has_changes
    assert plan.prior_state is None
    game = plan.changes[1]
    assert game.before is None
    assert game.after["revisions"] is UNKNOWN
    assert game.agents == {"hz1": "create"}
    assert game.dependencies == ["l4_site.main"]


def test_identical_state_is_all_no_ops() -> None:
    cfg = config(site(), _game())
    state = applied(cfg, serial=4)
    plan = build_plan(cfg, state)
    assert set(_actions(plan).values()) == {Action.NOOP}
    assert not plan.has_changes
    assert (plan.prior_state.lineage, plan.prior_state.serial) == (state.lineage, 4)
    # agent-filled values stay as recorded while nothing changes
    game = next(c for c in plan.changes if c.type == "l4_application")
    assert game.after["revisions"] == {"hz1": 1}


def test_rule_added_is_an_in_place_update() -> None:
    state = applied(config(site(), _game()))
    plan = build_plan(config(site(), _game([rule("80"), rule("81"), rule("53", "udp")])), state)
    change = next(c for c in plan.changes if c.address == "l4_application.game")
    assert change.action is Action.UPDATE
    assert change.changed_attributes == ["revisions", "rule"]
    assert change.replace_paths == []
    assert change.agents == {"hz1": "update"}
    assert change.after["revisions"] is UNKNOWN
    assert plan.summary.change == 1


def test_rules_match_by_content_not_position() -> None:
    rules = [rule(str(p)) for p in range(1000, 1030)]
    state = applied(config(site(), _game(rules)))
    plan = build_plan(config(site(), _game(rules[1:])), state)
    change = _app_change(plan)
    blocks = _blocks(change, "rule")
    kinds = [b.kind for b in blocks]
    assert kinds.count("delete") == 1 and kinds.count("same") == 29
    assert blocks[0].before_index == 0


def test_reordered_rules_are_no_change() -> None:
    rules = [rule("80"), rule("81"), rule("82", "udp")]
    state = applied(config(site(), _game(rules)))
    plan = build_plan(config(site(), _game(list(reversed(rules)))), state)
    assert not plan.has_changes


def test_rule_with_same_identity_pairs_and_shows_attribute_change() -> None:
    state = applied(config(site(), _game([rule("80"), rule("81")])))
    changed = [rule("80"), rule("81", origin_port="9000")]
    plan = build_plan(config(site(), _game(changed)), state)
    change = _app_change(plan)
    blocks = _blocks(change, "rule")
    updated = [b for b in blocks if b.kind == "update"]
    assert len(updated) == 1
    assert [a.name for a in updated[0].attrs if a.kind != "same"] == ["origin_port"]


def test_domain_change_forces_replacement() -> None:
    state = applied(config(site(), _game()))
    plan = build_plan(
        config(site(), app("game", "new.example.com", [rule("80"), rule("81")])), state
    )
    change = _app_change(plan)
    assert change.action is Action.DELETE_CREATE
    assert change.action.actions == ["delete", "create"]
    assert change.replace_paths == [("domain",)]
    assert change.action_reason == "replace_because_cannot_update"
    assert change.agents == {"hz1": "replace"}
    s = plan.summary
    assert (s.add, s.change, s.destroy) == (1, 0, 1)


def test_create_before_destroy_reverses_the_replacement() -> None:
    state = applied(config(site(), _game()))
    new = app("game", "new.example.com", [rule("80"), rule("81")])
    new.lifecycle = Lifecycle(create_before_destroy=True)
    change = _app_change(build_plan(config(site(), new), state))
    assert change.action is Action.CREATE_DELETE
    assert change.action.symbol == "+/-"


def test_unknown_value_in_a_forcing_attribute_forces_replacement() -> None:
    state = applied(config(site(), _game()))
    new = _game()
    new.attrs["site"] = UNKNOWN
    change = _app_change(build_plan(config(site(), new), state))
    assert change.action is Action.DELETE_CREATE
    assert change.replace_paths == [("site",)]


def test_removed_resources_are_deleted_in_reverse_dependency_order() -> None:
    acl = instance(
        "l4_ip_access_rule",
        "office",
        {
            "id": "acl:example.com:office",
            "site": "example.com",
            "priority": 10,
            "action": "allow",
            "sources": ["192.0.2.0/24"],
        },
        depends_on=["l4_site.main"],
    )
    state = applied(config(site(), _game(), acl))
    plan = build_plan(config(), state)
    order = [c.address for c in plan.changes]
    assert set(_actions(plan).values()) == {Action.DELETE}
    assert order.index("l4_application.game") < order.index("l4_site.main")
    assert order.index("l4_ip_access_rule.office") < order.index("l4_site.main")
    game = next(c for c in plan.changes if c.type == "l4_application")
    assert game.action_reason == "delete_because_no_resource_config"
    assert game.agents == {"hz1": "delete"}
    assert game.dependencies == ["l4_site.main"]
    assert plan.summary.destroy == 3


def test_deletions_run_before_independent_creations() -> None:
    state = applied(config(site(), app("old", "old.example.com", [rule("80")])))
    plan = build_plan(config(site(), app("new", "new.example.com", [rule("80")])), state)
    acting = [(c.address, c.action) for c in plan.resource_actions]
    assert acting == [
        ("l4_application.old", Action.DELETE),
        ("l4_application.new", Action.CREATE),
    ]


def test_delete_reasons_for_count_and_for_each() -> None:
    by_index = [app("web", f"w{i}.example.com", [rule(str(80 + i))], key=i) for i in range(3)]
    by_key = [
        app("game", f"{k}.example.com", [rule(str(90 + n))], key=k)
        for n, k in enumerate(["eu", "us"])
    ]
    state = applied(config(site(), *by_index, *by_key))
    plan = build_plan(config(site(), *by_index[:2], by_key[0]), state)
    reasons = {c.address: c.action_reason for c in plan.resource_actions}
    assert reasons == {
        "l4_application.web[2]": "delete_because_count_index",
        'l4_application.game["us"]': "delete_because_each_key",
    }


def test_prevent_destroy_refuses_a_replacement() -> None:
    state = applied(config(site(), _game()))
    new = app("game", "new.example.com", [rule("80"), rule("81")])
    new.lifecycle = Lifecycle(prevent_destroy=True)
    plan = build_plan(config(site(), new), state)
    assert plan.errored
    (d,) = [d for d in plan.diagnostics if d.is_error]
    assert d.code == "L4E101" and d.address == "l4_application.game"
    assert "prevent_destroy" in d.message and "domain" in d.message


def test_prevent_destroy_refuses_a_destroy_plan_but_allows_updates() -> None:
    guarded = _game()
    guarded.lifecycle = Lifecycle(prevent_destroy=True)
    state = applied(config(site(), guarded))
    assert build_plan(config(site(), guarded), state, mode="destroy").errored
    updated = _game([rule("80")])
    updated.lifecycle = Lifecycle(prevent_destroy=True)
    assert not build_plan(config(site(), updated), state).errored


def test_ignore_changes_keeps_recorded_values() -> None:
    state = applied(config(site(), _game()))
    new = _game([rule("80"), rule("81", comment="changed")], keepalive_protection=True)
    new.lifecycle = Lifecycle(ignore_changes=["keepalive_protection", "rule.comment"])
    plan = build_plan(config(site(), new), state)
    assert not plan.has_changes


def test_ignore_changes_with_an_index_and_all() -> None:
    state = applied(config(site(), _game()))
    new = _game([rule("80", comment="x"), rule("81", comment="y")])
    new.lifecycle = Lifecycle(ignore_changes=["rule[0].comment"])
    change = _app_change(build_plan(config(site(), new), state))
    assert change.action is Action.UPDATE
    assert [r.get("comment") for r in change.after["rule"]] == [None, "y"]
    new.lifecycle = Lifecycle(ignore_changes=["*"])
    assert not build_plan(config(site(), new), state).has_changes


def test_missing_agent_acknowledgement_plans_an_update_for_that_agent() -> None:
    cfg = config(site(), _game(agents=["hz1", "hz2"]))
    state = applied(cfg)
    del state.resources["l4_application.game"].agents["hz2"]  # hz2 failed during apply
    plan = build_plan(cfg, state)
    (change,) = plan.resource_actions
    assert change.action is Action.UPDATE
    assert change.agents == {"hz1": "no-op", "hz2": "create"}
    assert change.action_reason == "update_because_agents_missing"
    assert change.changed_attributes == ["revisions"]


def test_agent_removed_from_placement_is_deleted_there() -> None:
    state = applied(config(site(), _game(agents=["hz1", "hz2"])))
    (change,) = build_plan(config(site(), _game(agents=["hz1"])), state).resource_actions
    assert change.agents == {"hz1": "no-op", "hz2": "delete"}  # hz1 keeps its spec
    assert change.changed_attributes == ["agents", "revisions"]


def test_agent_order_is_not_a_change() -> None:
    state = applied(config(site(), _game(agents=["hz1", "hz2"])))
    assert not build_plan(config(site(), _game(agents=["hz2", "hz1"])), state).has_changes


def _lb(origins: list[dict]) -> object:
    return instance(
        "l4_load_balancer",
        "pool",
        {
            "id": "lb:lb.example.com",
            "site": "example.com",
            "domain": "lb.example.com",
            "steering": "weighted",
            "origin": origins,
            "health_check": None,
        },
        depends_on=["l4_site.main"],
    )


def test_load_balancer_change_updates_its_applications_on_their_agents() -> None:
    user = _game(
        [rule("80", origin_type="load_balancer", origin="lb:lb.example.com")], agents=["hz2"]
    )
    user.depends_on.append("l4_load_balancer.pool")
    before = _lb([{"address": "10.0.0.1", "weight": 1}])
    state = applied(config(site(), before, user))
    after = _lb([{"address": "10.0.0.1", "weight": 1}, {"address": "10.0.0.2", "weight": 1}])
    plan = build_plan(config(site(), after, user), state)
    pool, game = plan.resource_actions
    assert pool.address == "l4_load_balancer.pool" and pool.action is Action.UPDATE
    # the application's attributes are unchanged, but the spec its agent runs is not
    assert game.address == "l4_application.game" and game.action is Action.UPDATE
    assert game.agents == {"hz2": "update"}
    assert game.action_reason == "update_because_agents_differ"


def test_lb_origins_match_by_address() -> None:
    state = applied(
        config(site(), _lb([{"address": "a", "weight": 1}, {"address": "b", "weight": 1}]))
    )
    plan = build_plan(config(site(), _lb([{"address": "b", "weight": 5}])), state)
    (change,) = plan.resource_actions
    blocks = _blocks(change, "origin")
    assert [(b.kind, b.before_index, b.after_index) for b in blocks] == [
        ("delete", 0, None),
        ("update", 1, 0),
    ]


def test_acl_rule_change_updates_waf_applications_on_its_site() -> None:
    def acl(action: str) -> object:
        return instance(
            "l4_ip_access_rule",
            "office",
            {
                "id": "acl:example.com:office",
                "site": "example.com",
                "priority": 10,
                "action": action,
                "sources": ["192.0.2.0/24"],
            },
            depends_on=["l4_site.main"],
        )

    waf = _game(agents=["hz1"], waf_ip_access_control=True)
    plain = app("web", "web.example.com", [rule("81")], agents=["hz2"])
    state = applied(config(site(), acl("allow"), waf, plain))
    plan = build_plan(config(site(), acl("block"), waf, plain), state)
    acting = {c.address: c for c in plan.resource_actions}
    assert set(acting) == {"l4_ip_access_rule.office", "l4_application.game"}
    assert acting["l4_application.game"].agents == {"hz1": "update"}


def test_target_includes_dependencies_and_warns() -> None:
    cfg = config(site(), _game(), app("web", "web.example.com", [rule("90")]))
    plan = build_plan(cfg, None, targets=["l4_application.game"])
    assert [c.address for c in plan.changes] == ["l4_site.main", "l4_application.game"]
    (w,) = plan.diagnostics
    assert w.code == "L4W101" and w.severity == "warning"
    assert "l4_application.game" in w.message


def test_target_without_key_selects_every_instance() -> None:
    eu = app("game", "eu.example.com", [rule("80")], key="eu")
    us = app("game", "us.example.com", [rule("81")], key="us")
    plan = build_plan(config(site(), eu, us), None, targets=["l4_application.game"])
    assert len(plan.changes) == 3
    only_eu = build_plan(config(site(), eu, us), None, targets=['l4_application.game["eu"]'])
    assert [c.address for c in only_eu.changes] == ["l4_site.main", 'l4_application.game["eu"]']


def test_unknown_target_is_an_error() -> None:
    plan = build_plan(config(site()), None, targets=["l4_application.nope"])
    assert plan.errored
    assert plan.diagnostics[0].code == "L4E102"
    assert "l4_application.nope" in plan.diagnostics[0].message
    assert plan.changes == []


def test_target_may_name_a_recorded_resource_removed_from_configuration() -> None:
    state = applied(config(site(), _game(), app("web", "web.example.com", [rule("90")])))
    plan = build_plan(config(site()), state, targets=["l4_application.web"])
    assert [(c.address, c.action) for c in plan.resource_actions] == [
        ("l4_application.web", Action.DELETE)
    ]


def test_destroy_mode_deletes_everything_and_targets_take_dependents() -> None:
    cfg = config(site(), _game())
    state = applied(cfg)
    plan = build_plan(cfg, state, mode="destroy")
    assert [(c.address, c.action) for c in plan.changes] == [
        ("l4_application.game", Action.DELETE),
        ("l4_site.main", Action.DELETE),
    ]
    targeted = build_plan(cfg, state, mode="destroy", targets=["l4_site.main"])
    assert len(targeted.changes) == 2


def test_drift_is_reported_and_planned_against_the_refreshed_state() -> None:
    cfg = config(site(), _game(agents=["hz1", "hz2"]))
    prior = applied(cfg)
    refreshed = copy.deepcopy(prior)
    del refreshed.resources["l4_application.game"].agents["hz2"]  # hz2 was rebuilt
    plan = build_plan(cfg, prior, refreshed=refreshed)
    (drift,) = plan.drift
    assert drift.address == "l4_application.game" and drift.agents == {"hz2": "delete"}
    assert drift.action_reason == "changed_outside_l4plan"
    (change,) = plan.resource_actions
    assert change.agents == {"hz1": "no-op", "hz2": "create"}


def test_resource_deleted_outside_is_recreated() -> None:
    cfg = config(site(), _game())
    prior = applied(cfg)
    refreshed = copy.deepcopy(prior)
    del refreshed.resources["l4_application.game"]
    plan = build_plan(cfg, prior, refreshed=refreshed)
    assert [(d.address, d.action) for d in plan.drift] == [("l4_application.game", Action.DELETE)]
    assert [(c.address, c.action) for c in plan.resource_actions] == [
        ("l4_application.game", Action.CREATE)
    ]


def test_refresh_only_plans_no_changes_but_reports_drift() -> None:
    cfg = config(site(), _game(rules=[rule("80")]))
    prior = applied(cfg)
    refreshed = copy.deepcopy(prior)
    refreshed.resources["l4_application.game"].agents["hz1"] = AgentAck(9, "other")
    plan = build_plan(config(), prior, refreshed=refreshed, mode="refresh-only")
    assert plan.changes == []
    assert [d.agents for d in plan.drift] == [{"hz1": "update"}]
    assert plan.has_changes
    assert not build_plan(
        cfg, prior, refreshed=copy.deepcopy(prior), mode="refresh-only"
    ).has_changes


def test_output_changes() -> None:
    cfg = config(site(), outputs={"zone": "example.com", "gone": 1})
    state = applied(cfg)
    plan = build_plan(config(site(), outputs={"zone": "example.org", "new": UNKNOWN}), state)
    got = {o.name: (o.action, o.before, o.after) for o in plan.output_changes}
    assert got == {
        "gone": (Action.DELETE, 1, None),
        "new": (Action.CREATE, None, UNKNOWN),
        "zone": (Action.UPDATE, "example.com", "example.org"),
    }
    assert plan.has_changes and not plan.resource_actions


def test_unknown_output_without_resource_changes_keeps_its_value() -> None:
    cfg = config(site(), outputs={"revs": {"hz1": 1}})
    state = applied(cfg)
    plan = build_plan(config(site(), outputs={"revs": UNKNOWN}), state)
    assert [o.action for o in plan.output_changes] == [Action.NOOP]
    assert not plan.has_changes


def test_agent_filled_attributes_absent_from_configuration_are_kept() -> None:
    res = _game()
    del res.attrs["revisions"]  # the loader leaves unreferenced computed values out
    cfg = config(site(), res)
    state = applied(cfg)
    state.resources["l4_application.game"].attributes["revisions"] = {"hz1": 7}
    assert not build_plan(cfg, state).has_changes
    created = _app_change(build_plan(cfg, None))
    assert created.after["revisions"] is UNKNOWN


def test_expired_ddos_protection_is_an_attribute_change_with_its_reason() -> None:
    cfg = config(site(), _game(keepalive_protection=True))
    state = applied(cfg)  # applied while the site's DDoS protection ran (until 2030)
    assert state.resources["l4_application.game"].attributes["effective_keepalive"] is True
    assert not build_plan(cfg, state, now=datetime(2029, 12, 31, tzinfo=UTC)).has_changes

    plan = build_plan(cfg, state, now=datetime(2030, 1, 2, tzinfo=UTC))
    (change,) = plan.resource_actions
    assert change.action is Action.UPDATE
    assert change.action_reason == "update_because_ddos_protection_expired"
    assert "effective_keepalive" in change.changed_attributes
    assert change.after["effective_keepalive"] is False
    assert change.agents == {"hz1": "update"}
    data = plan_to_json(plan)
    assert_valid_plan_json(data)
    shown = render_plan(plan, color=False)
    assert "      ~ effective_keepalive = true -> false" in shown
    assert "DDoS protection expired" in shown and "(L4W001)" in shown
    assert "differs from the configuration" not in shown


def test_agents_differ_plan_json_follows_the_schema() -> None:
    user = _game([rule("80", origin_type="load_balancer", origin="lb:lb.example.com")])
    user.depends_on.append("l4_load_balancer.pool")
    state = applied(config(site(), _lb([{"address": "10.0.0.1", "weight": 1}]), user))
    after = _lb([{"address": "10.0.0.2", "weight": 1}])
    plan = build_plan(config(site(), after, user), state)
    assert plan.resource_actions[-1].action_reason == "update_because_agents_differ"
    assert_valid_plan_json(plan_to_json(plan))
