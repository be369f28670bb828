"""`l4plan output [NAME] [--json] [--raw]`: output values recorded in the state.

As in Terraform: listing all outputs masks sensitive ones; naming one output, or
`--json`, shows its value.
"""

from __future__ import annotations

from typing import Any

import click

from l4plan.cli.common import emit_json
from l4plan.cli.context import CliContext
from l4plan.cli.state import open_for_command, render_value, state_errors

SENSITIVE = "<sensitive>"


def type_of(value: Any) -> Any:
    """The value's type in Terraform's JSON type notation (`output --json`)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return ["tuple", [type_of(v) for v in value]]
    if isinstance(value, dict):
        return ["object", {k: type_of(v) for k, v in value.items()}]
    return "dynamic"


@click.command("output")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON (sensitive values shown).")
@click.option("--raw", is_flag=True, help="Print a string, number or bool value as is.")
@click.pass_obj
def output(obj: CliContext, name: str | None, as_json: bool, raw: bool) -> None:
    """Show output values from the state."""
    if as_json and raw:
        raise click.UsageError("--json and --raw cannot be used together")
    if raw and name is None:
        raise click.UsageError("--raw needs an output NAME")
    with state_errors(obj):
        backend = open_for_command(obj)
        try:
            state = backend.read()
        finally:
            backend.close()
    outputs = {} if state is None else state.outputs
    if name is not None:
        if name not in outputs:
            raise click.ClickException(
                f'output "{name}" not found in the state'
                + (f" (it has: {', '.join(sorted(outputs))})" if outputs else "")
            )
        value = outputs[name].value
        if as_json:
            emit_json(value, indent=None)
        elif raw:
            if isinstance(value, dict | list) or value is None:
                raise click.ClickException(
                    f'output "{name}" is a {type_of(value) if value is not None else "null"} '
                    "value; --raw prints strings, numbers and bools only (use --json)"
                )
            click.echo(("true" if value else "false") if isinstance(value, bool) else str(value))
        else:
            click.echo(render_value(value))
        return
    if as_json:
        data = {
            k: {"sensitive": v.sensitive, "type": type_of(v.value), "value": v.value}
            for k, v in sorted(outputs.items())
        }
        emit_json(data)
        return
    if not outputs:
        click.echo(
            "Warning: no outputs found in the state. Define output blocks and apply "
            "to record them.",
            err=True,
        )
        return
    for key, out in sorted(outputs.items()):
        click.echo(f"{key} = {SENSITIVE if out.sensitive else render_value(out.value)}")
