"""The state after an apply: the plan's changes, as far as the agents acknowledged them.

Per application and agent the state keeps what that agent acknowledged (revision
and spec hash), so after a partial failure the next plan shows exactly what is
still missing.
"""

from __future__ import annotations

import copy

from l4plan.agents.placement import PLACED_TYPES
from l4plan.apply.engine import AgentResult
from l4plan.plans.model import Action, Plan, ResourceChange
from l4plan.plans.recorded import known_values, resource_state, revisions
from l4plan.states.model import AgentAck, OutputState, ResourceState, State


def next_state(plan: Plan, base: State | None, results: dict[str, AgentResult]) -> State:
    """The state after the apply: the plan's changes, as far as agents acknowledged them.

    Outputs follow the plan's output changes (a destroy removes them).
    """
    state = copy.deepcopy(base) if base is not None else State()
    for change in plan.changes:
        if change.type in PLACED_TYPES:
            _record_placed(state, change, results)
        elif change.after is None:
            state.resources.pop(change.address, None)
        else:
            state.resources[change.address] = resource_state(change, {})
    for out in plan.output_changes:
        if out.action is Action.DELETE:
            state.outputs.pop(out.name, None)
        else:
            state.outputs[out.name] = OutputState(known_values(out.after), out.sensitive)
    return state


def _record_placed(
    state: State,
    change: ResourceChange,
    results: dict[str, AgentResult],
) -> None:
    """Record one application: where every agent acknowledged, the planned attributes;
    otherwise the recorded attributes with the acknowledgements that are still true.

    An agent that succeeded now runs the planned spec under the planned name. When
    the recorded attributes stay (another agent failed), its acknowledgement is kept
    only if it is of the recorded name; under a new name (a replacement) the old
    record does not describe it, and the next plan upserts it again, which the agent
    answers as no change.
    """
    old = state.resources.get(change.address)
    old_name = old.attributes.get("id") if old is not None else None
    acks = dict(old.agents) if old is not None else {}
    kept = dict(acks)  # acknowledgements valid under the recorded attributes
    touched = succeeded = 0
    for result in results.values():
        upserts = [u for u in result.operations.upserts if u.address == change.address]
        deletes = [d for d in result.operations.deletes if d.address == change.address]
        if not upserts and not deletes:
            continue
        touched += 1
        if not result.ok or result.revision is None:
            continue
        succeeded += 1
        if upserts:
            acks[result.agent] = AgentAck(result.revision, upserts[0].spec_hash)
            if upserts[0].name == old_name:
                kept[result.agent] = acks[result.agent]
            else:
                kept.pop(result.agent, None)
        else:
            acks.pop(result.agent, None)
            kept.pop(result.agent, None)
    if change.after is None:  # deleted: gone once no agent runs it any more
        if kept and old is not None:
            _keep_acks(old, kept)
        else:
            state.resources.pop(change.address, None)
    elif succeeded == touched:
        state.resources[change.address] = resource_state(change, acks)
    elif old is not None:
        _keep_acks(old, kept)
    elif acks:  # a creation that some agents acknowledged
        state.resources[change.address] = resource_state(change, acks)
    # a creation no agent acknowledged is not recorded: the next plan creates it again
    new = state.resources.get(change.address)
    if old is not None and new is not None and new is not old:
        new.dns = dict(old.dns)  # the DNS side (apply/dns.py) updates them


def _keep_acks(rs: ResourceState, acks: dict[str, AgentAck]) -> None:
    rs.agents = dict(sorted(acks.items()))
    rs.attributes["revisions"] = revisions(acks)
