"""`l4plan drift`: read every agent and compare what it runs with the recorded state.

Read-only: it never takes the state lock (it waits up to `--lock-timeout` for a
running writer, like `plan`) and never writes. Exit 0 in sync, 1 error (bad
configuration or state, an agent that cannot be read), 2 drift. `--json` follows
`schemas/drift.schema.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from l4plan import __version__
from l4plan.agents.errors import refresh_hint
from l4plan.agents.placement import desired_placements
from l4plan.agents.refresh import AgentDrift, AppDrift, RefreshResult
from l4plan.agents.spec import canonical_spec
from l4plan.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    echo_diagnostics,
    emit_json,
    load,
    no_color_option,
    read_state,
)
from l4plan.cli.context import CliContext
from l4plan.cli.main import cli
from l4plan.cli.options import DURATION, json_option, lock_options, variable_options
from l4plan.configs.model import Config
from l4plan.configs.validate import check
from l4plan.diagnostics import Diagnostic, has_errors
from l4plan.plans.refreshed import refresh
from l4plan.states.model import State

KINDS = ("changed", "missing", "appeared", "unmanaged", "unbound")


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
    summary = {kind: sum(len(a[kind]) for a in agents) for kind in KINDS}
    summary["unreachable"] = sum(1 for a in agents if a["error"] is not None)
    errored = summary["unreachable"] > 0 or has_errors(diagnostics)
    return {
        "format_version": "1.0",
        "l4plan_version": __version__,
        "in_sync": not errored and not any(summary[kind] for kind in KINDS),
        "errored": errored,
        "state": {"lineage": state.lineage, "serial": state.serial} if state else None,
        "agents": agents,
        "summary": summary,
        "diagnostics": [d.to_json() for d in diagnostics],
    }


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


def _render(report: dict[str, Any], color: bool) -> str:
    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    lines = []
    for agent in report["agents"]:
        where = f" ({agent['endpoint']})" if agent["endpoint"] else ""
        head = f'agent "{agent["name"]}"{where}'
        if agent["error"] is not None:
            error = agent["error"]
            hint = (
                ""
                if agent["status"] == "undeclared"
                else f" ({refresh_hint(error['status'], agent['name'])})"
            )
            lines.append(f"{style(head, bold=True)}: {error['status']}: {error['message']}{hint}")
            continue
        if agent["status"] == "in_sync":
            lines.append(f"{style(head, bold=True)}: in sync at revision {agent['revision']}")
            continue
        lines.append(f"{style(head, bold=True)} at revision {agent['revision']}:")
        for app in agent["changed"]:
            lines.append(
                style(f"  ~ {app['name']}", fg="yellow") + f" ({app['address']}): "
                "changed on the agent"
            )
            for diff in app["differences"] or []:
                lines.append(
                    f"      {diff['path']}: {json.dumps(diff['configured'])} configured, "
                    f"{json.dumps(diff['running'])} running"
                )
        for app in agent["missing"]:
            lines.append(
                style(f"  - {app['name']}", fg="red") + f" ({app['address']}): "
                "missing, the agent does not run it"
            )
        for app in agent["appeared"]:
            lines.append(
                style(f"  + {app['name']}", fg="green") + f" ({app['address']}): "
                "runs here, but l4plan did not put it here"
            )
        for app in agent["unmanaged"]:
            owner = f", declared by {app['declared_by']}" if app["declared_by"] else ""
            lines.append(
                style(f"  + {app['name']}", fg="green") + ": not managed by l4plan" + owner
            )
        for app in agent["unbound"]:
            problems = "; ".join(str(e.get("description", e)) for e in app["bind_errors"])
            lines.append(
                style(f"  ! {app['name']}", fg="red") + f": listeners not bound: {problems}"
            )
    s = report["summary"]
    if report["in_sync"]:
        lines += ["", style("No drift.", bold=True) + " Every agent runs what the state records."]
    elif any(s[kind] for kind in KINDS):
        counts = ", ".join(f"{s[kind]} {kind}" for kind in KINDS if s[kind])
        lines += [
            "",
            style("Drift detected: ", bold=True) + counts + ". `l4plan plan` shows how apply "
            "would undo it; `l4plan apply --refresh-only` accepts it into the state.",
        ]
    return "\n".join(lines)


@cli.command()
@variable_options
@lock_options
@json_option
@click.option(
    "--timeout",
    type=DURATION,
    default="10s",
    show_default=True,
    help="Deadline of each agent call.",
)
@click.option(
    "--parallelism",
    type=click.IntRange(1, 256),
    default=10,
    show_default=True,
    help="How many agents to read at once.",
)
@no_color_option
@click.pass_obj
def drift(
    obj: CliContext,
    var_args: tuple[str, ...],
    var_files: tuple[str, ...],
    lock_timeout: float,
    use_lock: bool,
    as_json: bool,
    timeout: float,
    parallelism: int,
) -> None:
    """Compare what every agent runs with the recorded state; change nothing.

    Exit codes: 0 in sync, 1 error (configuration, state, an agent that cannot be
    read), 2 drift (changed, missing, appeared or unmanaged applications, unbound
    listeners).
    """
    config = load(var_args, var_files)
    diags = [*config.diagnostics]
    if not has_errors(diags):
        diags += check(config)
    if has_errors(diags):
        if as_json:
            emit_json(drift_report(config, None, None, diags))
        else:
            echo_diagnostics(diags, config, obj.color)
        raise click.exceptions.Exit(EXIT_ERROR)
    state, _, lock_warning = read_state(config, obj.color, lock_timeout=lock_timeout, wait=use_lock)
    result = refresh(config, state, workdir=Path.cwd(), timeout=timeout, parallelism=parallelism)
    if lock_warning is not None:
        diags.append(lock_warning)
    report = drift_report(config, state, result, diags)
    if as_json:
        emit_json(report)
    else:
        echo_diagnostics(diags, config, obj.color)
        click.echo(_render(report, obj.color))
    if report["errored"]:
        raise click.exceptions.Exit(EXIT_ERROR)
    if not report["in_sync"]:
        raise click.exceptions.Exit(EXIT_CHANGES)
