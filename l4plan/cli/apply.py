"""`l4plan apply`, `l4plan destroy` and `l4plan import`: the commands that change agents."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import NoReturn

import click

from l4plan.agents.errors import AgentError
from l4plan.agents.placement import desired_placements
from l4plan.agents.refresh import make_client
from l4plan.apply.engine import ApplyOutcome, next_state, planned_operations, send_operations
from l4plan.cli.common import (
    EXIT_ERROR,
    echo_diagnostics,
    fail,
    load,
    no_color_option,
    open_state_backend,
)
from l4plan.cli.context import CliContext
from l4plan.cli.main import cli
from l4plan.cli.options import DURATION, lock_options, target_option, variable_options
from l4plan.cli.progress import ApplyProgress
from l4plan.configs.model import Config
from l4plan.configs.validate import check
from l4plan.diagnostics import has_errors
from l4plan.plans import (
    Plan,
    PlanFileError,
    StalePlanError,
    check_fresh,
    load_planfile,
    render_plan,
)
from l4plan.plans.model import PlanMode
from l4plan.plans.refreshed import plan_refreshed, refresh
from l4plan.states import Backend, LockError, State, StateError
from l4plan.states.model import AgentAck, ResourceState


def _checked_config(var_args: tuple[str, ...], var_files: tuple[str, ...], color: bool) -> Config:
    config = load(var_args, var_files)
    diags = [*config.diagnostics]
    if not has_errors(diags):
        diags += check(config)
    if has_errors(diags):
        echo_diagnostics(diags, config, color)
        raise click.exceptions.Exit(EXIT_ERROR)
    return config


def _confirm(question: str, detail: str) -> None:
    if not sys.stdin.isatty():
        raise click.UsageError(
            "apply needs a confirmation and standard input is not a terminal; "
            "review the plan and run again with --auto-approve (or apply a saved plan file)"
        )
    click.echo(f"\n{question}\n  {detail}\n  Only 'yes' will be accepted to approve.\n")
    if click.prompt("  Enter a value", default="", show_default=False) != "yes":
        click.echo("\nApply cancelled.")
        raise click.exceptions.Exit(EXIT_ERROR)


def _locked(backend: Backend, operation: str, timeout: float, color: bool):
    try:
        return backend.lock(operation, timeout=timeout)
    except LockError as e:
        fail(str(e), color)


def _carry_out(
    plan: Plan,
    config: Config,
    prior: State | None,
    base: State | None,
    backend: Backend,
    *,
    snapshots: dict,
    parallelism: int,
    timeout: float,
    color: bool,
) -> ApplyOutcome:
    """Send the plan to the agents, then write what they acknowledged."""
    operations = planned_operations(plan, config, base)
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
        )
    state = next_state(plan, config, base, results)
    _write(backend, state, prior, color)
    return ApplyOutcome(state, results)


def _write(backend: Backend, state: State, prior: State | None, color: bool) -> None:
    if prior is not None:
        state.lineage = prior.lineage
        state.serial = prior.serial + 1
    else:
        state.serial = 1
    try:
        backend.write(state, expected=(prior.lineage, prior.serial) if prior else None)
    except StateError as e:
        fail(f"the agents were changed, but the state could not be written: {e}", color)


def _report(outcome: ApplyOutcome, plan: Plan, verb: str, color: bool) -> None:
    if outcome.failures:
        for failed in outcome.failures:
            assert failed.error is not None
            label = click.style("Error:", fg="red", bold=True) if color else "Error:"
            click.echo(
                f"{label} agent.{failed.agent}: {failed.error.status}: {failed.error.message}",
                err=True,
            )
        done = len(outcome.results) - len(outcome.failures)
        click.echo(
            f"\nApply incomplete: {done} of {len(outcome.results)} agents applied. The state "
            "records what each agent acknowledged; fix the errors above and run "
            "`l4plan apply` again to finish (`l4plan plan` shows what is still missing).",
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
    config = _checked_config(var_args, var_files, obj.color)
    backend = open_state_backend(config, obj.color)
    operation = "destroy" if mode == "destroy" else "apply"
    try:
        with _locked(backend, operation, lock_timeout, obj.color):
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
    except StateError as e:
        fail(str(e), obj.color)
    finally:
        backend.close()
    _report(outcome, plan, "Destroy" if mode == "destroy" else "Apply", obj.color)


def _apply_saved(
    obj: CliContext,
    planfile: Path,
    *,
    var_args: tuple[str, ...],
    var_files: tuple[str, ...],
    lock_timeout: float,
    parallelism: int,
    timeout: float,
) -> None:
    try:
        saved = load_planfile(planfile)
    except PlanFileError as e:
        fail(str(e), obj.color)
    config = _checked_config(var_args, var_files, obj.color)
    backend = open_state_backend(config, obj.color)
    try:
        with _locked(backend, "apply", lock_timeout, obj.color):
            prior = backend.read()
            try:
                check_fresh(saved, config, prior)
            except StalePlanError as e:
                fail(str(e), obj.color)
            plan = saved.plan
            if not plan.has_changes:
                click.echo("No changes. Your infrastructure matches the configuration.")
                return
            # the agents' current revisions and acknowledgements, for expected_revision
            current = refresh(config, prior, workdir=Path.cwd(), timeout=timeout)
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
    except StateError as e:
        fail(str(e), obj.color)
    finally:
        backend.close()
    _report(outcome, plan, "Apply", obj.color)


def _apply_options(f):
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
    return f


@cli.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@variable_options
@target_option
@lock_options
@_apply_options
@click.option(
    "--refresh",
    type=click.BOOL,
    default=True,
    metavar="BOOL",
    show_default=True,
    help="Whether to refresh from the agents before planning.",
)
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
    use_lock: bool,
    auto_approve: bool,
    parallelism: int,
    timeout: float,
    refresh: bool,
    refresh_only: bool,
) -> None:
    """Make the agents match the configuration (or carry out a saved PLANFILE).

    Without PLANFILE it plans, shows the plan and asks for `yes` (or --auto-approve).
    Exit codes: 0 success, 1 error (an agent failed: the others stay applied).
    """
    if not use_lock:
        raise click.UsageError("apply always takes the state lock; --no-lock is for plan")
    if planfile is not None:
        if targets or refresh_only:
            raise click.UsageError("a saved plan already fixes its targets and mode")
        _apply_saved(
            obj,
            planfile,
            var_args=var_args,
            var_files=var_files,
            lock_timeout=lock_timeout,
            parallelism=parallelism,
            timeout=timeout,
        )
        return
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
        do_refresh=refresh or refresh_only,
    )


@cli.command()
@variable_options
@target_option
@lock_options
@_apply_options
@no_color_option
@click.pass_obj
def destroy(
    obj: CliContext,
    var_args: tuple[str, ...],
    var_files: tuple[str, ...],
    targets: tuple[str, ...],
    lock_timeout: float,
    use_lock: bool,
    auto_approve: bool,
    parallelism: int,
    timeout: float,
) -> None:
    """Remove every managed application from its agents, and the resources from state."""
    if not use_lock:
        raise click.UsageError("destroy always takes the state lock")
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
        do_refresh=True,
    )


def _import_fail(message: str, color: bool) -> NoReturn:
    fail(message, color)


@cli.command("import")
@click.argument("address")
@click.argument("name")
@variable_options
@lock_options
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
    use_lock: bool,
    timeout: float,
) -> None:
    """Adopt application NAME, already running on its agents, as ADDRESS.

    ADDRESS must be an `l4_application` in the configuration whose domain is NAME.
    The next plan shows any difference between what the agents run and the
    configuration.
    """
    config = _checked_config(var_args, var_files, obj.color)
    res = config.resources.get(address)
    if res is None or res.type != "l4_application":
        _import_fail(
            f"{address} is not an l4_application in the configuration; add its resource "
            "block first, then import it",
            obj.color,
        )
    if res.attrs.get("id") != name:
        _import_fail(
            f'{address} is configured with domain "{res.attrs.get("id")}", not "{name}"; '
            "import the application under the name the configuration gives it",
            obj.color,
        )
    placement = desired_placements(config)[address]
    acks: dict[str, AgentAck] = {}
    for agent_name in placement.agents:
        agent = config.agents[agent_name]
        try:
            with make_client(agent, workdir=Path.cwd(), timeout=timeout) as client:
                listing = client.list_apps()
        except AgentError as e:
            _import_fail(f"agent.{agent_name}: {e.status}: {e.message}", obj.color)
        running = {a["name"]: a for a in listing["apps"]}
        if name in running:
            acks[agent_name] = AgentAck(listing["revision"], running[name]["spec_hash"])
    if not acks:
        _import_fail(
            f'no agent of {address} ({", ".join(placement.agents)}) runs "{name}"; nothing to '
            "import. `l4plan apply` creates it instead",
            obj.color,
        )
    backend = open_state_backend(config, obj.color)
    try:
        with _locked(backend, "import", lock_timeout, obj.color):
            prior = backend.read()
            if prior is not None and address in prior.resources:
                _import_fail(
                    f"{address} is already in the state; `l4plan state rm {address}` first "
                    "to import it again",
                    obj.color,
                )
            state = State() if prior is None else prior
            attrs = {k: v for k, v in res.attrs.items() if k != "revisions"}
            attrs["revisions"] = {a: ack.revision for a, ack in sorted(acks.items())}
            state.resources[address] = ResourceState(
                address=address,
                type=res.type,
                name=res.name,
                index_key=res.key,
                attributes=attrs,
                dependencies=sorted(res.depends_on),
                sensitive_attributes=sorted(res.sensitive),
                agents=acks,
            )
            _write(backend, state, prior, obj.color)
    except StateError as e:
        fail(str(e), obj.color)
    finally:
        backend.close()
    found = ", ".join(sorted(acks))
    click.echo(f"{address}: imported {name} from agent {found}.")
    click.echo("\nImport successful! Run `l4plan plan` to compare it with the configuration.")
