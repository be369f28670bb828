"""Helpers the commands share: error and diagnostic output, strict JSON output, and
ending a command the way an operation stopped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from l4plan.cli.context import CliContext
from l4plan.cli.render import render_diagnostics
from l4plan.configs import load_config
from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic
from l4plan.jsontext import NotJSONError, dumps
from l4plan.workflows.errors import InvalidConfiguration, OperationError, Stopped

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


def fail(message: str, color: bool) -> NoReturn:
    label = click.style("Error:", fg="red", bold=True) if color else "Error:"
    click.echo(f"{label} {message}", err=True)
    raise click.exceptions.Exit(EXIT_ERROR)


def echo_diagnostics(diags: list[Diagnostic], config: Config, color: bool) -> None:
    if diags:
        click.echo(render_diagnostics(diags, config.files, color), err=True)


def load(var_args: tuple[str, ...], var_files: tuple[str, ...]) -> Config:
    """The configuration in the working directory (diagnostics inside, never raises)."""
    return load_config(Path.cwd(), var_args=var_args, var_files=var_files)


@contextmanager
def operation_errors(color: bool) -> Iterator[None]:
    """End the command the way each way an operation stops asks for: its message as
    `Error: ...`, or the configuration's diagnostics; exit status 1 either way."""
    try:
        yield
    except InvalidConfiguration as e:
        echo_diagnostics(e.diagnostics, e.config, color)
        raise click.exceptions.Exit(EXIT_ERROR) from None
    except OperationError as e:
        fail(str(e), color)
    except Stopped:
        raise click.exceptions.Exit(EXIT_ERROR) from None


def emit_json(data: Any, *, indent: int | None = 2, ensure_ascii: bool = False) -> None:
    """Print `data` as strict JSON (l4plan.jsontext); a value JSON cannot hold ends
    the command with an error instead of output that is not JSON."""
    try:
        text = dumps(data, indent=indent, ensure_ascii=ensure_ascii)
    except NotJSONError as e:
        click.echo(f"Error: cannot write the JSON output: {e}", err=True)
        raise click.exceptions.Exit(EXIT_ERROR) from None
    click.echo(text)
