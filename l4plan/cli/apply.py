"""`l4plan apply`, `l4plan destroy` and `l4plan import`: the commands that change agents."""

from __future__ import annotations

import copy
import json
import os
import signal
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click

from l4plan.agents.errors import AgentError, apply_hint
from l4plan.agents.placement import desired_placements
from l4plan.agents.refresh import AgentSnapshot, make_client
from l4plan.agents.spec import SpecRenderer, canonical_hash
from l4plan.apply.engine import (
    AMBIGUOUS_STATUSES,
    AgentResult,
    ApplyOutcome,
    Cancellation,
    planned_operations,
    send_operations,
)
from l4plan.apply.record import known_values, next_state
from l4plan.cli.common import (
    EXIT_ERROR,
    echo_diagnostics,
    fail,
    no_color_option,
    open_state_backend,
)
from l4plan.cli.context import CliContext
from l4plan.cli.main import cli
from l4plan.cli.options import DURATION, lock_timeout_option, target_option, variable_options
from l4plan.cli.progress import ApplyProgress
from l4plan.configs import load_config
from l4plan.configs.model import Config
from l4plan.configs.validate import check
from l4plan.configs.variables import ENV_PREFIX
from l4plan.diagnostics import has_errors
from l4plan.plans import (
    Plan,
    PlanFileError,
    SavedPlan,
    StalePlanError,
    check_fresh,
    load_planfile,
    render_plan,
)
from l4plan.plans.diff import planned_attributes
from l4plan.plans.model import PlanMode
from l4plan.plans.refreshed import plan_refreshed, refresh, refresh_diagnostics
from l4plan.states import Backend, LockError, State, StateError
from l4plan.states.model import AgentAck, ResourceState


def _checked_config(
    color: bool,
    *,
    var_args: tuple[str, ...] = (),
    var_files: tuple[str, ...] = (),
    environ: dict[str, str] | None = None,
) -> Config:
    config = load_config(Path.cwd(), var_args=var_args, var_files=var_files, environ=environ)
    diags = [*config.diagnostics]
    if not has_errors(diags):
        diags += check(config)
    if has_errors(diags):
        echo_diagnostics(diags, config, color)
        raise click.exceptions.Exit(EXIT_ERROR)
    return config


def _saved_variables(saved: SavedPlan) -> dict[str, str]:
    """The environment with the plan's variable values, so `apply FILE` evaluates the
    configuration with the values that were reviewed (as Terraform's plan files do)."""
    environ = dict(os.environ)
    for name, value in saved.variables.items():
        if value is not None:
            text = value if isinstance(value, str) else json.dumps(value)
            environ[f"{ENV_PREFIX}{name}"] = text
    return environ


def _confirm(question: str, detail: str) -> None:
    if not sys.stdin.isatty():
        raise click.ClickException(
            "a confirmation is needed and standard input is not a terminal; "
            "review the plan and run again with --auto-approve (or apply a saved plan file)"
        )
    click.echo(f"\n{question}\n  {detail}\n  Only 'yes' will be accepted to approve.\n")
    if click.prompt("  Enter a value", default="", show_default=False) != "yes":
        click.echo("\nApply cancelled.")
        raise click.exceptions.Exit(EXIT_ERROR)


@contextmanager
def _session(config: Config, operation: str, lock_timeout: float, color: bool) -> Iterator[Backend]:
    """The state backend, locked for `operation`; errors end the command with exit 1."""
    backend = open_state_backend(config, color)
    try:
        with backend.lock(operation, timeout=lock_timeout):
            yield backend
    except LockError as e:
        fail(str(e), color)
    except StateError as e:
        fail(str(e), color)
    finally:
        backend.close()


def _carry_out(
    plan: Plan,
    config: Config,
    prior: State | None,
    base: State | None,
    backend: Backend,
    *,
    snapshots: dict[str, AgentSnapshot],
    parallelism: int,
    timeout: float,
    color: bool,
) -> ApplyOutcome:
    """Send the plan to the agents, then write what they acknowledged."""
    operations = planned_operations(plan, config, base)
    with _graceful_interrupt() as interrupted:
        with ApplyProgress(operations, color=color, live=sys.stdout.isatty()) as progress:
            results = send_operations(
                operations,
                config,
                workdir=Path.cwd(),
                snapshots=snapshots,
                plan_id=str(uuid.uuid4()),
                parallelism=parallelism,
                timeout=timeout,
                progress=progress.update if operations else None,
                cancel=interrupted,
            )
        state = next_state(plan, base, results)
        _write(backend, state, prior, color, agents=_agents_touched(results))
    return ApplyOutcome(state, results, interrupted.is_set())


