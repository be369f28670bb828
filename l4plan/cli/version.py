"""`l4plan version`."""

from __future__ import annotations

import platform

import click

from l4plan import __version__
from l4plan.cli.options import json_option
from l4plan.jsontext import dumps


@click.command()
@json_option
def version(as_json: bool) -> None:
    """Print the l4plan version."""
    if as_json:
        click.echo(dumps({"l4plan_version": __version__, "python": platform.python_version()}))
    else:
        click.echo(f"l4plan v{__version__} (Python {platform.python_version()})")
