"""The diff engine: configuration + recorded (or refreshed) state -> `Plan`.

Terraform's model: `prior` is the state as recorded; `refreshed` is what the agents
report (the refresh stage provides it; None with `--refresh=false`). Drift is
`prior` vs `refreshed`; the planned changes are the configuration vs
`refreshed or prior`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime

from l4plan import codes
from l4plan.agents.placement import (
    AgentOperations,
    Placement,
    agent_operations,
    desired_placements,
)
from l4plan.agents.refresh import AgentSnapshot
from l4plan.agents.spec import SpecRenderer
from l4plan.configs.model import UNKNOWN, Config, is_wholly_known
from l4plan.diagnostics import Diagnostic
from l4plan.graph import build_graph
from l4plan.plans.attributes import AGENT_COMPUTED, PLACED_TYPES
from l4plan.plans.base import PlanningBase, planning_base
from l4plan.plans.dns_changes import annotate_dns, dns_drift
from l4plan.plans.instance import changed_attributes, plan_instance
from l4plan.plans.model import (
    Action,
    AgentAction,
    OutputChange,
    Plan,
    PlanMode,
    ResourceChange,
    StateRef,
)
from l4plan.plans.order import apply_order
from l4plan.plans.targets import excluded_blocks, select_targets, targeting_warning
from l4plan.plans.values import parse_path
from l4plan.states.model import ResourceState, State


def build_plan(
    config: Config,
    prior: State | None,
    *,
    refreshed: State | None = None,
    targets: Sequence[str] = (),
    mode: PlanMode = "normal",
    now: datetime | None = None,
    snapshots: Mapping[str, AgentSnapshot] | None = None,
    prepared: PlanningBase | None = None,
) -> Plan:
    """Plan the changes that make the recorded state match the configuration.

    Problems (an unknown `--target`, `prevent_destroy` on a resource the plan would
    destroy) are error diagnostics in `Plan.diagnostics`; this function does not
    raise for bad input. `config` must have loaded without errors (dependency cycles
    are reported by the loader). The configuration's moved and import blocks are
    carried out on `refreshed or prior` first (`plans.base`; `snapshots` are what
    the refresh read, which imports need; `prepared` is that base when the caller
    made it already).
    """
    plan = Plan(
        mode=mode,
        targets=list(targets),
        prior_state=StateRef(prior.lineage, prior.serial) if prior is not None else None,
    )
    graph = build_graph(config)
    if prior is not None and refreshed is not None:
        plan.drift = drift_changes(prior, refreshed)
    if mode == "refresh-only":
        return plan

    if prepared is None:
        read = refreshed if refreshed is not None else prior
        prepared = planning_base(config, read, snapshots, mode, now=now)
    plan.diagnostics += prepared.diagnostics
    if plan.errored:
        return plan
    base = prepared.state
    recorded = base.resources if base is not None else {}
    changes: dict[str, ResourceChange] = {}
    renderer = SpecRenderer(config, now=now)
    if mode == "normal":
        for address, res in config.resources.items():
            changes[address] = plan_instance(res, recorded.get(address), renderer)
    for address, rs in recorded.items():
        if mode == "destroy":
            changes[address] = _delete(rs, None)
        elif address not in config.resources:
            changes[address] = _delete(rs, _delete_reason(rs, config))
    for address, change in changes.items():
        change.previous_address = prepared.previous.get(address)
        change.importing = prepared.importing.get(address)

    if targets:
        selected, diags = select_targets(targets, config, graph, base, mode)
        plan.diagnostics += diags + excluded_blocks(list(changes.values()), selected)
        if plan.errored:
            return plan
        changes = {a: c for a, c in changes.items() if a in selected}
        plan.diagnostics.append(targeting_warning(targets))

    planned = {a: c.after for a, c in changes.items() if c.type in PLACED_TYPES}
    placements = desired_placements(config, planned=planned, now=now)
    operations = agent_operations(placements, base, addresses=set(changes))
    _annotate_agents(changes, placements, operations, base)
    annotate_dns(changes, config, base)
    plan.diagnostics += _prevent_destroy(changes, config)
    plan.changes = apply_order(changes.values(), base)
    plan.output_changes = _output_changes(config, base, mode, bool(plan.resource_actions))
    return plan


def _annotate_agents(
    changes: dict[str, ResourceChange],
    placements: dict[str, Placement],
    operations: dict[str, AgentOperations],
    base: State | None,
) -> None:
    """Say what each agent is told, from the same operations apply sends.

    An application whose attributes are unchanged still needs an update where an
    agent's acknowledged spec differs from the rendered one: a partial apply left
    the agent behind, someone edited it outside l4plan, or a load balancer or ACL
    it uses changed. (A lapse of keep-alive protection with the site's DDoS
    protection is an attribute change of its own: `effective_keepalive`.)
    """
    upserted: dict[str, set[str]] = {}
    deleted: dict[str, set[str]] = {}
    for agent, ops in operations.items():
        for up in ops.upserts:
            upserted.setdefault(up.address, set()).add(agent)
        for gone in ops.deletes:
            deleted.setdefault(gone.address, set()).add(agent)
    recorded = base.resources if base is not None else {}
    for address, change in changes.items():
        if change.type not in PLACED_TYPES:
            continue
        rs = recorded.get(address)
        acked = set(rs.agents) if rs is not None else set()
        ups, downs = upserted.get(address, set()), deleted.get(address, set())
        placement = placements.get(address)
        agents: dict[str, AgentAction] = {}
        if change.after is not None and placement is not None:
            for agent in placement.agents:
                if placement.spec is None:  # an input is known only after apply
                    agents[agent] = "update" if agent in acked else "create"
                elif agent not in ups:
                    agents[agent] = "no-op"
                elif agent not in acked:
                    agents[agent] = "create"
                else:
                    agents[agent] = "replace" if change.action.is_replace else "update"
        for agent in sorted(downs - ups):
            agents[agent] = "delete"
        change.agents = dict(sorted(agents.items()))
        if change.action is Action.NOOP and (ups or downs):
            change.action = Action.UPDATE
            change.after = copy.deepcopy(change.after)
            for k in AGENT_COMPUTED:
                change.after[k] = UNKNOWN
            change.changed_attributes = sorted(AGENT_COMPUTED)
            only_missing = all(agents.get(a) in ("create", "delete") for a in ups | downs)
            change.action_reason = (
                "update_because_agents_missing" if only_missing else "update_because_agents_differ"
            )


def _delete(rs: ResourceState, reason: str | None) -> ResourceChange:
    return ResourceChange(
        address=rs.address,
        type=rs.type,
        name=rs.name,
        index_key=rs.index_key,
        action=Action.DELETE,
        before=rs.attributes,
        after=None,
        before_sensitive={parse_path(p) for p in rs.sensitive_attributes},
        agents=dict.fromkeys(sorted(rs.agents), "delete"),
        dependencies=sorted(rs.dependencies),
        action_reason=reason,
    )


def _delete_reason(rs: ResourceState, config: Config) -> str:
    """Terraform's reasons: the block is gone, or only this instance key is."""
    block = f"{rs.type}.{rs.name}"
    siblings = [r for r in config.resources.values() if r.resource_address == block]
    if not siblings:
        return "delete_because_no_resource_config"
    keys = {type(r.key) for r in siblings}
    if isinstance(rs.index_key, int) and keys == {int}:
        return "delete_because_count_index"
    if isinstance(rs.index_key, str) and keys == {str}:
        return "delete_because_each_key"
    return "delete_because_wrong_repetition"


