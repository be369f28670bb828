"""`l4plan state list|show|rm|mv|pull|push`, and the backend helpers of the state commands."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from l4plan.cli.context import CliContext
from l4plan.cli.options import F, lock_options
from l4plan.cli.render import render_diagnostics
from l4plan.states import (
    Backend,
    State,
    StateError,
    dump_state_json,
    load_state_json,
    open_backend,
)
from l4plan.states.addresses import matches, parse_address
from l4plan.states.atomicfile import write_atomic
from l4plan.states.configured import ConfigurationError, configured_backend
from l4plan.states.edits import move, remove
from l4plan.workflows.state_write import state_id, write_successor


@contextlib.contextmanager
def state_errors(obj: CliContext) -> Iterator[None]:
    """Report state and configuration errors as `Error: ...` with exit code 1."""
    try:
        yield
    except ConfigurationError as e:
        click.echo(render_diagnostics(e.diagnostics, e.config.files, obj.color), err=True)
        raise click.exceptions.Exit(1) from None
    except StateError as e:
        raise click.ClickException(str(e)) from None


def open_for_command(obj: CliContext, *, workspace: str | None = None) -> Backend:
    """The backend of the working directory's configuration, for `workspace`."""
    return open_backend(configured_backend(obj.workdir), workdir=obj.workdir, workspace=workspace)


def render_value(value: Any, indent: int = 0, *, sensitive: frozenset[str] = frozenset()) -> str:
    """An HCL-style rendering of a JSON value; dotted paths in `sensitive` are masked."""
    return _render(value, indent, "", sensitive)


def _render(value: Any, indent: int, path: str, sensitive: frozenset[str]) -> str:
    if path and path in sensitive:
        return "(sensitive value)"
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        width = max(len(_key(k)) for k in value)
        lines = [
            f"{pad}{_key(k).ljust(width)} = {_render(v, indent + 1, _join(path, k), sensitive)}"
            for k, v in value.items()
        ]
        return "{\n" + "\n".join(lines) + "\n" + "  " * indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        lines = [
            f"{pad}{_render(v, indent + 1, _join(path, str(i)), sensitive)},"
            for i, v in enumerate(value)
        ]
        return "[\n" + "\n".join(lines) + "\n" + "  " * indent + "]"
    return json.dumps(value, ensure_ascii=False)


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _key(key: str) -> str:
    return key if key.replace("_", "a").replace("-", "a").isalnum() else json.dumps(key)


@contextlib.contextmanager
def write_lock(
    backend: Backend, operation: str, *, use_lock: bool, lock_timeout: float
) -> Iterator[None]:
    if not use_lock:
        yield
        return
    with backend.lock(operation, timeout=lock_timeout):
        yield


def _backup_option(f: F) -> F:
    return click.option(
        "--backup",
        "backup",
        default=None,
        metavar="PATH",
        help="Where to save the state before the change (default: "
        "l4plan-<time>.tfstate.json.backup in the working directory; '-' for none).",
    )(f)


def _save_backup(obj: CliContext, state: State, backup: str | None) -> str | None:
    if backup == "-":
        return None
    if backup is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = obj.workdir / f"l4plan-{stamp}.tfstate.json.backup"
    else:
        path = obj.workdir / backup
    try:
        write_atomic(path, dump_state_json(state).encode())
    except OSError as e:
        raise StateError(f"cannot save the backup {path}: {e.strerror or e}") from None
    return str(path.relative_to(obj.workdir) if path.is_relative_to(obj.workdir) else path)


@click.group("state")
def state_group() -> None:
    """Inspect and edit the recorded state."""


@state_group.command("list")
@click.argument("addresses", nargs=-1)
@click.option("--id", "id_", default=None, help="Only resources whose id attribute is ID.")
@click.pass_obj
def state_list(obj: CliContext, addresses: tuple[str, ...], id_: str | None) -> None:
    """List resources in the state, optionally only those matching ADDRESSES."""
    with state_errors(obj):
        patterns = [parse_address(a) for a in addresses]
        backend = open_for_command(obj)
        try:
            state = backend.read()
        finally:
            backend.close()
    for address, resource in [] if state is None else state.resources.items():
        if patterns and not any(matches(p, address) for p in patterns):
            continue
        if id_ is not None and resource.attributes.get("id") != id_:
            continue
        click.echo(address)


@state_group.command("show")
@click.argument("address")
@click.pass_obj
def state_show(obj: CliContext, address: str) -> None:
    """Show one resource instance's recorded attributes (sensitive values masked)."""
    with state_errors(obj):
        parse_address(address)
        backend = open_for_command(obj)
        try:
            state = backend.read()
        finally:
            backend.close()
    resource = None if state is None else state.resources.get(address)
    if resource is None:
        raise click.ClickException(
            f"no resource instance {address} in the state; `l4plan state list` shows them"
        )
    body = render_value(resource.attributes, sensitive=frozenset(resource.sensitive_attributes))
    click.echo(f"# {resource.address}:")
    click.echo(f'resource "{resource.type}" "{resource.name}" {body}')
    for agent, ack in sorted(resource.agents.items()):
        click.echo(f"# agent {agent}: revision {ack.revision}, spec_hash {ack.spec_hash}")
    if resource.dependencies:
        click.echo(f"# depends on: {', '.join(resource.dependencies)}")