def _agents_touched(results: dict[str, AgentResult]) -> str:
    """Whether the agents were changed, for a message about a state that could not be
    written: "changed" when one acknowledged, "maybe" when a call's outcome is
    unknown (no answer in time), "" when none was changed."""
    if any(r.ok for r in results.values()):
        return "changed"
    if any(r.error is not None and r.error.status in AMBIGUOUS_STATUSES for r in results.values()):
        return "maybe"
    return ""


@contextmanager
def _graceful_interrupt() -> Iterator[Cancellation]:
    """While agents are being called, Ctrl-C stops calling more of them instead of
    killing l4plan: the calls under way finish and the state records them, as
    Terraform does. A second Ctrl-C stops at once."""
    interrupted = Cancellation()

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.cancel()
        click.echo(
            "\nInterrupt received: waiting for the agents being called, calling no others"
            " (Ctrl-C again to stop at once, which can lose what they acknowledge).",
            err=True,
        )

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _write(
    backend: Backend,
    state: State,
    prior: State | None,
    color: bool,
    *,
    agents: str = "",
) -> None:
    """Compare-and-set: the write fails if the state moved since `prior` was read.
    `agents` says whether agents were changed ("changed", "maybe" or ""), so the
    error says it only when it is true."""
    expected = (prior.lineage, prior.serial) if prior is not None else None
    if prior is not None:
        state.lineage = prior.lineage
        state.serial = prior.serial + 1
    else:
        state.serial = 1
    try:
        backend.write(state, expected=expected)
    except StateError as e:
        said = {
            "changed": "the agents were changed, but ",
            "maybe": "the agents may have been changed, but ",
        }
        fail(f"{said.get(agents, '')}the state could not be written: {e}", color)


def _report(outcome: ApplyOutcome, plan: Plan, verb: str, color: bool) -> None:
    if outcome.failures or outcome.interrupted:
        label = click.style("Error:", fg="red", bold=True) if color else "Error:"
        for failed in outcome.failures:
            assert failed.error is not None
            hint = apply_hint(failed.error.status, failed.agent)
            click.echo(
                f"{label} agent.{failed.agent}: {failed.error.status}: {failed.error.message}"
                + (f" ({hint})" if hint else ""),
                err=True,
            )
        done = len(outcome.results) - len(outcome.failures)
        how = "interrupted" if outcome.interrupted else "incomplete"
        click.echo(
            f"\n{verb} {how}: {done} of {len(outcome.results)} agents applied. The state "
            "records what each agent acknowledged; fix the errors above and run "
            f"`l4plan {verb.lower()}` again to finish (`l4plan plan` shows what is still "
            "missing).",
            err=True,
        )
        raise click.exceptions.Exit(EXIT_ERROR)
    s = plan.summary
    message = (
        f"{verb} complete! Resources: {s.add} added, {s.change} changed, {s.destroy} destroyed."
    )
    click.echo("\n" + (click.style(message, fg="green", bold=True) if color else message))


def _run(
    obj: CliContext,
    *,
    mode: PlanMode,
    var_args: tuple[str, ...],
    var_files: tuple[str, ...],
    targets: tuple[str, ...],
    lock_timeout: float,
    auto_approve: bool,
    parallelism: int,
    timeout: float,
    do_refresh: bool,
) -> None:
    """Plan (after a refresh), ask, apply: everything under the state lock."""
    config = _checked_config(obj.color, var_args=var_args, var_files=var_files)
    verb = "Destroy" if mode == "destroy" else "Apply"
    outcome: ApplyOutcome | None = None
    with _session(config, verb.lower(), lock_timeout, obj.color) as backend:
        prior = backend.read()
        planned = plan_refreshed(
            config,
            prior,
            workdir=Path.cwd(),
            do_refresh=do_refresh,
            targets=targets,
            mode=mode,
            timeout=timeout,
            parallelism=parallelism,
        )
        plan = planned.plan
        echo_diagnostics(plan.diagnostics, config, obj.color)
        if plan.errored:
            raise click.exceptions.Exit(EXIT_ERROR)
        click.echo(render_plan(plan, color=obj.color), nl=False)
        if not plan.has_changes:
            if plan.drift and planned.base is not None:
                # nothing to change on the agents, but the state learns what they run
                _write(backend, planned.base, prior, obj.color)
                click.echo("\nThe state now records the changes made outside l4plan shown above.")
            return
        if not auto_approve:
            if mode == "destroy":
                _confirm(
                    "Do you really want to destroy all resources?",
                    "l4plan will destroy all your managed applications, as shown above.",
                )
            else:
                _confirm(
                    "Do you want to perform these actions?",
                    "l4plan will perform the actions described above.",
                )
        if mode == "refresh-only":
            assert planned.base is not None
            _write(backend, planned.base, prior, obj.color)
            click.echo("\nApply complete! The state now matches what the agents run.")
            return
        outcome = _carry_out(
            plan,
            config,
            prior,
            planned.base,
            backend,
            snapshots=planned.refresh.snapshots if planned.refresh else {},
            parallelism=parallelism,
            timeout=timeout,
            color=obj.color,
        )
    _report(outcome, plan, verb, obj.color)