def _prevent_destroy(changes: dict[str, ResourceChange], config: Config) -> list[Diagnostic]:
    diags = []
    for change in changes.values():
        res = config.resources.get(change.address)
        if res is None or not res.lifecycle.prevent_destroy or not change.action.destroys:
            continue
        why = (
            "a change of " + ", ".join(str(p[0]) for p in change.replace_paths)
            if change.replace_paths
            else "the plan"
        )
        diags.append(
            Diagnostic.at(
                codes.PREVENT_DESTROY,
                f"{change.address} has lifecycle.prevent_destroy set, but {why} would "
                "destroy it. Undo the change, remove prevent_destroy, or leave this "
                "resource out of the plan with --target.",
                res.pos,
                address=change.address,
            )
        )
    return diags


def _output_changes(
    config: Config, base: State | None, mode: PlanMode, resources_change: bool
) -> list[OutputChange]:
    recorded = base.outputs if base is not None else {}
    result: list[OutputChange] = []
    if mode == "normal":
        for name, out in sorted(config.outputs.items()):
            old = recorded.get(name)
            sensitive = out.sensitive or (old is not None and old.sensitive)
            if old is None:
                result.append(OutputChange(name, Action.CREATE, None, out.value, sensitive))
                continue
            after = out.value
            if not is_wholly_known(after) and not resources_change:
                # unknown only because of agent-filled values: nothing will change them
                after = old.value
            action = Action.NOOP if after == old.value else Action.UPDATE
            result.append(OutputChange(name, action, old.value, after, sensitive))
    for name, old in sorted(recorded.items()):
        if mode == "destroy" or name not in config.outputs:
            result.append(OutputChange(name, Action.DELETE, old.value, None, old.sensitive))
    return result


def drift_changes(prior: State, refreshed: State) -> list[ResourceChange]:
    """What changed outside l4plan: recorded vs what the agents report."""
    drift: list[ResourceChange] = []
    for address, old in sorted(prior.resources.items()):
        new = refreshed.resources.get(address)
        if new is None:
            gone = _delete(old, "deleted_outside_l4plan")
            drift.append(gone)
            continue
        changed = changed_attributes(old.type, old.attributes, new.attributes)
        agents: dict[str, AgentAction] = {}
        for agent in sorted(set(old.agents) | set(new.agents)):
            if agent not in new.agents:
                agents[agent] = "delete"
            elif agent not in old.agents:
                agents[agent] = "create"
            elif new.agents[agent].spec_hash != old.agents[agent].spec_hash:
                agents[agent] = "update"
        records = dns_drift(old.dns, new.dns)
        if not changed and not agents and not records:
            continue
        drift.append(
            ResourceChange(
                address=address,
                type=old.type,
                name=old.name,
                index_key=old.index_key,
                action=Action.UPDATE,
                before=old.attributes,
                after=new.attributes,
                before_sensitive={parse_path(p) for p in old.sensitive_attributes},
                after_sensitive={parse_path(p) for p in new.sensitive_attributes},
                changed_attributes=changed,
                agents=agents,
                dns=records,
                dependencies=sorted(new.dependencies),
                action_reason="changed_outside_l4plan",
            )
        )
    return drift