def _edit_state(
    obj: CliContext,
    operation: str,
    edit: Callable[[State], list[str]],
    *,
    verb: str,
    dry_run: bool,
    backup: str | None,
    use_lock: bool,
    lock_timeout: float,
) -> tuple[list[str], str | None]:
    """Under the lock: read the state, back it up, `edit` it, write it (compare-and-set).

    Returns the lines `edit` reports and where the backup went. With `dry_run` the
    edit happens on the copy read and nothing is saved or written.
    """
    backend = open_for_command(obj)
    try:
        with write_lock(backend, operation, use_lock=use_lock, lock_timeout=lock_timeout):
            state = backend.read()
            if state is None:
                raise StateError(f"there is no state yet; nothing to {verb}")
            before = state_id(state)
            saved = None if dry_run else _save_backup(obj, state, backup)
            lines = edit(state)
            if not dry_run:
                write_successor(backend, state, before)
            return lines, saved
    finally:
        backend.close()


def _report_edit(lines: list[str], saved: str | None, done: str, *, dry_run: bool) -> None:
    """Each line of the edit, then (unless it was a dry run) the count and the backup."""
    for line in lines:
        click.echo(line)
    if dry_run:
        return
    click.echo(
        f"Successfully {done} {len(lines)} resource instance(s)."
        + (f" Previous state saved to {saved}." if saved else "")
    )


@state_group.command("rm")
@click.argument("addresses", nargs=-1, required=True)
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@_backup_option
@lock_options
@click.pass_obj
def state_rm(
    obj: CliContext,
    addresses: tuple[str, ...],
    dry_run: bool,
    backup: str | None,
    use_lock: bool,
    lock_timeout: float,
) -> None:
    """Forget resources: l4plan stops managing them; nothing is destroyed on the agents."""
    done = "Would remove" if dry_run else "Removed"
    with state_errors(obj):
        patterns = [parse_address(a) for a in addresses]
        lines, saved = _edit_state(
            obj,
            "state rm",
            verb="remove",
            edit=lambda state: [f"{done} {address}" for address in remove(state, patterns)],
            dry_run=dry_run,
            backup=backup,
            use_lock=use_lock,
            lock_timeout=lock_timeout,
        )
    _report_edit(lines, saved, "removed", dry_run=dry_run)


@state_group.command("mv")
@click.argument("source")
@click.argument("destination")
@click.option("--dry-run", is_flag=True, help="Only print what would be moved.")
@_backup_option
@lock_options
@click.pass_obj
def state_mv(
    obj: CliContext,
    source: str,
    destination: str,
    dry_run: bool,
    backup: str | None,
    use_lock: bool,
    lock_timeout: float,
) -> None:
    """Rename a resource (or one instance) in the state, e.g. after renaming its block."""
    done = "Would move" if dry_run else "Move"
    with state_errors(obj):
        src, dst = parse_address(source), parse_address(destination)
        lines, saved = _edit_state(
            obj,
            "state mv",
            verb="move",
            edit=lambda state: [f"{done} {old} to {new}" for old, new in move(state, src, dst)],
            dry_run=dry_run,
            backup=backup,
            use_lock=use_lock,
            lock_timeout=lock_timeout,
        )
    _report_edit(lines, saved, "moved", dry_run=dry_run)


@state_group.command("pull")
@click.pass_obj
def state_pull(obj: CliContext) -> None:
    """Print the current state as JSON (nothing when there is none)."""
    with state_errors(obj):
        backend = open_for_command(obj)
        try:
            state = backend.read()
        finally:
            backend.close()
    if state is not None:
        click.echo(dump_state_json(state), nl=False)


@state_group.command("push")
@click.argument("path")
@click.option("--force", is_flag=True, help="Allow a different lineage or a lower serial.")
@lock_options
@click.pass_obj
def state_push(
    obj: CliContext, path: str, force: bool, use_lock: bool, lock_timeout: float
) -> None:
    """Replace the state with the state in PATH ('-' reads standard input)."""
    with state_errors(obj):
        if path == "-":
            text, source = sys.stdin.read(), "standard input"
        else:
            try:
                text, source = Path(path).read_text(encoding="utf-8"), path
            except (OSError, UnicodeDecodeError) as e:
                raise StateError(f"cannot read {path}: {e}") from None
        pushed = load_state_json(text, source=source)
        backend = open_for_command(obj)
        try:
            with write_lock(backend, "state push", use_lock=use_lock, lock_timeout=lock_timeout):
                current = backend.read()
                message = _push_check(pushed, current, force)
                if message:
                    click.echo(message)
                    return
                backend.write(pushed, expected=state_id(current))
        finally:
            backend.close()
    click.echo(f"Pushed lineage {pushed.lineage} serial {pushed.serial} to {backend.describe()}.")


def _push_check(pushed: State, current: State | None, force: bool) -> str | None:
    """Refuse (StateError) a push that would lose history unless forced; a message means
    there is nothing to do. A forced push of an older serial gets the next serial."""
    if current is None:
        return None
    if pushed.lineage != current.lineage:
        if not force:
            raise StateError(
                f"cannot push lineage {pushed.lineage}: the state has lineage "
                f"{current.lineage}, a different history. Use --force to replace it."
            )
        return None
    if pushed.to_json() == current.to_json():
        return "The state is already identical; nothing pushed."
    if pushed.serial <= current.serial:
        if not force:
            raise StateError(
                f"cannot push serial {pushed.serial}: the state is at serial "
                f"{current.serial}, which is newer or equal with different content. Pull it "
                "and work from it, or use --force to replace it."
            )
        pushed.serial = current.serial + 1
    return None
