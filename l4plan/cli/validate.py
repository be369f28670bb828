"""`l4plan validate`: load the configuration, check schemas and constraints, report."""

from __future__ import annotations

from pathlib import Path

import click

from l4plan.cli.common import emit_json
from l4plan.cli.context import CliContext
from l4plan.cli.options import json_option, variable_options
from l4plan.cli.render import render_diagnostics
from l4plan.configs import load_config
from l4plan.configs.validate import check
from l4plan.diagnostics import has_errors

SUCCESS = "Success! The configuration is valid."


@click.command()
@variable_options
@json_option
@click.pass_obj
def validate(
    obj: CliContext, var_args: tuple[str, ...], var_files: tuple[str, ...], as_json: bool
) -> None:
    """Check the configuration: syntax, references, schemas and every constraint.

    Exits 0 when valid (warnings allowed), 1 when not.
    """
    config = load_config(Path.cwd(), var_args=var_args, var_files=var_files)
    diagnostics = [*config.diagnostics, *check(config)]
    valid = not has_errors(diagnostics)
    if as_json:
        report = {"valid": valid, "diagnostics": [d.to_json() for d in diagnostics]}
        emit_json(report, ensure_ascii=True)
    else:
        if diagnostics:
            rendered = render_diagnostics(diagnostics, config.files, obj.color)
            click.echo(rendered, err=True)
        if valid:
            click.echo(click.style(SUCCESS, fg="green", bold=True) if obj.color else SUCCESS)
    if not valid:
        raise click.exceptions.Exit(1)
