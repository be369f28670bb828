"""Plan after a refresh: read the agents, fold reality into state, then diff.

Every command that plans (plan, apply, destroy, drift) goes through here, so they
all see the same "changes outside l4plan".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from l4plan.agents.refresh import RefreshResult, read_agents, refresh_state
from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic
from l4plan.plans.diff import build_plan
from l4plan.plans.model import Plan, PlanMode
from l4plan.states.model import State


@dataclass(slots=True)
class RefreshedPlan:
    plan: Plan
    base: State | None  # the state the plan was made against: refreshed, or as recorded
    refresh: RefreshResult | None  # None with --refresh=false


def refresh(
    config: Config,
    prior: State | None,
    *,
    workdir: Path,
    timeout: float = 10.0,
    parallelism: int = 10,
) -> RefreshResult:
    """Read every declared agent and fold what it runs into a copy of `prior`."""
    snapshots, errors = read_agents(
        config.agents.values(), workdir=workdir, timeout=timeout, parallelism=parallelism
    )
    result = refresh_state(prior, snapshots)
    result.errors = errors
    return result


def refresh_diagnostics(result: RefreshResult, config: Config) -> list[Diagnostic]:
    """Warnings for agents that could not be read and applications nobody manages."""
    diags = []
    for name, error in sorted(result.errors.items()):
        agent = config.agents[name]
        diags.append(
            Diagnostic.at(
                "L4W103",
                f'could not refresh agent "{name}" ({agent.endpoint}): {error.status}:'
                f" {error.message}. Its applications are planned from the recorded"
                " state; check that the agent runs and is reachable.",
                agent.pos,
                address=f"agent.{name}",
                severity="warning",
            )
        )
    for name, apps in sorted(result.unmanaged.items()):
        agent = config.agents[name]
        listed = ", ".join(apps)
        diags.append(
            Diagnostic.at(
                "L4W104",
                f'agent "{name}" runs applications that no resource manages: {listed}.'
                " l4plan leaves them alone; adopt one with"
                " `l4plan import l4_application.NAME <domain>`, or remove it on the agent.",
                agent.pos,
                address=f"agent.{name}",
                severity="warning",
            )
        )
    return diags


def plan_refreshed(
    config: Config,
    prior: State | None,
    *,
    workdir: Path,
    do_refresh: bool = True,
    targets: Sequence[str] = (),
    mode: PlanMode = "normal",
    timeout: float = 10.0,
    parallelism: int = 10,
    now: datetime | None = None,
) -> RefreshedPlan:
    result = None
    if do_refresh:
        result = refresh(config, prior, workdir=workdir, timeout=timeout, parallelism=parallelism)
    plan = build_plan(
        config,
        prior,
        refreshed=result.state if result is not None else None,
        targets=targets,
        mode=mode,
        now=now,
    )
    if result is not None:
        plan.diagnostics = [*refresh_diagnostics(result, config), *plan.diagnostics]
    return RefreshedPlan(plan, result.state if result is not None else prior, result)
