"""Import: the record of an application that already runs on its agents.

Both forms of import use these: `l4plan import` (workflows/importing.py) and the
`import` block, which a plan carries out on the state it plans against
(`plans.base`). The record is what an apply of the configured resource would have
recorded had the agents that run it acknowledged it: the plan's attributes for the
resource and, per agent, the canonical hash of the spec it runs. So the plan after
an import is empty when the agents run what the configuration says, and shows an
update wherever they run something else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from l4plan.agents.refresh import AgentSnapshot
from l4plan.agents.spec import SpecRenderer
from l4plan.configs.model import ResourceInstance
from l4plan.plans.instance import plan_instance
from l4plan.plans.recorded import resource_state
from l4plan.states.model import AgentAck, ResourceState, State


def running_acks(
    snapshots: Mapping[str, AgentSnapshot], agents: Iterable[str], name: str
) -> dict[str, AgentAck]:
    """Per agent of `agents` whose snapshot lists application `name`: what it runs,
    as the acknowledgement the state records."""
    acks: dict[str, AgentAck] = {}
    for agent in agents:
        snapshot = snapshots.get(agent)
        if snapshot is not None and name in snapshot.apps:
            acks[agent] = AgentAck(snapshot.revision, snapshot.apps[name].canonical_hash)
    return acks


def imported_resource(
    res: ResourceInstance, acks: dict[str, AgentAck], renderer: SpecRenderer
) -> ResourceState:
    """The state's record of `res`, adopted where `acks` say it runs."""
    created = plan_instance(res, None, renderer)
    assert created.after is not None
    created.after.pop("revisions", None)  # the agents' revisions, recorded last
    return resource_state(created, acks)


def managed_elsewhere(state: State, address: str, name: str) -> str | None:
    """Why `name` cannot be imported as `address`: another resource manages it."""
    for other in state.resources.values():
        named = other.type == "l4_application" and other.attributes.get("id") == name
        if named and other.address != address:
            return f'"{name}" is already managed as {other.address}'
    return None
