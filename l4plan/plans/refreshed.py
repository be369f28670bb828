"""Plan after a refresh: read the agents, fold reality into state, then diff.

Every command that plans (plan, apply, destroy, drift) goes through here, so they
all see the same "changes outside l4plan".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from l4plan import codes
from l4plan.agents.errors import refresh_hint
from l4plan.agents.refresh import RefreshResult, read_agents, refresh_state
from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic
from l4plan.dns.diagnostics import dns_refresh_diagnostics
from l4plan.dns.refresh import refresh_records
from l4plan.plans.base import planning_base
from l4plan.plans.diff import build_plan
from l4plan.plans.model import Plan, PlanMode
from l4plan.states.model import State


@dataclass(slots=True)
class RefreshedPlan:
    plan: Plan
    # the state the plan was made against: refreshed, or as recorded, with the moved
    # and import blocks carried out (plans.base)
    base: State | None
    refresh: RefreshResult | None  # None with --refresh=false


def refresh(
    config: Config,
    prior: State | None,
    *,
    workdir: Path,
    timeout: float = 10.0,
    parallelism: int = 10,
) -> RefreshResult:
    """Read every declared agent and fold what it runs into a copy of `prior`; then
    read back the DNS records the state records (docs/dns.md)."""
    snapshots, errors = read_agents(
        config.agents.values(), workdir=workdir, timeout=timeout, parallelism=parallelism
    )
    result = refresh_state(prior, snapshots)
    result.errors = errors
    result.dns = refresh_records(config, result.state, timeout=timeout)
    return result


def refresh_diagnostics(
    result: RefreshResult, config: Config, *, complete: bool = False, mode: PlanMode = "normal"
) -> list[Diagnostic]:
    """Diagnostics for agents that could not be read, applications nobody manages,
    and listeners an agent could not bind.

    An agent that could not be read is a warning (L4W103: its applications are
    planned from the recorded state), or with `complete` an error (L4E103): a plan
    whose exit code must say "in sync" cannot say it of an agent it did not see.
    """
    # name -> (address, agents) of every application the configuration declares
    declared = {
        str(r.attrs.get("id")): (r.address, r.attrs.get("agents") or [])
        for r in config.of_type("l4_application")
    }
    # the plan says what becomes of what an import block imports (normal plans only)
    imported = {target.id for target in config.imports} if mode == "normal" else set()
    diags = []
    for name, error in sorted(result.errors.items()):
        agent = config.agents[name]
        hint = refresh_hint(error.status, name)
        pos = agent.pos  # not the token's line: a literal token would be shown
        seen = (
            f'could not refresh agent "{name}" ({agent.endpoint}): {error.status}: {error.message}.'
        )
        if complete:
            diags.append(
                Diagnostic.at(
                    codes.AGENT_UNREFRESHED,
                    f"{seen} The plan cannot tell whether what it runs is in sync, so"
                    f" --detailed-exitcode fails; {hint} (or plan with --refresh=false to"
                    " compare the configuration with the recorded state only).",
                    pos,
                    address=f"agent.{name}",
                )
            )
            continue
        diags.append(
            Diagnostic.at(
                codes.AGENT_UNREACHABLE,
                f"{seen} Its applications are planned from the recorded state; {hint}.",
                pos,
                address=f"agent.{name}",
                severity="warning",
            )
        )
    for name, found in result.drift.items():
        agent = config.agents[name]
        unmanaged = [a for a in found.unmanaged if a.name not in imported]
        taken = [a.name for a in unmanaged if name in declared.get(a.name, ("", []))[1]]
        foreign = [a.name for a in unmanaged if a.name not in taken]
        if foreign:
            diags.append(
                Diagnostic.at(
                    codes.UNMANAGED_APP,
                    f'agent "{name}" runs applications that no resource manages: '
                    f"{', '.join(foreign)}. l4plan leaves them alone; adopt one with"
                    " `l4plan import l4_application.NAME <domain>`, or remove it on the agent.",
                    agent.pos,
                    address=f"agent.{name}",
                    severity="warning",
                )
            )
        for app in taken:
            address = declared[app][0]
            diags.append(
                Diagnostic.at(
                    codes.UNMANAGED_APP,
                    f'agent "{name}" already runs {app}, which {address} declares but the'
                    " state does not record: apply replaces it with the configured spec."
                    f" To review the difference first, `l4plan import {address} {app}` and"
                    " plan again.",
                    agent.pos,
                    address=f"agent.{name}",
                    severity="warning",
                )
            )
        for app, errors in sorted(found.unbound.items()):
            listeners = "; ".join(str(e.get("description", e)) for e in errors)
            diags.append(
                Diagnostic.at(
                    codes.UNBOUND_LISTENERS,
                    f'agent "{name}" holds {app} but could not bind some of its listeners:'
                    f" {listeners}. The agent retries every 2 s; free the port(s) on that"
                    " node (another process holds them).",
                    agent.pos,
                    address=f"agent.{name}",
                    severity="warning",
                )
            )
    return [*diags, *dns_refresh_diagnostics(result.dns, config, complete=complete)]


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
    complete_refresh: bool = False,
) -> RefreshedPlan:
    """Refresh (unless `do_refresh` is false), then plan against the refreshed state.
    `complete_refresh`: an agent that cannot be read is an error (see
    `refresh_diagnostics`)."""
    result = None
    if do_refresh:
        result = refresh(config, prior, workdir=workdir, timeout=timeout, parallelism=parallelism)
    refreshed = result.state if result is not None else None
    prepared = planning_base(
        config,
        refreshed if result is not None else prior,
        result.snapshots if result is not None else None,
        mode,
        now=now,
    )
    plan = build_plan(
        config,
        prior,
        refreshed=refreshed,
        targets=targets,
        mode=mode,
        now=now,
        prepared=prepared,
    )
    if result is not None:
        found = refresh_diagnostics(result, config, complete=complete_refresh, mode=mode)
        plan.diagnostics = [*found, *plan.diagnostics]
    return RefreshedPlan(plan, prepared.state, result)