def _apply_saved(
    obj: CliContext,
    planfile: Path,
    *,
    lock_timeout: float,
    parallelism: int,
    timeout: float,
) -> None:
    """Carry out a saved plan, unless the state or configuration moved since."""
    try:
        saved = load_planfile(planfile)
    except PlanFileError as e:
        fail(str(e), obj.color)
    config = _checked_config(obj.color, environ=_saved_variables(saved))
    outcome: ApplyOutcome | None = None
    with _session(config, "apply", lock_timeout, obj.color) as backend:
        prior = backend.read()
        try:
            check_fresh(saved, config, prior)
        except StalePlanError as e:
            fail(str(e), obj.color)
        plan = saved.plan
        if not plan.has_changes:
            click.echo("No changes. Your infrastructure matches the configuration.")
            return
        if plan.mode == "refresh-only":
            fail(
                "a saved refresh-only plan records what the agents ran when it was made; "
                "run `l4plan apply --refresh-only` to accept what they run now",
                obj.color,
            )
        # the agents' current revisions and acknowledgements, for expected_revision
        current = refresh(
            config, prior, workdir=Path.cwd(), timeout=timeout, parallelism=parallelism
        )
        echo_diagnostics(refresh_diagnostics(current, config), config, obj.color)
        outcome = _carry_out(
            plan,
            config,
            prior,
            current.state,
            backend,
            snapshots=current.snapshots,
            parallelism=parallelism,
            timeout=timeout,
            color=obj.color,
        )
    _report(outcome, plan, "Destroy" if plan.mode == "destroy" else "Apply", obj.color)


def _apply_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--timeout",
        type=DURATION,
        default="30s",
        show_default=True,
        help="Deadline of each agent call (sent to the agent as L4-Timeout-Ms).",
    )(f)
    f = click.option(
        "--parallelism",
        type=click.IntRange(1, 256),
        default=10,
        show_default=True,
        help="How many agents to apply at once.",
    )(f)
    f = click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")(
        f
    )
    f = click.option(
        "--refresh",
        type=click.BOOL,
        default=True,
        metavar="BOOL",
        show_default=True,
        help="Whether to refresh from the agents before planning.",
    )(f)
    return f


@cli.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@variable_options
@target_option
@lock_timeout_option
@_apply_options
@click.option(
    "--refresh-only", is_flag=True, help="Only accept changes made outside l4plan into the state."
)
@no_color_option
@click.pass_obj
def apply(
    obj: CliContext,
    planfile: Path | None,
    var_args: tuple[str, ...],
    var_files: tuple[str, ...],
    targets: tuple[str, ...],
    lock_timeout: float,
    auto_approve: bool,
    parallelism: int,
    timeout: float,
    refresh: bool,
    refresh_only: bool,
) -> None:
    """Make the agents match the configuration (or carry out a saved PLANFILE).

    Without PLANFILE it plans, shows the plan and asks for `yes` (or --auto-approve).
    A PLANFILE carries its variable values and is refused if the state or the
    configuration changed since it was made.
    Exit codes: 0 success, 1 error (an agent failed: the others stay applied).
    """
    if planfile is not None:
        if targets or refresh_only or not refresh:
            raise click.UsageError(
                "a saved plan already fixes its targets and mode; --target, --refresh-only "
                "and --refresh apply when planning"
            )
        if var_args or var_files:
            raise click.UsageError(
                "a saved plan carries the variable values it was made with; "
                "--var and --var-file apply when planning"
            )
        _apply_saved(
            obj, planfile, lock_timeout=lock_timeout, parallelism=parallelism, timeout=timeout
        )
        return
    if refresh_only and not refresh:
        raise click.UsageError("--refresh-only cannot be combined with --refresh=false")
    _run(
        obj,
        mode="refresh-only" if refresh_only else "normal",
        var_args=var_args,
        var_files=var_files,
        targets=targets,
        lock_timeout=lock_timeout,
        auto_approve=auto_approve,
        parallelism=parallelism,
        timeout=timeout,
        do_refresh=refresh,
    )


