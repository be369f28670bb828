"""Drift: read every agent and compare what it runs with the recorded state; the
report model of `l4plan drift` (`schemas/drift.schema.json`).

Read-only: it never takes the state lock (it waits up to the lock timeout for a
running writer, like plan) and never writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l4plan import __version__
from l4plan.agents.placement import desired_placements
from l4plan.agents.refresh import AgentDrift, AppDrift, RefreshResult
from l4plan.agents.spec import canonical_spec
from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic, has_errors
from l4plan.plans.refreshed import refresh
from l4plan.states.model import State
from l4plan.workflows.config import loaded_config
from l4plan.workflows.drift_dns import dns_reports
from l4plan.workflows.options import RunOptions
from l4plan.workflows.reading import read_state


@dataclass(slots=True)
class DriftResult:
    config: Config
    diagnostics: list[Diagnostic]
    report: dict[str, Any]  # schemas/drift.schema.json
    checked: bool  # False: the configuration has errors and no agent was read


def drift(workdir: Path, options: RunOptions, *, wait_for_lock: bool = True) -> DriftResult:
    """Compare what every agent runs with the recorded state. Raises OperationError
    when the state cannot be read."""
    config, diagnostics = loaded_config(workdir, options)
    if has_errors(diagnostics):
        return DriftResult(
            config, diagnostics, drift_report(config, None, None, diagnostics), False
        )
    read = read_state(config, workdir, lock_timeout=options.lock_timeout, wait=wait_for_lock)
    result = refresh(
        config,
        read.state,
        workdir=workdir,
        timeout=options.timeout,
        parallelism=options.parallelism,
    )
    if read.lock_warning is not None:
        diagnostics.append(read.lock_warning)
    return DriftResult(
        config, diagnostics, drift_report(config, read.state, result, diagnostics), True
    )


KINDS = ("changed", "missing", "appeared", "unmanaged", "unbound")
DNS_KINDS = ("changed", "missing")  # of published record sets (`dns` in the report)


def spec_differences(configured: Any, running: Any, path: str = "") -> list[dict[str, Any]]:
    """Where two agent specs differ, as `{path, configured, running}` leaves.

    Lists of equal length are compared element by element (rules are sorted in a
    spec, so equal positions are the same rule); otherwise the whole list differs.
    """
    if isinstance(configured, dict) and isinstance(running, dict):
        found = []
        for key in sorted(set(configured) | set(running)):
            where = f"{path}.{key}" if path else key
            found += spec_differences(configured.get(key), running.get(key), where)
        return found
    if (
        isinstance(configured, list)
        and isinstance(running, list)
        and len(configured) == len(running)
        and any(isinstance(v, dict | list) for v in configured)
    ):
        found = []
        for i, (a, b) in enumerate(zip(configured, running, strict=True)):
            found += spec_differences(a, b, f"{path}[{i}]")
        return found
    if configured == running:
        return []
    return [{"path": path, "configured": configured, "running": running}]


def drift_report(
    config: Config,
    state: State | None,
    result: RefreshResult | None,
    diagnostics: list[Diagnostic],
) -> dict[str, Any]:
    """The `drift --json` document (schemas/drift.schema.json); `result` is None when
    the configuration had errors and no agent was read."""
    agents = [] if result is None else _agent_reports(config, state, result)
    dns = [] if result is None else dns_reports(config, state, result.dns)
    summary = {kind: sum(len(a[kind]) for a in agents) for kind in KINDS}
    summary["unreachable"] = sum(1 for a in agents if a["error"] is not None)
    if dns:  # only where a site publishes: other reports read as before
        for kind in DNS_KINDS:
            summary[f"dns_{kind}"] = sum(len(d[kind]) for d in dns)
        summary["dns_unreachable"] = sum(1 for d in dns if d["error"] is not None)
    errored = summary["unreachable"] > 0 or summary.get("dns_unreachable", 0) > 0
    errored = errored or has_errors(diagnostics)
    drifted = any(summary[kind] for kind in KINDS) or any(d["status"] == "drifted" for d in dns)
    report = {
        "format_version": "1.0",
        "l4plan_version": __version__,
        "in_sync": not errored and not drifted,
        "errored": errored,
        "state": {"lineage": state.lineage, "serial": state.serial} if state else None,
        "agents": agents,
        "summary": summary,
        "diagnostics": [d.to_json() for d in diagnostics],
    }
    if dns:
        report["dns"] = dns
    return report


def _agent_reports(
    config: Config, state: State | None, result: RefreshResult
) -> list[dict[str, Any]]:
    placements = {p.name: p for p in desired_placements(config).values()}
    declared = {p.name: p.address for p in placements.values()}
    recorded_agents = {
        agent for rs in (state.resources.values() if state else []) for agent in rs.agents
    }
    agents = []
    for name in sorted(set(config.agents) | recorded_agents):
        agent = config.agents.get(name)
        entry: dict[str, Any] = {
            "name": name,
            "endpoint": agent.endpoint if agent else None,
            "status": "in_sync",
            "revision": None,
            "error": None,
            **{kind: [] for kind in KINDS},
        }
        if agent is None:
            entry["status"] = "undeclared"
            entry["error"] = {
                "status": "FAILED_PRECONDITION",
                "message": f'the state records applications on agent "{name}", which the '
                "configuration no longer declares",
            }
        elif name in result.errors:
            error = result.errors[name]
            entry["status"] = "unreachable"
            entry["error"] = {"status": error.status, "message": error.message}
        else:
            snapshot = result.snapshots[name]
            entry["revision"] = snapshot.revision
            found = result.drift.get(name, AgentDrift())
            entry["changed"] = [
                {
                    **_app(app),
                    "differences": _differences(app, placements, snapshot.apps[app.name].spec),
                }
                for app in found.changed
            ]
            entry["missing"] = [_app(app) for app in found.missing]
            entry["appeared"] = [_app(app) for app in found.appeared]
            entry["unmanaged"] = [
                {**_app(app), "declared_by": declared.get(app.name)} for app in found.unmanaged
            ]
            entry["unbound"] = [
                {"name": app, "bind_errors": errors} for app, errors in found.unbound.items()
            ]
            if found:
                entry["status"] = "drifted"
        agents.append(entry)
    return agents


def _app(app: AppDrift) -> dict[str, Any]:
    return {
        "name": app.name,
        "address": app.address,
        "recorded_spec_hash": app.recorded_hash,
        "running_spec_hash": app.running_hash,
    }


def _differences(
    app: AppDrift, placements: dict[str, Any], running: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """Configured vs running spec; None when the configuration no longer has the app."""
    placement = placements.get(app.name)
    if placement is None or placement.spec is None:
        return None
    return spec_differences(placement.spec, canonical_spec(running))
