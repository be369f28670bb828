"""`l4plan plan`, `l4plan show` and `l4plan graph`."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from l4plan.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    echo_diagnostics,
    emit_json,
    fail,
    load,
    no_color_option,
    operation_errors,
)
from l4plan.cli.context import CliContext
from l4plan.cli.options import (
    json_option,
    lock_options,
    pass_run_options,
    target_option,
    variable_options,
)
from l4plan.cli.render import render_diagnostics
from l4plan.configs.model import Config
from l4plan.diagnostics import has_errors
from l4plan.graph import build_graph, to_dot
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
)
from l4plan.plans.base import planning_base
from l4plan.plans.model import PlanMode
from l4plan.plans.render_human import RULE, render_state
from l4plan.states import dump_state_json
from l4plan.workflows.options import RunOptions
from l4plan.workflows.plan import make_plan, save_plan
from l4plan.workflows.reading import read_state


def _refuse(plan: Plan, config: Config, obj: CliContext, as_json: bool) -> NoReturn:
    if as_json:
        emit_json(plan_to_json(plan))
    else:
        echo_diagnostics(plan.diagnostics, config, obj.color)
    raise click.exceptions.Exit(EXIT_ERROR)


@click.command()
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
    help="Exit 0 when there are no changes, 1 on error (an agent that cannot be "
    "refreshed included), 2 when there are changes.",
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
@click.option(
    "--refresh-only",
    is_flag=True,
    help="Plan only to accept the changes made outside l4plan into the state.",
)
@no_color_option
@click.pass_obj
@pass_run_options
def plan(
    obj: CliContext,
    use_lock: bool,
    as_json: bool,
    out_file: Path | None,
    detailed_exitcode: bool,
    destroy: bool,
    refresh_only: bool,
    options: RunOptions,
) -> None:
    """Show what apply would change, and optionally save it with --out.

    Exit codes: 0 success, 1 error, and with --detailed-exitcode 2 when the plan
    has changes. With --detailed-exitcode an agent that cannot be refreshed is an
    error (exit 1), never "no changes".
    """
    if refresh_only and (destroy or not options.refresh):
        raise click.UsageError(
            "--refresh-only cannot be combined with --destroy or --refresh=false"
        )
    mode: PlanMode = "destroy" if destroy else "refresh-only" if refresh_only else "normal"
    with operation_errors(obj.color):
        made = make_plan(
            Path.cwd(),
            options,
            mode=mode,
            wait_for_lock=use_lock,
            complete_refresh=detailed_exitcode,
        )
        result = made.plan
        if result.errored:
            _refuse(result, made.config, obj, as_json)
        if out_file is not None:
            save_plan(made, out_file)

    if as_json:
        emit_json(plan_to_json(result))
    else:
        echo_diagnostics(result.diagnostics, made.config, obj.color)
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


@click.command()
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
        fail(str(e), obj.color)
    if fmt == "json":
        emit_json(plan_to_json(saved.plan))
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
    config = load((), ())
    if has_errors(config.diagnostics):
        echo_diagnostics(config.diagnostics, config, obj.color)
        raise click.exceptions.Exit(EXIT_ERROR)
    with operation_errors(obj.color):
        state = read_state(config, Path.cwd(), lock_timeout=0, wait=False).state
    if fmt == "json":
        click.echo(dump_state_json(state) if state is not None else "null")
    elif state is None:
        click.echo("No state.")
    else:
        click.echo(render_state(state, color=obj.color), nl=False)


@click.command()
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
    config = load(var_args, var_files)
    if has_errors(config.diagnostics):
        echo_diagnostics(config.diagnostics, config, obj.color)
        raise click.exceptions.Exit(EXIT_ERROR)
    resources = build_graph(config)
    if graph_type == "resources":
        click.echo(to_dot(resources), nl=False)
        return
    with operation_errors(obj.color):
        state = read_state(config, Path.cwd(), lock_timeout=0, wait=False).state
    # no agent is read here, so an import block's target shows as the creation it is
    # in the state (docs/plan.md)
    base = planning_base(config, state, None, "normal", imports=False)
    planned = build_plan(config, state, prepared=base)
    if planned.errored:
        echo_diagnostics(planned.diagnostics, config, obj.color)
        raise click.exceptions.Exit(EXIT_ERROR)
    order = change_graph(planned.changes, state)
    labels = {
        c.address: (f"{c.action.symbol} {c.address}" if c.action is not Action.NOOP else c.address)
        for c in planned.changes
    }
    click.echo(to_dot(order, labels=labels), nl=False)
