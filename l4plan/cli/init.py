"""`l4plan init [--migrate-state] [--force-copy] [--reconfigure]`: prepare the backend.

Creates the pg schema and tables, records the backend in `.l4plan/backend.json`, and,
when the configured backend changed since the last `init`, copies the state of every
workspace to the new backend (`--migrate-state`) or starts afresh (`--reconfigure`).
"""

from __future__ import annotations

import click

from l4plan.cli.context import CliContext
from l4plan.cli.options import lock_options
from l4plan.cli.state import state_errors
from l4plan.configs.model import BackendConfig
from l4plan.states import DEFAULT_WORKSPACE, StateError, backend_from_config
from l4plan.states.backend import Backend
from l4plan.states.configured import configured_backend
from l4plan.states.initrecord import (
    DEFAULT_BACKEND,
    describe_backend,
    record_backend,
    recorded_backend,
    same_backend,
)
from l4plan.states.migrate import migrate_state


@click.command("init")
@click.option("--migrate-state", is_flag=True, help="Copy the state from the previous backend.")
@click.option(
    "--force-copy",
    is_flag=True,
    help="With --migrate-state: overwrite a conflicting state in the new backend.",
)
@click.option("--reconfigure", is_flag=True, help="Use the new backend as it is; copy no state.")
@lock_options
@click.pass_obj
def init(
    obj: CliContext,
    migrate_state: bool,
    force_copy: bool,
    reconfigure: bool,
    use_lock: bool,
    lock_timeout: float,
) -> None:
    """Prepare the configured state backend (and migrate state when it changed)."""
    if migrate_state and reconfigure:
        raise click.UsageError("--migrate-state and --reconfigure cannot be used together")
    if force_copy and not migrate_state:
        raise click.UsageError("--force-copy only goes with --migrate-state")
    with state_errors(obj):
        config = configured_backend(obj.workdir)
        backend = _open(obj, config, DEFAULT_WORKSPACE)
        try:
            backend.initialize()
            click.echo(f"Initialized {describe_backend(config)}: {backend.describe()}.")
        finally:
            backend.close()
        previous = recorded_backend(obj.workdir) or DEFAULT_BACKEND
        if not same_backend(previous, config) and not reconfigure:
            _move_state(obj, previous, config, migrate_state, force_copy, use_lock, lock_timeout)
        elif migrate_state:
            click.echo("The backend did not change; there is no state to migrate.")
        record_backend(obj.workdir, config)
    click.echo("l4plan has been successfully initialized!")


def _open(obj: CliContext, config: BackendConfig, workspace: str) -> Backend:
    return backend_from_config(config, workdir=obj.workdir, workspace=workspace)


def _move_state(
    obj: CliContext,
    previous: BackendConfig,
    config: BackendConfig,
    migrate: bool,
    force_copy: bool,
    use_lock: bool,
    lock_timeout: float,
) -> None:
    old = _open(obj, previous, DEFAULT_WORKSPACE)
    try:
        holding = [ws for ws in old.workspaces() if _has_state(obj, previous, ws)]
    finally:
        old.close()
    if not holding:
        return
    if not migrate:
        raise StateError(
            f"the backend changed from {describe_backend(previous)} to "
            f"{describe_backend(config)}, and the previous one holds state (workspaces: "
            f"{', '.join(holding)}). Run `l4plan init --migrate-state` to copy it, or "
            "`l4plan init --reconfigure` to start from the new backend's state."
        )
    click.echo(
        f"Migrating state from {describe_backend(previous)} to {describe_backend(config)}..."
    )
    results = migrate_state(
        lambda ws: _open(obj, previous, ws),
        lambda ws: _open(obj, config, ws),
        force_copy=force_copy,
        lock=use_lock,
        lock_timeout=lock_timeout,
    )
    for r in results:
        serial = "" if r.serial is None else f" (serial {r.serial})"
        click.echo(f"  workspace {r.workspace}: {r.outcome}{serial}")


def _has_state(obj: CliContext, config: BackendConfig, workspace: str) -> bool:
    backend = _open(obj, config, workspace)
    try:
        return backend.read() is not None
    finally:
        backend.close()
