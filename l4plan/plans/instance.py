"""The planned change of one configured instance against its record in the state."""

from __future__ import annotations

import copy
from typing import Any

from l4plan.agents.spec import EFFECTIVE_KEEPALIVE, SpecRenderer
from l4plan.configs.model import UNKNOWN, ResourceInstance, digest_write_only, is_wholly_known
from l4plan.plans.attrdiff import diff_attributes
from l4plan.plans.attributes import AGENT_COMPUTED, PLACED_TYPES, PLAN_DERIVED, REPLACE_ATTRS
from l4plan.plans.ignore import apply_ignore_changes
from l4plan.plans.model import Action, ResourceChange
from l4plan.plans.values import parse_path
from l4plan.states.model import ResourceState


def changed_attributes(type_: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The top-level attributes whose value differs."""
    return [d.name for d in diff_attributes(type_, before, after) if d.kind != "same"]


def planned_attributes(res: ResourceInstance, renderer: SpecRenderer) -> dict[str, Any]:
    """What a plan gives `res`: the configured attributes (write-only ones as digests),
    those the agents fill in (unknown until apply) and those the plan derives
    (`effective_keepalive`)."""
    planned = copy.deepcopy(res.attrs)
    digest_write_only(res.type, planned)
    for k in AGENT_COMPUTED:  # filled in by the agents whether or not referenced
        planned.setdefault(k, UNKNOWN)
    if res.type in PLACED_TYPES:
        planned[EFFECTIVE_KEEPALIVE] = renderer.effective_keepalive(res.attrs)
    return planned


def plan_instance(
    res: ResourceInstance, rs: ResourceState | None, renderer: SpecRenderer
) -> ResourceChange:
    """The change that makes the recorded `rs` (None: not recorded) match `res`."""
    planned_attrs = planned_attributes(res, renderer)
    change = ResourceChange(
        address=res.address,
        type=res.type,
        name=res.name,
        index_key=res.key,
        action=Action.CREATE,
        before=None,
        after=planned_attrs,
        after_sensitive={parse_path(p) for p in res.sensitive},
        dependencies=sorted(res.depends_on),
    )
    if rs is None:
        return change

    before = rs.attributes
    change.before = before
    change.before_sensitive = {parse_path(p) for p in rs.sensitive_attributes}
    after = copy.deepcopy(planned_attrs)
    if res.lifecycle.ignore_changes:
        after = apply_ignore_changes(res.type, before, after, res.lifecycle.ignore_changes)
    # values the agents fill in stay as recorded unless the resource changes
    agent_filled = [k for k in AGENT_COMPUTED if k in after and not is_wholly_known(after[k])]
    planned = {k: after[k] for k in agent_filled}
    for k in agent_filled:
        if k in before:
            after[k] = copy.deepcopy(before[k])
        else:
            del after[k]
    # a plan-derived attribute that a state from before it existed lacks is no change
    new = {k for k in PLAN_DERIVED if k in after and k not in before}
    changed = [k for k in changed_attributes(res.type, before, after) if k not in new]
    change.after = after
    if not changed:
        change.action = Action.NOOP
        return change

    after.update(planned)
    change.changed_attributes = changed_attributes(res.type, before, after)
    if EFFECTIVE_KEEPALIVE in changed and renderer.keepalive_lapsed(after):
        change.action_reason = "update_because_ddos_protection_expired"
    change.replace_paths = [(k,) for k in REPLACE_ATTRS.get(res.type, ()) if k in changed]
    if change.replace_paths:
        change.action = (
            Action.CREATE_DELETE if res.lifecycle.create_before_destroy else Action.DELETE_CREATE
        )
        change.action_reason = "replace_because_cannot_update"
    else:
        change.action = Action.UPDATE
    return change
