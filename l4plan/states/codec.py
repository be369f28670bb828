"""State JSON: validation against schemas/state.schema.json, parsing and serialising."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from l4plan.jsontext import dumps, loads
from l4plan.states.errors import CorruptStateError, StateError
from l4plan.states.model import STATE_VERSION, State

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "state.schema.json"


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def load_state_json(text: str, *, source: str) -> State:
    """Parse and validate state text; `source` names where it came from in error messages."""
    try:
        data = loads(text)
        # a number too large for a float (1e400) reads as infinity, which no state
        # write could hold again: refuse it here, naming where it is
        dumps(data)
    except ValueError as e:
        raise CorruptStateError(f"{source}: the state is not valid JSON ({e})") from None
    return state_from_json(data, source=source)


def state_from_json(data: Any, *, source: str) -> State:
    """Validate already-decoded state JSON (the pg backend stores it as jsonb)."""
    if not isinstance(data, dict):
        raise CorruptStateError(f"{source}: the state is not a JSON object")
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > STATE_VERSION:
        writer = data.get("l4plan_version") or "a newer l4plan"
        raise StateError(
            f"{source}: the state has format version {version}, written by l4plan {writer}; "
            f"this l4plan understands version {STATE_VERSION} only. Upgrade l4plan; "
            "the state was left untouched."
        )
    error = _first_error(data)
    if error is not None:
        raise CorruptStateError(f"{source}: the state is invalid: {error}")
    seen: set[str] = set()
    for resource in data["resources"]:
        if resource["address"] in seen:
            raise CorruptStateError(
                f"{source}: the state is invalid: resource {resource['address']} appears twice"
            )
        seen.add(resource["address"])
    return State.from_json(data)


def dump_state_json(state: State) -> str:
    """Serialise a state; refuses (StateError) anything that would not load back."""
    data = state.to_json()
    try:
        text = dumps(data, indent=2, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise StateError(
            f"cannot serialise the state: {e} (attribute values must be JSON values, "
            "known after apply)"
        ) from None
    error = _first_error(data)
    if error is not None:
        raise StateError(f"refusing to write an invalid state: {error}")
    return text + "\n"


def _first_error(data: Any) -> str | None:
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is None:
        return None
    where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"at {where.lstrip('.') or 'top level'}: {error.message}"
