"""Opening the backend a configuration names: `l4plan { backend "TYPE" { ... } }`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from l4plan.configs.model import BACKEND_OPTIONS, BackendConfig
from l4plan.states.backend import Backend
from l4plan.states.errors import StateError
from l4plan.states.initrecord import check_initialized
from l4plan.states.local import DEFAULT_STATE_FILE, LocalBackend
from l4plan.states.workspaces import selected_workspace

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def open_backend(
    config: BackendConfig,
    *,
    workdir: Path,
    workspace: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Backend:
    """The backend for `workspace` (None: the selected one), once `l4plan init` prepared it.

    The default local backend works without `init`; any other backend, or a backend
    that differs from the one `init` recorded, asks for `l4plan init` first.
    """
    _checked_options(config)
    check_initialized(config, workdir)
    return backend_from_config(config, workdir=workdir, workspace=workspace, environ=environ)


def backend_from_config(
    config: BackendConfig,
    *,
    workdir: Path,
    workspace: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Backend:
    """The backend a BackendConfig describes, without checking what `init` recorded."""
    options = _checked_options(config)
    name = workspace if workspace is not None else selected_workspace(workdir, environ)
    if config.type == "local":
        return LocalBackend(
            workdir,
            workspace=name,
            path=options.get("path", DEFAULT_STATE_FILE),
        )
    try:
        from l4plan.states.pg import DEFAULT_SCHEMA, PgBackend
        from l4plan.states.pgconn import resolve_conn_str
    except ImportError:
        raise StateError(
            f'{_where(config)}backend "pg" needs psycopg 3: pip install "l4plan[pg]"'
        ) from None
    return PgBackend(
        resolve_conn_str(options, environ),
        schema=options.get("schema_name", DEFAULT_SCHEMA),
        workspace=name,
    )


def _checked_options(config: BackendConfig) -> dict[str, str]:
    where = _where(config)
    if config.type not in BACKEND_OPTIONS:
        raise StateError(f'{where}unknown backend type "{config.type}": use "local" or "pg"')
    allowed = BACKEND_OPTIONS[config.type]
    options: dict[str, str] = {}
    for key, value in config.options.items():
        if key not in allowed:
            raise StateError(
                f'{where}backend "{config.type}" has no option "{key}"; its options are '
                + ", ".join(allowed)
            )
        if not isinstance(value, str) or not value:
            raise StateError(
                f'{where}backend "{config.type}" option "{key}" must be a non-empty string, '
                f"not {_describe(value)}"
            )
        options[key] = value
    schema = options.get("schema_name")
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise StateError(
            f'{where}backend "pg" option "schema_name" = "{schema}" is not a valid name: '
            "use letters, digits and underscores (at most 63), not starting with a digit"
        )
    return options


def _where(config: BackendConfig) -> str:
    return f"{config.pos}: " if config.pos.file else ""


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return "an empty string"
    return f"{type(value).__name__} {value!r}"
