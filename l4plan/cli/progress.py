"""Per-agent progress while apply talks to the agents.

On a terminal a live table (rich) shows every agent's state; elsewhere (CI logs,
pipes) one line per event, so logs stay readable.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from l4plan.agents.placement import AgentOperations
from l4plan.apply.engine import AgentResult


def describe_operations(ops: AgentOperations) -> str:
    parts = []
    if ops.upserts:
        parts.append(f"{len(ops.upserts)} to apply")
    if ops.deletes:
        parts.append(f"{len(ops.deletes)} to remove")
    return ", ".join(parts)


def describe_result(result: AgentResult) -> str:
    if result.error is not None:
        return f"failed: {result.error.status}: {result.error.message}"
    return f"done, revision {result.revision}"


class ApplyProgress:
    """A context manager; pass `update` as the engine's progress callback."""

    def __init__(self, operations: dict[str, AgentOperations], *, color: bool, live: bool):
        self._ops = operations
        self._status = dict.fromkeys(operations, "waiting")
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()
        self._color = color
        self._live: Live | None = None
        if live:
            console = Console(no_color=not color, highlight=False)
            self._live = Live(self._table(), console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> ApplyProgress:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(exc_type, exc, tb)

    def update(self, agent: str, event: str, result: AgentResult | None) -> None:
        with self._lock:
            if event == "applying":
                self._started[agent] = time.monotonic()
                self._status[agent] = "applying " + describe_operations(self._ops[agent])
            elif event == "retrying":
                self._status[agent] = "no answer in time; asking again with the same request id"
            elif result is not None:
                elapsed = time.monotonic() - self._started.get(agent, time.monotonic())
                self._status[agent] = f"{describe_result(result)} ({elapsed:.1f}s)"
            if self._live is not None:
                self._live.update(self._table())
            else:
                label = f"agent.{agent}"
                click.echo(
                    f"{click.style(label, bold=True) if self._color else label}: "
                    f"{self._status[agent]}"
                )

    def _table(self) -> Table:
        table = Table(title="Applying", title_justify="left", show_edge=False)
        table.add_column("agent")
        table.add_column("status")
        for agent, status in self._status.items():
            style = (
                "red"
                if status.startswith("failed")
                else "green"
                if status.startswith("done")
                else ""
            )
            table.add_row(agent, status, style=style if self._color else "")
        return table
