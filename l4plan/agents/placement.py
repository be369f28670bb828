"""Which application spec belongs on which agent, and what each agent must be told.

`desired_placements` renders every application of the configuration once;
`agent_operations` compares that with what the agents acknowledged (the recorded or
refreshed state) and yields, per agent, the upserts and deletes of one
`Config.Apply`. Plan and apply both use it, so what the plan shows per agent is
exactly what apply sends.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from l4plan.agents.spec import SpecRenderer, spec_hash
from l4plan.configs.model import Config
from l4plan.states.model import State

PLACED_TYPES = frozenset({"l4_application"})


@dataclass(frozen=True, slots=True)
class Placement:
    """An application as its agents should run it."""

    address: str
    name: str  # the application id (its FQDN): the agent's name for it
    agents: tuple[str, ...]
    spec: dict[str, Any] | None  # None while an input is unknown until apply
    spec_hash: str | None


@dataclass(frozen=True, slots=True)
class Upsert:
    address: str
    name: str
    spec: dict[str, Any]
    spec_hash: str


@dataclass(frozen=True, slots=True)
class Delete:
    address: str
    name: str


@dataclass(slots=True)
class AgentOperations:
    """One agent's share of an apply: a single all-or-nothing `Config.Apply`."""

    agent: str
    upserts: list[Upsert] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes)

    @property
    def addresses(self) -> set[str]:
        return {op.address for op in [*self.upserts, *self.deletes]}


def desired_placements(
    config: Config,
    *,
    planned: Mapping[str, dict[str, Any] | None] | None = None,
    now: datetime | None = None,
) -> dict[str, Placement]:
    """Every application's placement and spec.

    `planned` overrides an application's attributes with the plan's "after" (which
    keeps `ignore_changes` attributes as recorded); a None there leaves it out.
    """
    renderer = SpecRenderer(config, now=now)
    placements = {}
    for res in config.resources.values():
        if res.type not in PLACED_TYPES:
            continue
        attrs = res.attrs if planned is None else planned.get(res.address, res.attrs)
        if attrs is None:
            continue
        spec = renderer.render(attrs)
        agents = attrs.get("agents")
        placements[res.address] = Placement(
            address=res.address,
            name=str(attrs.get("id")),
            agents=tuple(sorted(a for a in agents if isinstance(a, str)))
            if isinstance(agents, list)
            else (),
            spec=spec,
            spec_hash=spec_hash(spec) if spec is not None else None,
        )
    return placements


def agent_operations(
    placements: dict[str, Placement],
    base: State | None,
    *,
    addresses: Collection[str] | None = None,
) -> dict[str, AgentOperations]:
    """Per agent, what must change so its applications match `placements`.

    `base` is the refreshed (or recorded) state; `addresses` limits the work to
    those resources (targeted plans). Agents with nothing to do are left out.
    """
    ops: dict[str, AgentOperations] = {}

    def of(agent: str) -> AgentOperations:
        return ops.setdefault(agent, AgentOperations(agent))

    recorded = base.resources if base is not None else {}
    for address, placement in placements.items():
        if addresses is not None and address not in addresses:
            continue
        if placement.spec is None or placement.spec_hash is None:
            continue
        rs = recorded.get(address)
        old_name = rs.attributes.get("id") if rs is not None else None
        for agent in placement.agents:
            ack = rs.agents.get(agent) if rs is not None else None
            renamed = ack is not None and old_name != placement.name
            if renamed:
                of(agent).deletes.append(Delete(address, str(old_name)))
            if ack is None or renamed or ack.spec_hash != placement.spec_hash:
                of(agent).upserts.append(
                    Upsert(address, placement.name, placement.spec, placement.spec_hash)
                )
    for address, rs in recorded.items():
        if rs.type not in PLACED_TYPES or (addresses is not None and address not in addresses):
            continue
        placement = placements.get(address)
        for agent in sorted(rs.agents):
            if placement is None or agent not in placement.agents:
                of(agent).deletes.append(Delete(address, str(rs.attributes.get("id"))))
    return {agent: o for agent, o in sorted(ops.items()) if o}
