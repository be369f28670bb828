"""Workspace names and which one is selected in a working directory.

The selected workspace is stored in `.l4plan/environment` (like Terraform's
`.terraform/environment`); `L4PLAN_WORKSPACE` overrides it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from l4plan.states.atomicfile import write_atomic
from l4plan.states.errors import StateError

DEFAULT_WORKSPACE = "default"
WORKSPACE_ENV = "L4PLAN_WORKSPACE"
DATA_DIR = ".l4plan"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,89}$")


def check_workspace_name(name: str) -> str:
    """Return `name` if usable as a workspace name (it becomes a directory name)."""
    if not _NAME.match(name):
        raise StateError(
            f"invalid workspace name {name!r}: use 1-90 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return name


def environment_file(workdir: Path) -> Path:
    return workdir / DATA_DIR / "environment"


def selected_workspace(workdir: Path, environ: Mapping[str, str] | None = None) -> str:
    """The workspace commands use: L4PLAN_WORKSPACE, else `.l4plan/environment`, else default."""
    env = os.environ if environ is None else environ
    if env.get(WORKSPACE_ENV):
        return _checked(env[WORKSPACE_ENV], f"the {WORKSPACE_ENV} environment variable")
    path = environment_file(workdir)
    try:
        name = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return DEFAULT_WORKSPACE
    except (OSError, UnicodeDecodeError) as e:
        raise StateError(f"cannot read the selected workspace from {path}: {e}") from None
    return _checked(name or DEFAULT_WORKSPACE, str(path))


def select_workspace(workdir: Path, name: str) -> None:
    """Record `name` as the selected workspace of `workdir`."""
    check_workspace_name(name)
    path = environment_file(workdir)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    write_atomic(path, name.encode() + b"\n", mode=0o644)


def _checked(name: str, source: str) -> str:
    try:
        return check_workspace_name(name)
    except StateError as e:
        raise StateError(f"{e} (from {source})") from None
