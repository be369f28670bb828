"""Entry point: the `l4plan` group, global options and exit-code mapping.

Exit codes follow Terraform: 0 success, 1 error (usage errors included, so CI never
reads a typo as drift), 2 changes present (`--detailed-exitcode` only).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from l4plan import __version__
from l4plan.agents.errors import AgentError
from l4plan.cli.apply import apply, destroy, import_
from l4plan.cli.context import CliContext
from l4plan.cli.drift import drift
from l4plan.cli.fmt import fmt_command
from l4plan.cli.init import init
from l4plan.cli.output import output
from l4plan.cli.plan import graph, plan, show
from l4plan.cli.state import state_group
from l4plan.cli.unlock import force_unlock
from l4plan.cli.validate import validate
from l4plan.cli.version import version
from l4plan.cli.workspace import workspace_group
from l4plan.states import StateError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "--chdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Work in DIR instead of the current directory.",
)
@click.option("--no-color", is_flag=True, help="Disable colour output (also NO_COLOR).")
@click.version_option(__version__, "--version", prog_name="l4plan")
@click.pass_context
def cli(ctx: click.Context, chdir: Path | None, no_color: bool) -> None:
    """Plan and apply Layer 4 proxy applications, the Terraform way."""
    if chdir is not None:
        if not chdir.is_dir():
            raise click.UsageError(f"-C/--chdir: {chdir} is not a directory")
        os.chdir(chdir)
    color = not (no_color or os.environ.get("NO_COLOR"))
    ctx.obj = CliContext(workdir=Path.cwd(), color=color)


def load_commands() -> None:
    """Put every command on `cli` (done when this module is imported; repeating it
    changes nothing). The list is what `l4plan` offers."""
    for command in (
        init,
        validate,
        fmt_command,
        plan,
        show,
        graph,
        apply,
        destroy,
        import_,
        output,
        state_group,
        workspace_group,
        force_unlock,
        drift,
        version,
    ):
        cli.add_command(command)


load_commands()


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="l4plan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = 1
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.ClickException as e:
        e.show()
        code = 1  # click would exit 2 for usage errors; 2 means "changes present" here
    except (StateError, AgentError) as e:
        # commands handle these where they can say more; this keeps any other path
        # from ending in a traceback
        click.echo(f"Error: {e}", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
