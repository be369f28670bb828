"""What the state records for a planned change once agents acknowledged it.

Apply records its changes with it (`apply.record`), and both forms of import record
an adopted application with it, so an import records exactly what an apply of the
same configuration would have.
"""

from __future__ import annotations

from typing import Any

from l4plan.configs.model import UNKNOWN
from l4plan.plans.model import ResourceChange
from l4plan.states.model import AgentAck, ResourceState


def revisions(acks: dict[str, AgentAck]) -> dict[str, int]:
    """The `revisions` attribute: per agent, the revision that acknowledged it."""
    return {agent: ack.revision for agent, ack in sorted(acks.items())}


def resource_state(change: ResourceChange, acks: dict[str, AgentAck]) -> ResourceState:
    """What the state records for `change` once `acks` acknowledged it: its planned
    attributes (unknowns as null) with the agents' revisions."""
    attrs = known_values(change.after or {})
    attrs["revisions"] = revisions(acks)
    return ResourceState(
        address=change.address,
        type=change.type,
        name=change.name,
        index_key=change.index_key,
        attributes=attrs,
        dependencies=list(change.dependencies),
        sensitive_attributes=sorted(".".join(map(str, p)) for p in change.after_sensitive),
        agents=dict(sorted(acks.items())),
    )


def known_values(value: Any) -> Any:
    """Replace values still unknown after apply with null, recursively."""
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: known_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [known_values(v) for v in value]
    return value
