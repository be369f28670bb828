"""Apply, destroy and refresh-only: plan (after a refresh), ask, call the agents and
write what they acknowledged, all under the state lock; and the carrying out of a
saved plan file.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Literal, Protocol

from l4plan import jsontext
from l4plan.agents.placement import AgentOperations
from l4plan.agents.refresh import AgentSnapshot
from l4plan.apply.dns import record_dns, send_dns, sendable
from l4plan.apply.engine import (
    AMBIGUOUS_STATUSES,
    AgentResult,
    ApplyOutcome,
    ProgressCallback,
    planned_operations,
    send_operations,
)
from l4plan.apply.record import next_state
from l4plan.configs.model import Config
from l4plan.configs.variables import ENV_PREFIX
from l4plan.diagnostics import Diagnostic, has_errors
from l4plan.plans import Plan, PlanFileError, SavedPlan, StalePlanError, check_fresh, load_planfile
from l4plan.plans.base import planning_base
from l4plan.plans.dns_changes import planned_dns
from l4plan.plans.model import PlanMode
from l4plan.plans.refreshed import plan_refreshed, refresh, refresh_diagnostics
from l4plan.states import Backend, State
from l4plan.workflows.config import checked_config
from l4plan.workflows.errors import OperationError, Stopped
from l4plan.workflows.options import RunOptions
from l4plan.workflows.state_write import locked_backend, write_state


class ApplyView(Protocol):
    """What an apply shows and asks while it runs (the command line's terminal)."""

    def diagnostics(self, diagnostics: list[Diagnostic], config: Config) -> None: ...

    def plan(self, plan: Plan) -> None: ...

    def confirm(self, mode: PlanMode) -> None:
        """Ask for approval of the plan just shown; raise to stop."""

    def progress(
        self, operations: dict[str, AgentOperations]
    ) -> AbstractContextManager[ProgressCallback | None]:
        """While the agents are called: the engine's progress callback, if any."""

    def interrupted(self) -> None:
        """The first Ctrl-C arrived: calls under way finish, no other agent is called."""


# How an apply ended, short of an error:
# "no_changes": nothing to do; "drift_recorded": nothing to do on the agents, and the
# state now records the drift; "refreshed": refresh-only, the state now matches the
# agents; "applied": agents were called (`outcome` says how each answered).
Ending = Literal["no_changes", "drift_recorded", "refreshed", "applied"]


@dataclass(slots=True)
class ApplyResult:
    plan: Plan
    verb: str  # "Apply" or "Destroy"
    ending: Ending
    outcome: ApplyOutcome | None = None


def apply(workdir: Path, mode: PlanMode, options: RunOptions, view: ApplyView) -> ApplyResult:
    """Plan (after a refresh), ask, apply: everything under the state lock.

    `mode` is "normal" (apply), "destroy" or "refresh-only". Raises
    InvalidConfiguration, OperationError (a message to show), or Stopped (the view
    has shown why: the plan has errors).
    """
    config = checked_config(workdir, options)
    verb = "Destroy" if mode == "destroy" else "Apply"
    with locked_backend(config, workdir, verb.lower(), options.lock_timeout) as backend:
        prior = backend.read()
        planned = plan_refreshed(
            config,
            prior,
            workdir=workdir,
            do_refresh=options.refresh,
            targets=options.targets,
            mode=mode,
            timeout=options.timeout,
            parallelism=options.parallelism,
        )
        plan = planned.plan
        view.diagnostics(plan.diagnostics, config)
        if plan.errored:
            raise Stopped
        view.plan(plan)
        if not plan.has_changes:
            if plan.drift and planned.base is not None:
                # nothing to change on the agents, but the state learns what they run
                write_state(backend, planned.base, prior)
                return ApplyResult(plan, verb, "drift_recorded")
            return ApplyResult(plan, verb, "no_changes")
        if not options.auto_approve:
            view.confirm(mode)
        if mode == "refresh-only":
            assert planned.base is not None
            write_state(backend, planned.base, prior)
            return ApplyResult(plan, verb, "refreshed")
        outcome = _carry_out(
            plan,
            config,
            workdir,
            prior,
            planned.base,
            backend,
            snapshots=planned.refresh.snapshots if planned.refresh else {},
            options=options,
            view=view,
        )
    return ApplyResult(plan, verb, "applied", outcome)


def apply_saved(workdir: Path, planfile: Path, options: RunOptions, view: ApplyView) -> ApplyResult:
    """Carry out a saved plan, unless the state or configuration moved since."""
    try:
        saved = load_planfile(planfile)
    except PlanFileError as e:
        raise OperationError(str(e)) from None
    config = checked_config(workdir, RunOptions(), environ=_saved_variables(saved))
    plan = saved.plan
    verb = "Destroy" if plan.mode == "destroy" else "Apply"
    with locked_backend(config, workdir, "apply", options.lock_timeout) as backend:
        prior = backend.read()
        try:
            check_fresh(saved, config, prior)
        except StalePlanError as e:
            raise OperationError(str(e)) from None
        if not plan.has_changes:
            return ApplyResult(plan, verb, "no_changes")
        if plan.mode == "refresh-only":
            raise OperationError(
                "a saved refresh-only plan records what the agents ran when it was made; "
                "run `l4plan apply --refresh-only` to accept what they run now"
            )
        # the agents' current revisions and acknowledgements, for expected_revision
        current = refresh(
            config, prior, workdir=workdir, timeout=options.timeout, parallelism=options.parallelism
        )
        found = refresh_diagnostics(current, config, mode=plan.mode)
        view.diagnostics(found, config)
        if has_errors(found):  # a DNS server refused the key (L4E108): nothing is applied
            raise Stopped
        base = planning_base(config, current.state, current.snapshots, plan.mode)
        view.diagnostics(base.diagnostics, config)
        if has_errors(base.diagnostics):
            raise Stopped
        outcome = _carry_out(
            plan,
            config,
            workdir,
            prior,
            base.state,
            backend,
            snapshots=current.snapshots,
            options=options,
            view=view,
        )
    return ApplyResult(plan, verb, "applied", outcome)


def _saved_variables(saved: SavedPlan) -> dict[str, str]:
    """The environment with the plan's variable values, so `apply FILE` evaluates the
    configuration with the values that were reviewed (as Terraform's plan files do)."""
    environ = dict(os.environ)
    for name, value in saved.variables.items():
        if value is not None:
            text = value if isinstance(value, str) else jsontext.dumps(value)
            environ[f"{ENV_PREFIX}{name}"] = text
    return environ


def _carry_out(
    plan: Plan,
    config: Config,
    workdir: Path,
    prior: State | None,
    base: State | None,
    backend: Backend,
    *,
    snapshots: dict[str, AgentSnapshot],
    options: RunOptions,
    view: ApplyView,
) -> ApplyOutcome:
    """Send the plan to the agents, then the record updates of the applications they
    took (docs/dns.md), then write what both acknowledged."""
    operations = planned_operations(plan, config, base)
    records = planned_dns(plan.changes, config, base)
    with graceful_interrupt(view.interrupted) as interrupted:
        with view.progress(operations) as progress:
            results = send_operations(
                operations,
                config,
                workdir=workdir,
                snapshots=snapshots,
                plan_id=str(uuid.uuid4()),
                parallelism=options.parallelism,
                timeout=options.timeout,
                progress=progress,
                cancel=interrupted,
            )
        state = next_state(plan, base, results)
        dns = sendable(records, state, results)  # after Ctrl-C each counts as not sent
        published = send_dns(dns, timeout=options.timeout, cancel=interrupted)
        record_dns(state, base, published)
        touched = _agents_touched(results) or ("changed" if any(r.ok for r in published) else "")
        write_state(backend, state, prior, agents=touched)
    return ApplyOutcome(state, results, interrupted.is_set(), published)


@contextmanager
def graceful_interrupt(on_first: Callable[[], None]) -> Iterator[threading.Event]:
    """While agents are being called, Ctrl-C stops calling more of them instead of
    killing l4plan: the calls under way finish and the state records them, as
    Terraform does. A second Ctrl-C stops at once."""
    interrupted = threading.Event()

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        on_first()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _agents_touched(results: dict[str, AgentResult]) -> str:
    """Whether the agents were changed, for a message about a state that could not be
    written: "changed" when one acknowledged, "maybe" when a call's outcome is
    unknown (no answer in time), "" when none was changed."""
    if any(r.ok for r in results.values()):
        return "changed"
    if any(r.error is not None and r.error.status in AMBIGUOUS_STATUSES for r in results.values()):
        return "maybe"
    return ""