@cli.command()
@variable_options
@target_option
@lock_timeout_option
@_apply_options
@no_color_option
@click.pass_obj
def destroy(
    obj: CliContext,
    var_args: tuple[str, ...],
    var_files: tuple[str, ...],
    targets: tuple[str, ...],
    lock_timeout: float,
    auto_approve: bool,
    parallelism: int,
    timeout: float,
    refresh: bool,
) -> None:
    """Remove every managed application from its agents, and the resources from state."""
    _run(
        obj,
        mode="destroy",
        var_args=var_args,
        var_files=var_files,
        targets=targets,
        lock_timeout=lock_timeout,
        auto_approve=auto_approve,
        parallelism=parallelism,
        timeout=timeout,
        do_refresh=refresh,
    )


def _running_on_agents(
    config: Config, agents: tuple[str, ...], name: str, timeout: float, color: bool
) -> dict[str, AgentAck]:
    """Per agent of `agents` that runs application `name`: what it runs, as an ack."""
    acks: dict[str, AgentAck] = {}
    for agent_name in agents:
        try:
            with make_client(
                config.agents[agent_name], workdir=Path.cwd(), timeout=timeout
            ) as client:
                listing = client.list_apps()
        except AgentError as e:
            fail(f"agent.{agent_name}: {e.status}: {e.message}", color)
        running = {a["name"]: a for a in listing["apps"]}
        if name in running:
            acks[agent_name] = AgentAck(
                int(listing["revision"]), canonical_hash(running[name]["spec"])
            )
    return acks


@cli.command("import")
@click.argument("address")
@click.argument("name")
@variable_options
@lock_timeout_option
@click.option("--timeout", type=DURATION, default="10s", show_default=True)
@no_color_option
@click.pass_obj
def import_(
    obj: CliContext,
    address: str,
    name: str,
    var_args: tuple[str, ...],
    var_files: tuple[str, ...],
    lock_timeout: float,
    timeout: float,
) -> None:
    """Adopt application NAME, already running on its agents, as ADDRESS.

    ADDRESS must be an `l4_application` in the configuration whose domain is NAME.
    The state records the attributes a plan would give it and, per agent, the
    (canonical) hash of the spec the agent runs, so the next plan shows an update
    wherever the agent runs something that means other than the configuration says.
    """
    config = _checked_config(obj.color, var_args=var_args, var_files=var_files)
    res = config.resources.get(address)
    if res is None or res.type != "l4_application":
        fail(
            f"{address} is not an l4_application in the configuration; add its resource "
            "block first, then import it",
            obj.color,
        )
    if res.attrs.get("id") != name:
        fail(
            f'{address} is configured with domain "{res.attrs.get("id")}", not "{name}"; '
            "import the application under the name the configuration gives it",
            obj.color,
        )
    placement = desired_placements(config)[address]
    acks = _running_on_agents(config, placement.agents, name, timeout, obj.color)
    if not acks:
        fail(
            f'no agent of {address} ({", ".join(placement.agents)}) runs "{name}"; nothing to '
            "import. `l4plan apply` creates it instead",
            obj.color,
        )
    with _session(config, "import", lock_timeout, obj.color) as backend:
        prior = backend.read()
        state = State() if prior is None else copy.deepcopy(prior)
        if address in state.resources:
            fail(
                f"{address} is already in the state; `l4plan state rm {address}` first "
                "to import it again",
                obj.color,
            )
        for other in state.resources.values():
            if other.type == "l4_application" and other.attributes.get("id") == name:
                fail(f'"{name}" is already managed as {other.address}', obj.color)
        planned = planned_attributes(res, SpecRenderer(config))
        attrs = known_values({k: v for k, v in planned.items() if k != "revisions"})
        attrs["revisions"] = {a: ack.revision for a, ack in sorted(acks.items())}
        state.resources[address] = ResourceState(
            address=address,
            type=res.type,
            name=res.name,
            index_key=res.key,
            attributes=attrs,
            dependencies=sorted(res.depends_on),
            sensitive_attributes=sorted(res.sensitive),
            agents=dict(sorted(acks.items())),
        )
        _write(backend, state, prior, obj.color)
    found = ", ".join(sorted(acks))
    click.echo(f"{address}: imported {name} from agent {found}.")
    click.echo("\nImport successful! Run `l4plan plan` to compare it with the configuration.")
