"""Helpers shared by the commands that load configuration and read state."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NoReturn

import click

from l4plan.cli.context import CliContext
from l4plan.cli.render import render_diagnostics
from l4plan.configs import load_config
from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic
from l4plan.jsontext import NotJSONError, dumps
from l4plan.states import Backend, LockInfo, State, StateError, open_backend

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


def open_state_backend(config: Config, color: bool) -> Backend:
    try:
        return open_backend(config.backend, workdir=Path.cwd())
    except StateError as e:
        fail(str(e), color)


def lock_holder_warning(info: LockInfo) -> Diagnostic:
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
            return lock_holder_warning(info)
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 1.0)


def read_state(
    config: Config, color: bool, *, lock_timeout: float, wait: bool
) -> tuple[State | None, str, Diagnostic | None]:
    backend = open_state_backend(config, color)
    try:
        warning = wait_for_writer(backend, lock_timeout) if wait else None
        state = backend.read()
        return state, backend.describe(), warning
    except StateError as e:
        fail(str(e), color)
    finally:
        backend.close()


def emit_json(data: Any, *, indent: int | None = 2, ensure_ascii: bool = False) -> None:
    """Print `data` as strict JSON (l4plan.jsontext); a value JSON cannot hold ends
    the command with an error instead of output that is not JSON."""
    try:
        text = dumps(data, indent=indent, ensure_ascii=ensure_ascii)
    except NotJSONError as e:
        click.echo(f"Error: cannot write the JSON output: {e}", err=True)
        raise click.exceptions.Exit(EXIT_ERROR) from None
    click.echo(text)
