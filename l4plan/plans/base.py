"""The state a plan is made against: the refreshed (or recorded) state, with the
configuration's moved blocks carried out (`moves`) and the applications its import
blocks adopt recorded (`imports`).

Terraform's order: moves first, on the prior state, then imports, then the diff. The
plan shows each moved instance with its previous address and each imported one as
imported; apply writes this state's records for them even where no agent is called.
Refresh-only plans do neither; destroy plans carry out the moves (the objects are
destroyed at their new addresses) but import nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from l4plan import codes
from l4plan.agents.placement import desired_placements
from l4plan.agents.refresh import AgentSnapshot
from l4plan.agents.spec import SpecRenderer
from l4plan.configs.model import Config, ImportBlock
from l4plan.diagnostics import Diagnostic
from l4plan.plans.imports import imported_resource, managed_elsewhere, running_acks
from l4plan.plans.model import PlanMode
from l4plan.plans.moves import apply_moves
from l4plan.states.model import State


@dataclass(slots=True)
class PlanningBase:
    state: State | None
    previous: dict[str, str] = field(default_factory=dict)  # moved to -> moved from
    importing: dict[str, str] = field(default_factory=dict)  # address -> imported id
    diagnostics: list[Diagnostic] = field(default_factory=list)


def planning_base(
    config: Config,
    base: State | None,
    snapshots: Mapping[str, AgentSnapshot] | None,
    mode: PlanMode,
    *,
    now: datetime | None = None,
    imports: bool = True,
) -> PlanningBase:
    """`base` (not changed) with the moves and imports of `config` carried out.
    `snapshots`: what the refresh read from the agents (None: no refresh). Without
    `imports` the import blocks are left out (`graph --type plan` reads no agent)."""
    blocks = config.imports if mode == "normal" and imports else []
    if mode == "refresh-only" or not (config.moved or blocks):
        return PlanningBase(base)
    state = copy.deepcopy(base) if base is not None else State()
    previous, diagnostics = apply_moves(state, config.moved)
    importing: dict[str, str] = {}
    pending = [t for t in blocks if t.to_address not in state.resources]
    if pending:
        renderer = SpecRenderer(config, now=now)
        placements = desired_placements(config, now=now)
        for target in pending:
            agents = placements[target.to_address].agents
            problem = _import_problem(target, state, agents, snapshots)
            if problem:
                diagnostics.append(
                    Diagnostic.at(codes.IMPORT_UNAVAILABLE, problem, target.pos, target.to_address)
                )
                continue
            assert snapshots is not None
            acks = running_acks(snapshots, agents, target.id)
            res = config.resources[target.to_address]
            state.resources[target.to_address] = imported_resource(res, acks, renderer)
            importing[target.to_address] = target.id
    if base is None and not importing:
        return PlanningBase(None, previous, importing, diagnostics)
    return PlanningBase(state, previous, importing, diagnostics)


def _import_problem(
    target: ImportBlock,
    state: State,
    agents: tuple[str, ...],
    snapshots: Mapping[str, AgentSnapshot] | None,
) -> str | None:
    """Why `target` cannot be imported into `state`, or None."""
    where = f"{target.to_address} ({', '.join(agents)})"
    if snapshots is None:
        return (
            f'cannot import "{target.id}" as {target.to_address} without reading its agents; '
            "plan without --refresh=false"
        )
    unread = [a for a in agents if a not in snapshots]
    if unread:
        return (
            f'cannot import "{target.id}" as {target.to_address}: agent '
            f"{', '.join(unread)} could not be read (see the warning above); plan again "
            "once it answers"
        )
    elsewhere = managed_elsewhere(state, target.to_address, target.id)
    if elsewhere:
        return f"cannot import {target.to_address}: {elsewhere}"
    if not running_acks(snapshots, agents, target.id):
        return (
            f'Cannot import non-existent remote object: no agent of {where} runs "{target.id}". '
            "Remove the import block to let apply create it instead"
        )
    return None
