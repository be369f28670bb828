"""`l4plan workspace list|show|new|select|delete`: several states for one configuration."""

from __future__ import annotations

import os

import click

from l4plan.cli.context import CliContext
from l4plan.cli.options import lock_options
from l4plan.cli.state import open_for_command, state_errors, write_lock
from l4plan.states import DEFAULT_WORKSPACE, StateError, selected_workspace
from l4plan.states.workspaces import WORKSPACE_ENV, check_workspace_name, select_workspace


def _refuse_when_overridden(action: str) -> None:
    if os.environ.get(WORKSPACE_ENV):
        raise StateError(
            f"the selected workspace is set by {WORKSPACE_ENV}={os.environ[WORKSPACE_ENV]}; "
            f"unset it to {action}"
        )


@click.group("workspace")
def workspace_group() -> None:
    """Manage workspaces: separate states of one configuration (e.g. staging, prod)."""


@workspace_group.command("show")
@click.pass_obj
def workspace_show(obj: CliContext) -> None:
    """Print the selected workspace."""
    with state_errors(obj):
        click.echo(selected_workspace(obj.workdir))


@workspace_group.command("list")
@click.pass_obj
def workspace_list(obj: CliContext) -> None:
    """List workspaces; the selected one is marked with *."""
    with state_errors(obj):
        current = selected_workspace(obj.workdir)
        backend = open_for_command(obj, workspace=DEFAULT_WORKSPACE)
        try:
            names = backend.workspaces()
        finally:
            backend.close()
    for name in names:
        click.echo(f"{'*' if name == current else ' '} {name}")


@workspace_group.command("new")
@click.argument("name")
@click.pass_obj
def workspace_new(obj: CliContext, name: str) -> None:
    """Create workspace NAME (with no state) and select it."""
    with state_errors(obj):
        check_workspace_name(name)
        backend = open_for_command(obj, workspace=DEFAULT_WORKSPACE)
        try:
            backend.create_workspace(name)
        finally:
            backend.close()
        click.echo(f'Created and switched to workspace "{name}".')
        if os.environ.get(WORKSPACE_ENV):
            click.echo(f"Note: {WORKSPACE_ENV} is set and still decides the workspace used.")
        else:
            select_workspace(obj.workdir, name)


@workspace_group.command("select")
@click.argument("name")
@click.option("--or-create", is_flag=True, help="Create the workspace if it does not exist.")
@click.pass_obj
def workspace_select(obj: CliContext, name: str, or_create: bool) -> None:
    """Select workspace NAME for the commands that follow."""
    with state_errors(obj):
        check_workspace_name(name)
        _refuse_when_overridden("select another workspace")
        backend = open_for_command(obj, workspace=DEFAULT_WORKSPACE)
        try:
            if name not in backend.workspaces():
                if not or_create:
                    raise StateError(
                        f'workspace "{name}" does not exist; create it with '
                        f"`l4plan workspace new {name}` (or select it with --or-create)"
                    )
                backend.create_workspace(name)
                click.echo(f'Created workspace "{name}".')
        finally:
            backend.close()
        select_workspace(obj.workdir, name)
    click.echo(f'Switched to workspace "{name}".')


@workspace_group.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete even if its state still has resources.")
@lock_options
@click.pass_obj
def workspace_delete(
    obj: CliContext, name: str, force: bool, use_lock: bool, lock_timeout: float
) -> None:
    """Delete workspace NAME and its state (refused while it still manages resources)."""
    with state_errors(obj):
        check_workspace_name(name)
        if name == DEFAULT_WORKSPACE:
            raise StateError('workspace "default" cannot be deleted')
        if name == selected_workspace(obj.workdir):
            raise StateError(
                f'workspace "{name}" is selected; select another workspace before deleting it'
            )
        backend = open_for_command(obj, workspace=name)
        try:
            with write_lock(
                backend, "workspace delete", use_lock=use_lock, lock_timeout=lock_timeout
            ):
                state = backend.read()
                if state is not None and state.resources and not force:
                    raise StateError(
                        f'workspace "{name}" still manages {len(state.resources)} resource '
                        "instance(s); destroy them first (or forget them with --force: "
                        "they keep running, unmanaged)"
                    )
                backend.delete_workspace(name)
        finally:
            backend.close()
    click.echo(f'Deleted workspace "{name}".')
