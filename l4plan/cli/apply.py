"""`l4plan apply`, `l4plan destroy` and `l4plan import`: the commands that change agents.

The operations are `l4plan.workflows`; these commands parse options, call one, and
print what it shows and returns (`TerminalApplyView`, `_report`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from l4plan.agents.errors import apply_hint
from l4plan.agents.placement import AgentOperations
from l4plan.apply.engine import ApplyOutcome, ProgressCallback
from l4plan.cli.common import EXIT_ERROR, echo_diagnostics, no_color_option, operation_errors
from l4plan.cli.context import CliContext
from l4plan.cli.options import (
    DURATION,
    lock_timeout_option,
    pass_run_options,
    target_option,
    variable_options,
)
from l4plan.cli.progress import ApplyProgress
from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic
from l4plan.plans import Plan, render_plan
from l4plan.plans.model import PlanMode
from l4plan.workflows.apply import ApplyResult, apply_saved
from l4plan.workflows.apply import apply as apply_operation
from l4plan.workflows.importing import import_application
from l4plan.workflows.options import RunOptions

_QUESTIONS = {
    "destroy": (
        "Do you really want to destroy all resources?",
        "l4plan will destroy all your managed applications, as shown above.",
    ),
    "other": (
        "Do you want to perform these actions?",
        "l4plan will perform the actions described above.",
    ),
}


class TerminalApplyView:
    """The terminal side of an apply: diagnostics and the plan, the `yes` prompt,
    per-agent progress, the Ctrl-C acknowledgement."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def diagnostics(self, diagnostics: list[Diagnostic], config: Config) -> None:
        echo_diagnostics(diagnostics, config, self.color)

    def plan(self, plan: Plan) -> None:
        click.echo(render_plan(plan, color=self.color), nl=False)

    def confirm(self, mode: PlanMode) -> None:
        question, detail = _QUESTIONS["destroy" if mode == "destroy" else "other"]
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
    def progress(self, operations: dict[str, AgentOperations]) -> Iterator[ProgressCallback | None]:
        with ApplyProgress(operations, color=self.color, live=sys.stdout.isatty()) as progress:
            yield progress.update if operations else None

    def interrupted(self) -> None:
        click.echo(
            "\nInterrupt received: waiting for the agents being called, calling no others"
            " (Ctrl-C again to stop at once, which can lose what they acknowledge).",
            err=True,
        )


def _show(result: ApplyResult, color: bool, *, saved: bool) -> None:
    """What the command prints once the operation has returned."""
    if result.ending == "no_changes":
        if saved:
            click.echo("No changes. Your infrastructure matches the configuration.")
    elif result.ending == "drift_recorded":
        click.echo("\nThe state now records the changes made outside l4plan shown above.")
    elif result.ending == "refreshed":
        click.echo("\nApply complete! The state now matches what the agents run.")
    else:
        assert result.outcome is not None
        _report(result.outcome, result.plan, result.verb, color)


_RECORD_DONE = {
    "create": "published",
    "update": "updated",
    "delete": "removed",
    "forget": "no longer managed (left)",
}


def _report_dns(outcome: ApplyOutcome, label: str) -> None:
    """A line per record update: what the server accepted, or why it refused."""
    for result in outcome.dns:
        op = result.operation
        if result.error is None:
            click.echo(f"{op.address}: DNS {op.key} {_RECORD_DONE[op.action]} at {op.server}")
        else:
            click.echo(f"{label} {op.address}: DNS {op.key}: {result.error.message}", err=True)


def _report(outcome: ApplyOutcome, plan: Plan, verb: str, color: bool) -> None:
    label = click.style("Error:", fg="red", bold=True) if color else "Error:"
    _report_dns(outcome, label)
    if outcome.dns_failures and not (outcome.failures or outcome.interrupted):
        failed = len(outcome.dns_failures)
        click.echo(
            f"\n{verb} incomplete: {failed} of {len(outcome.dns)} DNS record updates failed."
            " The state records what the servers accepted; fix the errors above and run"
            f" `l4plan {verb.lower()}` again to finish (`l4plan plan` shows what is still"
            " missing).",
            err=True,
        )
        raise click.exceptions.Exit(EXIT_ERROR)
    if outcome.failures or outcome.interrupted:
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
    imported = f"{plan.imports} imported, " if plan.imports else ""
    message = (
        f"{verb} complete! Resources: {imported}{s.add} added, {s.change} changed, "
        f"{s.destroy} destroyed."
    )
    click.echo("\n" + (click.style(message, fg="green", bold=True) if color else message))


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


@click.command()
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
@pass_run_options
def apply(obj: CliContext, planfile: Path | None, refresh_only: bool, options: RunOptions) -> None:
    """Make the agents match the configuration (or carry out a saved PLANFILE).

    Without PLANFILE it plans, shows the plan and asks for `yes` (or --auto-approve).
    A PLANFILE carries its variable values and is refused if the state or the
    configuration changed since it was made.
    Exit codes: 0 success, 1 error (an agent failed: the others stay applied).
    """
    view = TerminalApplyView(obj.color)
    if planfile is not None:
        if options.targets or refresh_only or not options.refresh:
            raise click.UsageError(
                "a saved plan already fixes its targets and mode; --target, --refresh-only "
                "and --refresh apply when planning"
            )
        if options.var_args or options.var_files:
            raise click.UsageError(
                "a saved plan carries the variable values it was made with; "
                "--var and --var-file apply when planning"
            )
        with operation_errors(obj.color):
            result = apply_saved(Path.cwd(), planfile, options, view)
        _show(result, obj.color, saved=True)
        return
    if refresh_only and not options.refresh:
        raise click.UsageError("--refresh-only cannot be combined with --refresh=false")
    mode: PlanMode = "refresh-only" if refresh_only else "normal"
    with operation_errors(obj.color):
        result = apply_operation(Path.cwd(), mode, options, view)
    _show(result, obj.color, saved=False)


@click.command()
@variable_options
@target_option
@lock_timeout_option
@_apply_options
@no_color_option
@click.pass_obj
@pass_run_options
def destroy(obj: CliContext, options: RunOptions) -> None:
    """Remove every managed application from its agents, and the resources from state."""
    with operation_errors(obj.color):
        result = apply_operation(Path.cwd(), "destroy", options, TerminalApplyView(obj.color))
    _show(result, obj.color, saved=False)


@click.command("import")
@click.argument("address")
@click.argument("name")
@variable_options
@lock_timeout_option
@click.option("--timeout", type=DURATION, default="10s", show_default=True)
@no_color_option
@click.pass_obj
@pass_run_options
def import_(obj: CliContext, address: str, name: str, options: RunOptions) -> None:
    """Adopt application NAME, already running on its agents, as ADDRESS.

    ADDRESS must be an `l4_application` in the configuration whose domain is NAME.
    The state records the attributes a plan would give it and, per agent, the
    (canonical) hash of the spec the agent runs, so the next plan shows an update
    wherever the agent runs something that means other than the configuration says.
    """
    with operation_errors(obj.color):
        result = import_application(Path.cwd(), address, name, options)
    click.echo(f"{address}: imported {name} from agent {', '.join(result.agents)}.")
    click.echo("\nImport successful! Run `l4plan plan` to compare it with the configuration.")
