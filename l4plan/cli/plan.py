"""`l4plan plan`, `l4plan show` and `l4plan graph`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from l4plan.cli.context import CliContext
from l4plan.cli.main import cli
from l4plan.cli.options import json_option, lock_options, target_option, variable_options
from l4plan.cli.render import render_diagnostics
from l4plan.configs import load_config
from l4plan.configs.model import Config
from l4plan.configs.validate import check
from l4plan.diagnostics import Diagnostic, has_errors
from l4plan.graph import build_graph, cycle_diagnostics, to_dot
from l4plan.graph.build import find_cycles
from l4plan.plans import (
    Action,
    Plan,
    PlanFileError,
    build_plan,
    change_graph,
    load_planfile,
    plan_to_json,
    render_markdown,
    render_plan,
    saved_plan,
    write_planfile,
)
from l4plan.plans.render_human import RULE, render_state
from l4plan.states import Backend, LockInfo, State, StateError, dump_state_json, open_backend

EXIT_ERROR = 1
EXIT_CHANGES = 2


def _no_color(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliContext).color = False


# Terraform users write `plan -no-color`; the global `l4plan --no-color plan` works too.
no_color_option = click.option(
    "--no-color",
    is_flag=True,
    expose_value=False,
    callback=_no_color,
    help="Disable colour output (also the global --no-color and NO_COLOR).",
)


def _fail(message: str, color: bool) -> NoReturn:
    label = click.style("Error:", fg="red", bold=True) if color else "Error:"
    click.echo(f"{label} {message}", err=True)
    raise click.exceptions.Exit(EXIT_ERROR)


def _echo_diagnostics(diags: list[Diagnostic], config: Config, color: bool) -> None:
    if diags:
        click.echo(render_diagnostics(diags, config.files, color), err=True)


def _load(var_args: tuple[str, ...], var_files: tuple[str, ...]) -> Config:
    return load_config(Path.cwd(), var_args=var_args, var_files=var_files)


def _open_backend(config: Config, color: bool) -> Backend:
    try:
        return open_backend(config.backend, workdir=Path.cwd())
    except StateError as e:
        _fail(str(e), color)


def _lock_holder_warning(info: LockInfo) -> Diagnostic:
    return Diagnostic.at(
        "L4W102",
        f"The state is locked by {info.who} (pid {info.pid}, operation "
        f'"{info.operation}", since {info.created}, lock ID {info.id}). A plan does not '
        "change the state, so l4plan planned against the state as it is now; the "
        f"running {info.operation} may change it. Plan again once it has finished, or "
        "wait for it with --lock-timeout.",
        severity="warning",
    )


def wait_for_writer(backend: Backend, timeout: float) -> Diagnostic | None:
    """Wait up to `timeout` seconds for a lock holder to finish; warn if it does not.

    A plan only reads the state, so it never takes the lock; but planning while a
    writer (apply, state mv, ...) is halfway through would show a plan that is
    stale at once, so it first gives the writer a chance to finish.
    """
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        info = backend.peek_lock()
        if info is None:
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _lock_holder_warning(info)
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 1.0)


def _read_state(
    config: Config, color: bool, *, lock_timeout: float, wait: bool
) -> tuple[State | None, str, Diagnostic | None]:
    backend = _open_backend(config, color)
    try:
        warning = wait_for_writer(backend, lock_timeout) if wait else None
        state = backend.read()
        return state, backend.describe(), warning
    except StateError as e:
        _fail(str(e), color)
    finally:
        backend.close()


def _emit_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _refuse(plan: Plan, config: Config, obj: CliContext, as_json: bool) -> NoReturn:
    if as_json:
        _emit_json(plan_to_json(plan))
    else:
        _echo_diagnostics(plan.diagnostics, config, obj.color)
    raise click.exceptions.Exit(EXIT_ERROR)


@cli.command()
@variable_options
@target_option
@lock_options
@json_option
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan to FILE (a .gz name compresses it) for `l4plan apply FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 1 on error, 2 when there are changes.",
)
@click.option(
    "--refresh",
    type=click.BOOL,
    default=True,
    metavar="BOOL",
    show_default=True,
    help="Whether to refresh from the agents first; --refresh=false plans from the "
    "recorded state only.",
)
@click.option("--destroy", is_flag=True, help="Plan to destroy every recorded resource.")
@no_color_option
@click.pass_obj
def plan(
    obj: CliContext,
    var_args: tuple[str, ...],
    var_files: tuple[str, ...],
    targets: tuple[str, ...],
    lock_timeout: float,
    use_lock: bool,
    as_json: bool,
    out_file: Path | None,
    detailed_exitcode: bool,
    refresh: bool,
    destroy: bool,
) -> None:
    """Show what apply would change, and optionally save it with --out.

    Exit codes: 0 success, 1 error, and with --detailed-exitcode 2 when the plan
    has changes.
    """
    config = _load(var_args, var_files)
    diags = [*config.diagnostics]
    if not has_errors(diags):
        diags += check(config)
    if has_errors(diags):
        _refuse(Plan(diagnostics=diags), config, obj, as_json)

    state, backend_name, lock_warning = _read_state(
        config, obj.color, lock_timeout=lock_timeout, wait=use_lock
    )
    result = build_plan(
        config,
        state,
        refreshed=None,  # refresh from the agents arrives with apply; --refresh=false skips it
        targets=targets,
        mode="destroy" if destroy else "normal",
    )
    result.diagnostics = [*diags, *([lock_warning] if lock_warning else []), *result.diagnostics]
    if result.errored:
        _refuse(result, config, obj, as_json)

    if out_file is not None:
        try:
            write_planfile(out_file, saved_plan(result, config, backend=backend_name))
        except OSError as e:
            _fail(f"cannot write plan file {out_file}: {e.strerror or e}", obj.color)

    if as_json:
        _emit_json(plan_to_json(result))
    else:
        _echo_diagnostics(result.diagnostics, config, obj.color)
        click.echo(render_plan(result, color=obj.color), nl=False)
        if out_file is not None:
            click.echo(f"\n{RULE}\n\nSaved the plan to: {out_file}\n")
            click.echo("To perform exactly these actions, run the following command to apply:")
            click.echo(f'    l4plan apply "{out_file}"')
        elif result.has_changes:
            click.echo(
                f"\n{RULE}\n\nNote: You didn't use the --out option to save this plan, so "
                "l4plan can't guarantee to take exactly these actions if you run \"l4plan "
                'apply" now.'
            )
    if detailed_exitcode and result.has_changes:
        raise click.exceptions.Exit(EXIT_CHANGES)


@cli.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["human", "json", "markdown"]),
    default=None,
    help="Output format (--json is --format json); markdown suits a pull-request comment.",
)
@no_color_option
@click.pass_obj
def show(obj: CliContext, planfile: Path | None, as_json: bool, fmt: str | None) -> None:
    """Show a saved plan, or without PLANFILE the current state."""
    if as_json and fmt not in (None, "json"):
        raise click.UsageError("--json and --format markdown/human exclude each other")
    fmt = "json" if as_json else (fmt or "human")
    if planfile is None:
        _show_state(obj, fmt)
        return
    try:
        saved = load_planfile(planfile)
    except PlanFileError as e:
        _fail(str(e), obj.color)
    if fmt == "json":
        _emit_json(plan_to_json(saved.plan))
    elif fmt == "markdown":
        click.echo(render_markdown(saved.plan), nl=False)
    else:
        if saved.plan.diagnostics:  # the source files may be gone: no source lines
            click.echo(render_diagnostics(saved.plan.diagnostics, {}, obj.color), err=True)
        click.echo(render_plan(saved.plan, color=obj.color), nl=False)


def _show_state(obj: CliContext, fmt: str) -> None:
    if fmt == "markdown":
        raise click.UsageError(
            "--format markdown shows a saved plan: l4plan show --format markdown FILE"
        )
    config = _load((), ())
    if has_errors(config.diagnostics):
        _echo_diagnostics(config.diagnostics, config, obj.color)
        raise click.exceptions.Exit(EXIT_ERROR)
    state, _, _ = _read_state(config, obj.color, lock_timeout=0, wait=False)
    if fmt == "json":
        click.echo(dump_state_json(state) if state is not None else "null")
    elif state is None:
        click.echo("No state.")
    else:
        click.echo(render_state(state, color=obj.color), nl=False)


@cli.command()
@variable_options
@click.option(
    "--type",
    "graph_type",
    type=click.Choice(["resources", "plan"]),
    default="resources",
    show_default=True,
    help="resources: what depends on what; plan: the planned actions in the order apply runs them.",
)
@no_color_option
@click.pass_obj
def graph(
    obj: CliContext, var_args: tuple[str, ...], var_files: tuple[str, ...], graph_type: str
) -> None:
    """Print the resource dependency graph as Graphviz DOT (an edge A -> B: A needs B)."""
    config = _load(var_args, var_files)
    if has_errors(config.diagnostics):
        _echo_diagnostics(config.diagnostics, config, obj.color)
        raise click.exceptions.Exit(EXIT_ERROR)
    resources = build_graph(config)
    cycles = cycle_diagnostics(resources, config)
    if cycles:
        red = {(c[i], c[i + 1]) for c in find_cycles(resources) for i in range(len(c) - 1)}
        click.echo(to_dot(resources, highlight=red), nl=False)
        _echo_diagnostics(cycles, config, obj.color)
        raise click.exceptions.Exit(EXIT_ERROR)
    if graph_type == "resources":
        click.echo(to_dot(resources), nl=False)
        return
    state, _, _ = _read_state(config, obj.color, lock_timeout=0, wait=False)
    planned = build_plan(config, state)
    if planned.errored:
        _echo_diagnostics(planned.diagnostics, config, obj.color)
        raise click.exceptions.Exit(EXIT_ERROR)
    order = change_graph(planned.changes, state)
    labels = {
        c.address: (f"{c.action.symbol} {c.address}" if c.action is not Action.NOOP else c.address)
        for c in planned.changes
    }
    click.echo(to_dot(order, labels=labels), nl=False)
