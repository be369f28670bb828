"""The RPC JSON Schemas (`schemas/rpc/*.json`) and validation with field paths.

Each method has one schema file holding `$defs/params` and `$defs/result`; the files
reference each other by `$id`, so they are loaded into one `referencing` registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from l4agent.protocols.errors import Detail, detail

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas" / "rpc"
BASE = "https://l4plan.dev/schemas/rpc/"
MAX_DETAILS = 20
_MAX_DESCRIPTION = 300

# JSON-RPC method -> schema file name (without .schema.json)
METHOD_FILES = {
    "Agent.Info": "agent.info",
    "Apps.List": "apps.list",
    "Apps.Get": "apps.get",
    "Config.Apply": "config.apply",
    "Status.Get": "status.get",
    "Health.Check": "health.check",
}


@cache
def registry() -> Registry:
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@cache
def validator(ref: str) -> jsonschema.protocols.Validator:
    """A validator for `ref`, a schema URI relative to schemas/rpc/ ('app_spec.schema.json',
    'config.apply.schema.json#/$defs/params')."""
    schema = {"$ref": BASE + ref}
    cls = jsonschema.Draft202012Validator
    return cls(schema, registry=registry(), format_checker=cls.FORMAT_CHECKER)


def params_validator(method: str) -> jsonschema.protocols.Validator:
    return validator(f"{METHOD_FILES[method]}.schema.json#/$defs/params")


def field_path(path: Iterable[str | int], prefix: str = "") -> str:
    """['upsert', 0, 'spec'] -> 'upsert[0].spec'."""
    out = prefix
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def problems(v: jsonschema.protocols.Validator, instance: Any, prefix: str = "") -> list[Detail]:
    """Every schema violation of `instance` as details, most specific first, at most 20."""
    out: list[Detail] = []
    for error in sorted(v.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        leaf = _leaf(error)
        message = leaf.message
        if len(message) > _MAX_DESCRIPTION:
            message = message[: _MAX_DESCRIPTION - 3] + "..."
        out.append(detail(field_path(leaf.absolute_path, prefix), message))
        if len(out) == MAX_DETAILS:
            break
    return out


def _leaf(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For oneOf/anyOf failures, the most relevant sub-error: the deepest one, so that
    `[[1, 2]]` given for `null | [lo, hi]` reports the bad item rather than "not null"."""
    if not error.context:
        return error
    deepest = max(len(e.absolute_path) for e in error.context)
    if deepest == len(error.absolute_path):
        return error
    best = jsonschema.exceptions.best_match(
        e for e in error.context if len(e.absolute_path) == deepest
    )
    return _leaf(best) if best is not None else error
