"""Entry point: the `l4plan` group, global options and exit-code mapping.

Exit codes follow Terraform: 0 success, 1 error (usage errors included, so CI never
reads a typo as drift), 2 changes present (`--detailed-exitcode` only).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from l4plan import __version__
from l4plan.cli.context import CliContext

# Every command `l4plan` offers: name -> (module, attribute, the first paragraph of its
# help). A command's module is imported when the command runs, not to list it, so
# `l4plan version` does not load the planner; `l4plan --help` lists the paragraphs
# given here (tests/cli/test_commands.py keeps them equal to the commands' own).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": (
        "l4plan.cli.init",
        "init",
        "Prepare the configured state backend (and migrate state when it changed).",
    ),
    "validate": (
        "l4plan.cli.validate",
        "validate",
        "Check the configuration: syntax, references, schemas and every constraint.",
    ),
    "fmt": (
        "l4plan.cli.fmt",
        "fmt_command",
        "Rewrite configuration files in the canonical layout, keeping every comment.",
    ),
    "plan": (
        "l4plan.cli.plan",
        "plan",
        "Show what apply would change, and optionally save it with --out.",
    ),
    "show": (
        "l4plan.cli.plan",
        "show",
        "Show a saved plan, or without PLANFILE the current state.",
    ),
    "graph": (
        "l4plan.cli.plan",
        "graph",
        "Print the resource dependency graph as Graphviz DOT (an edge A -> B: A needs B).",
    ),
    "apply": (
        "l4plan.cli.apply",
        "apply",
        "Make the agents match the configuration (or carry out a saved PLANFILE).",
    ),
    "destroy": (
        "l4plan.cli.apply",
        "destroy",
        "Remove every managed application from its agents, and the resources from state.",
    ),
    "import": (
        "l4plan.cli.apply",
        "import_",
        "Adopt application NAME, already running on its agents, as ADDRESS.",
    ),
    "output": ("l4plan.cli.output", "output", "Show output values from the state."),
    "state": ("l4plan.cli.state", "state_group", "Inspect and edit the recorded state."),
    "workspace": (
        "l4plan.cli.workspace",
        "workspace_group",
        "Manage workspaces: separate states of one configuration (e.g. staging, prod).",
    ),
    "force-unlock": (
        "l4plan.cli.unlock",
        "force_unlock",
        "Remove the state lock LOCK_ID of the selected workspace.",
    ),
    "drift": (
        "l4plan.cli.drift",
        "drift",
        "Compare what every agent runs with the recorded state; change nothing.",
    ),
    "version": ("l4plan.cli.version", "version", "Print the l4plan version."),
}


def _import_command(name: str) -> click.Command:
    module, attribute, _ = COMMANDS[name]
    command: click.Command = getattr(importlib.import_module(module), attribute)
    return command


class CommandGroup(click.Group):
    """The `l4plan` group: lists COMMANDS without importing them, loads one to run it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(_import_command(cmd_name))
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own listing; a command not loaded yet is shortened by click from the
        # paragraph in COMMANDS
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                if not loaded.hidden:
                    rows.append((name, loaded.get_short_help_str(limit)))
            else:
                stand_in = click.Command(name, help=COMMANDS[name][2])
                rows.append((name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    """Load every command onto `cli` now rather than when it runs (repeating it
    changes nothing): for callers that look at `cli.commands`."""
    for name in COMMANDS:
        cli.get_command(click.Context(cli), name)


def _is_operation_error(error: Exception) -> bool:
    """A StateError or an AgentError. Imported only when something failed: the state
    and agent packages are not needed to start a command such as `version`."""
    from l4plan.agents.errors import AgentError
    from l4plan.states.errors import StateError

    return isinstance(error, StateError | AgentError)


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
    except Exception as e:
        if not _is_operation_error(e):
            raise
        # commands handle these where they can say more; this keeps any other path
        # from ending in a traceback
        click.echo(f"Error: {e}", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
