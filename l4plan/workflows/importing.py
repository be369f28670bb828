"""Import: adopt an application that already runs on its agents (`l4plan import`).

The record is the one `plans.imports` makes for an `import` block too: what an
apply of the configured resource would have recorded had the agents that run it
acknowledged it. So the next plan is empty when the agents run what the
configuration says, and shows an update wherever they run something else.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from l4plan.agents.placement import desired_placements
from l4plan.agents.refresh import read_agents
from l4plan.agents.spec import SpecRenderer
from l4plan.configs.evaluation.moved_import import import_target_problem
from l4plan.plans.imports import imported_resource, managed_elsewhere, running_acks
from l4plan.states import State
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
    problem = import_target_problem(config, address, name)
    if problem:
        raise OperationError(problem)
    placement = desired_placements(config)[address]
    snapshots, errors = read_agents(
        [config.agents[a] for a in placement.agents], workdir=workdir, timeout=options.timeout
    )
    if errors:
        agent_name, e = min(errors.items())
        raise OperationError(f"agent.{agent_name}: {e.status}: {e.message}")
    acks = running_acks(snapshots, placement.agents, name)
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
        elsewhere = managed_elsewhere(state, address, name)
        if elsewhere:
            raise OperationError(elsewhere)
        state.resources[address] = imported_resource(
            config.resources[address], acks, SpecRenderer(config)
        )
        write_state(backend, state, prior)
    return ImportResult(address, name, sorted(acks))
