"""`l4plan force-unlock LOCK_ID [--force]`: clear a lock whose holder will not release it."""

from __future__ import annotations

import click

from l4plan.cli.context import CliContext
from l4plan.cli.state import open_for_command, state_errors


@click.command("force-unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def force_unlock(obj: CliContext, lock_id: str, force: bool) -> None:
    """Remove the state lock LOCK_ID of the selected workspace.

    Only for a lock whose holder is gone or hung: with the pg backend the holder's
    database session is terminated (its uncommitted work is rolled back).
    """
    with state_errors(obj):
        backend = open_for_command(obj)
        try:
            if not force:
                click.echo(
                    f"Do you really want to force-unlock {backend.describe()}?\n"
                    "  l4plan will remove the lock; if its holder is still running it may "
                    "still try to write (such writes are checked against the state serial).\n"
                    "  Only 'yes' will be accepted to confirm."
                )
                if click.prompt("Enter a value", default="", show_default=False) != "yes":
                    raise click.ClickException("force-unlock cancelled; the lock is unchanged")
            backend.force_unlock(lock_id)
        finally:
            backend.close()
    click.echo(f"l4plan state has been successfully unlocked (lock ID {lock_id}).")
