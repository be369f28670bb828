"""`l4plan drift`: read every agent and compare what it runs with the recorded state.

Read-only: it never takes the state lock (it waits up to `--lock-timeout` for a
running writer, like `plan`) and never writes. Exit 0 in sync, 1 error (bad
configuration or state, an agent that cannot be read), 2 drift. `--json` follows
`schemas/drift.schema.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from l4plan.agents.errors import refresh_hint
from l4plan.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    echo_diagnostics,
    emit_json,
    no_color_option,
    operation_errors,
)
from l4plan.cli.context import CliContext
from l4plan.cli.options import (
    DURATION,
    json_option,
    lock_options,
    pass_run_options,
    variable_options,
)
from l4plan.workflows.drift import DNS_KINDS, KINDS
from l4plan.workflows.drift import drift as compare_with_agents
from l4plan.workflows.options import RunOptions

DNS_COUNTS = tuple(f"dns_{kind}" for kind in DNS_KINDS)


def _records(content: dict[str, Any] | None) -> str:
    if content is None:
        return "nothing"
    return f"{', '.join(content['values'])} (TTL {content['ttl']})"


def _render_dns(servers: list[dict[str, Any]], style: Callable[..., str]) -> list[str]:
    """Per DNS server: in sync, its error, or the record sets that differ."""
    lines = []
    for server in servers:
        head = style(f"DNS server {server['server']}", bold=True)
        if server["error"] is not None:
            lines.append(f"{head}: {server['error']['message']}")
        elif server["status"] == "in_sync":
            lines.append(f"{head}: in sync")
        else:
            lines.append(f"{head}:")
        for record in server["changed"]:
            lines.append(
                style(f"  ~ {record['name']} {record['type']}", fg="yellow")
                + f" ({record['address']}): changed on the server, {_records(record['found'])}"
                f" instead of {_records(record['recorded'])}"
            )
        for record in server["missing"]:
            lines.append(
                style(f"  - {record['name']} {record['type']}", fg="red")
                + f" ({record['address']}): missing, the server does not hold it"
            )
    return lines


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
    lines += _render_dns(report.get("dns", []), style)
    s = report["summary"]
    if report["in_sync"]:
        lines += ["", style("No drift.", bold=True) + " Every agent runs what the state records."]
    elif any(s.get(kind) for kind in (*KINDS, *DNS_COUNTS)):
        counts = ", ".join(
            f"{s[kind]} {kind.replace('_', ' ')}" for kind in (*KINDS, *DNS_COUNTS) if s.get(kind)
        )
        lines += [
            "",
            style("Drift detected: ", bold=True) + counts + ". `l4plan plan` shows how apply "
            "would undo it; `l4plan apply --refresh-only` accepts it into the state.",
        ]
    return "\n".join(lines)


@click.command()
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
@pass_run_options
def drift(obj: CliContext, use_lock: bool, as_json: bool, options: RunOptions) -> None:
    """Compare what every agent runs with the recorded state; change nothing.

    Exit codes: 0 in sync, 1 error (configuration, state, an agent that cannot be
    read), 2 drift (changed, missing, appeared or unmanaged applications, unbound
    listeners).
    """
    with operation_errors(obj.color):
        found = compare_with_agents(Path.cwd(), options, wait_for_lock=use_lock)
    report = found.report
    if as_json:
        emit_json(report)
    else:
        echo_diagnostics(found.diagnostics, found.config, obj.color)
        if found.checked:
            click.echo(_render(report, obj.color))
    if report["errored"]:
        raise click.exceptions.Exit(EXIT_ERROR)
    if not report["in_sync"]:
        raise click.exceptions.Exit(EXIT_CHANGES)
