"""Import: adopt an application that already runs on its agents.

The state records what an apply of the configured resource would have recorded had
the agents that run it acknowledged it: the plan's attributes for the resource
(`plans.diff.plan_instance`) and, per agent, the canonical hash of the spec it runs
(`apply.record.resource_state`). So the next plan is empty when the agents run what
the configuration says, and shows an update wherever they run something else.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from l4plan.agents.errors import AgentError
from l4plan.agents.placement import desired_placements
from l4plan.agents.refresh import make_client
from l4plan.agents.spec import SpecRenderer, canonical_hash
from l4plan.apply.record import resource_state
from l4plan.configs.model import Config
from l4plan.plans.diff import plan_instance
from l4plan.states import State
from l4plan.states.model import AgentAck
from l4plan.workflows.config import checked_config
from l4plan.workflows.errors import OperationError
from l4plan.workflows.options import RunOptions
from l4plan.workflows.state_write import locked_backend, write_state


@dataclass(slots=True)
class ImportResult:
    address: str
    name: str
    agents: list[str]  # the agents found running it, sorted


def import_application(workdir: Path, address: str, name: str, options: RunOptions) -> ImportResult:
    """Record application `name`, running on agents of `address`'s placement, as
    `address`. Raises InvalidConfiguration or OperationError; writes nothing then."""
    config = checked_config(workdir, options)
    res = config.resources.get(address)
    if res is None or res.type != "l4_application":
        raise OperationError(
            f"{address} is not an l4_application in the configuration; add its resource "
            "block first, then import it"
        )
    if res.attrs.get("id") != name:
        raise OperationError(
            f'{address} is configured with domain "{res.attrs.get("id")}", not "{name}"; '
            "import the application under the name the configuration gives it"
        )
    placement = desired_placements(config)[address]
    acks = _running_on_agents(config, workdir, placement.agents, name, options.timeout)
    if not acks:
        raise OperationError(
            f'no agent of {address} ({", ".join(placement.agents)}) runs "{name}"; nothing to '
            "import. `l4plan apply` creates it instead"
        )
    with locked_backend(config, workdir, "import", options.lock_timeout) as backend:
        prior = backend.read()
        state = State() if prior is None else copy.deepcopy(prior)
        if address in state.resources:
            raise OperationError(
                f"{address} is already in the state; `l4plan state rm {address}` first "
                "to import it again"
            )
        for other in state.resources.values():
            if other.type == "l4_application" and other.attributes.get("id") == name:
                raise OperationError(f'"{name}" is already managed as {other.address}')
        created = plan_instance(res, None, SpecRenderer(config))
        assert created.after is not None
        created.after.pop("revisions", None)  # the agents' revisions, recorded last
        state.resources[address] = resource_state(created, acks)
        write_state(backend, state, prior)
    return ImportResult(address, name, sorted(acks))


def _running_on_agents(
    config: Config, workdir: Path, agents: tuple[str, ...], name: str, timeout: float
) -> dict[str, AgentAck]:
    """Per agent of `agents` that runs application `name`: what it runs, as an ack."""
    acks: dict[str, AgentAck] = {}
    for agent_name in agents:
        try:
            with make_client(config.agents[agent_name], workdir=workdir, timeout=timeout) as client:
                listing = client.list_apps()
        except AgentError as e:
            raise OperationError(f"agent.{agent_name}: {e.status}: {e.message}") from None
        running = {a["name"]: a for a in listing["apps"]}
        if name in running:
            acks[agent_name] = AgentAck(
                int(listing["revision"]), canonical_hash(running[name]["spec"])
            )
    return acks
