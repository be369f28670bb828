"""Saved plans (`plan --out FILE`): write, load, and refuse them once stale.

A plan file is JSON (gzip-compressed when the name ends in `.gz`) holding the plan
with its real values (sensitive ones included, as Terraform's plan files do, hence
mode 0600), the prior state's lineage and serial, the configuration hash, the
variable values used and the l4plan version. `check_fresh` tells whether applying
it now would still do what was reviewed.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from l4plan import __version__
from l4plan.configs.model import Config
from l4plan.jsontext import NotJSONError, dumps, loads
from l4plan.plans.model import Plan
from l4plan.plans.render_json import plan_from_json, plan_to_json
from l4plan.states.model import State

PLANFILE_FORMAT = 1
_MARKER = "l4plan_plan_file"
_GZIP_MAGIC = b"\x1f\x8b"
# a plan file is never this large; refusing bigger input keeps a wrong path cheap
_MAX_BYTES = 512 * 1024 * 1024


class PlanFileError(Exception):
    """The file is not a plan file, or is damaged."""


class StalePlanError(Exception):
    """The state or configuration moved since the plan was made."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__(
            "The saved plan is stale: "
            + "; ".join(reasons)
            + ". Nothing was applied. Run `l4plan plan` again to make a new plan."
        )


@dataclass(slots=True)
class SavedPlan:
    plan: Plan
    config_hash: str
    variables: dict[str, Any] = field(default_factory=dict)
    l4plan_version: str = __version__
    created: str = field(
        default_factory=lambda: (
            datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        )
    )
    # the backend and workspace the state was read from, for messages
    backend: str = ""


def _json_values(values: dict[str, Any]) -> dict[str, Any]:
    """Variable values as a plan file stores them (sets become lists, and so on)."""
    result: dict[str, Any] = loads(dumps(values, sort_keys=True, default=_plain))
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return str(value)


def saved_plan(plan: Plan, config: Config, *, backend: str = "") -> SavedPlan:
    return SavedPlan(
        plan=plan,
        config_hash=config.content_hash(),
        variables=_json_values(config.variables),
        backend=backend,
    )


def _to_json(saved: SavedPlan) -> dict[str, Any]:
    return {
        _MARKER: PLANFILE_FORMAT,
        "l4plan_version": saved.l4plan_version,
        "created": saved.created,
        "config_hash": saved.config_hash,
        "backend": saved.backend,
        "variables": saved.variables,
        "plan": plan_to_json(saved.plan, reveal_sensitive=True),
    }


def write_planfile(path: Path, saved: SavedPlan) -> None:
    """Write atomically (temp file, fsync, rename) with mode 0600."""
    try:
        text = dumps(_to_json(saved), indent=1, sort_keys=True, default=_plain)
    except NotJSONError as e:
        raise PlanFileError(f"cannot write plan file {path}: {e}") from None
    data = text.encode()
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@cache
def plan_schema() -> dict[str, Any]:
    path = Path(__file__).resolve().parent.parent / "schemas" / "plan.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def load_planfile(path: Path) -> SavedPlan:
    """Read a plan file; PlanFileError says what is wrong with a bad one."""
    try:
        with open(path, "rb") as f:
            raw = f.read(_MAX_BYTES + 1)
    except OSError as e:
        raise PlanFileError(f"cannot read plan file {path}: {e.strerror or e}") from None
    if len(raw) > _MAX_BYTES:
        raise PlanFileError(f"{path} is not an l4plan plan file (larger than any plan)")
    if raw.startswith(_GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise PlanFileError(f"plan file {path} is damaged: bad gzip data ({e})") from None
    try:
        data = loads(raw)
    except ValueError:  # not UTF-8, not JSON, or Infinity/NaN
        raise PlanFileError(
            f"{path} is not an l4plan plan file (not JSON); make one with `l4plan plan --out FILE`"
        ) from None
    if not isinstance(data, dict) or _MARKER not in data:
        raise PlanFileError(
            f"{path} is not an l4plan plan file; make one with `l4plan plan --out FILE`"
        )
    if data[_MARKER] != PLANFILE_FORMAT:
        raise PlanFileError(
            f"plan file {path} has format {data[_MARKER]!r}, which this l4plan "
            f"({__version__}) does not read; run `l4plan plan` again"
        )
    problem = _problem(data)
    if problem:
        raise PlanFileError(f"plan file {path} is damaged: {problem}")
    return SavedPlan(
        plan=plan_from_json(data["plan"]),
        config_hash=data["config_hash"],
        variables=data["variables"],
        l4plan_version=data["l4plan_version"],
        created=data["created"],
        backend=data["backend"],
    )


def _problem(data: dict[str, Any]) -> str | None:
    for key, kind in (
        ("l4plan_version", str),
        ("created", str),
        ("config_hash", str),
        ("backend", str),
        ("variables", dict),
        ("plan", dict),
    ):
        if not isinstance(data.get(key), kind):
            return f'"{key}" is missing or not a {kind.__name__}'
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(plan_schema()).iter_errors(data["plan"])
    )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "plan"
        return f"{where}: {error.message}"
    return None


def check_fresh(saved: SavedPlan, config: Config, state: State | None) -> None:
    """Raise StalePlanError unless `saved` still applies to this state and configuration."""
    reasons: list[str] = []
    if saved.l4plan_version != __version__:
        reasons.append(f"it was made by l4plan {saved.l4plan_version}, this is {__version__}")
    prior = saved.plan.prior_state
    if prior is None and state is not None:
        reasons.append(
            f"it was made when no state existed, and now there is one "
            f"(lineage {state.lineage}, serial {state.serial})"
        )
    elif prior is not None and state is None:
        reasons.append(
            f"the state it was made against (lineage {prior.lineage}, serial "
            f"{prior.serial}) no longer exists"
        )
    elif prior is not None and state is not None:
        if prior.lineage != state.lineage:
            reasons.append(
                f"the state is a different one (lineage {prior.lineage} in the plan, "
                f"{state.lineage} now)"
            )
        elif prior.serial != state.serial:
            reasons.append(f"the state serial moved from {prior.serial} to {state.serial}")
    if config.content_hash() != saved.config_hash:
        reasons.append("the configuration changed since the plan was made")
    current = _json_values(config.variables)
    changed_vars = sorted(
        name
        for name in set(saved.variables) | set(current)
        if saved.variables.get(name) != current.get(name)
    )
    if changed_vars:
        reasons.append("variable values differ: " + ", ".join(changed_vars))
    if reasons:
        raise StalePlanError(reasons)
