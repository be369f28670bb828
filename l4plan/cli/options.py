"""Option decorators shared by several commands."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from l4plan.durations import parse_duration

F = TypeVar("F", bound=Callable[..., Any])


class Duration(click.ParamType):
    """A duration such as 500ms, 30s, 5m or a bare number of seconds."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            return parse_duration(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


DURATION = Duration()


def variable_options(f: F) -> F:
    """--var NAME=VALUE (repeatable) and --var-file FILE (repeatable)."""
    f = click.option(
        "--var-file",
        "var_files",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="Load variable values from FILE (HCL syntax, like *.l4vars).",
    )(f)
    f = click.option(
        "--var",
        "var_args",
        multiple=True,
        metavar="NAME=VALUE",
        help="Set a variable. Repeatable.",
    )(f)
    return f


def target_option(f: F) -> F:
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="ADDRESS",
        help="Limit to ADDRESS and what it depends on. Repeatable.",
    )(f)


def lock_timeout_option(f: F) -> F:
    return click.option(
        "--lock-timeout",
        type=DURATION,
        default="0s",
        show_default=True,
        help="How long to wait for the state lock.",
    )(f)


def lock_options(f: F) -> F:
    """--lock-timeout, and --lock/--no-lock for commands where skipping the lock is safe."""
    f = lock_timeout_option(f)
    f = click.option(
        "--lock/--no-lock", "use_lock", default=True, help="Take the state lock (default on)."
    )(f)
    return f


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def pass_run_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Hand the command the options the operations share (`--var`, `--var-file`,
    `--target`, `--lock-timeout`, `--auto-approve`, `--parallelism`, `--timeout`,
    `--refresh`, whichever it declares) as one `options: RunOptions` argument.
    Put it below the option decorators, next to the function."""
    # imported by the commands that run an operation, not by `version` or `validate`
    from l4plan.workflows.options import RunOptions

    names = frozenset(field.name for field in dataclasses.fields(RunOptions))

    @functools.wraps(f)
    def with_options(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in names & set(kwargs)}
        return f(*args, options=RunOptions(**given), **kwargs)

    return with_options
