"""JSON-Schema checks of evaluated resources and agent blocks (L4E016).

Each resource type has a schema in `schemas/resources/<type>.schema.json` (Draft
2020-12), compiled once. jsonschema errors are phrased for a human and placed at the
attribute's source position via `ResourceInstance.pos_of`. Values only known after
apply (`UNKNOWN`) are never reported: they cannot be checked at plan time.

jsonschema (pure Python) costs about 1.5 ms for an application with 30 rules, so when
the `jsonschema-rs` validator is installed it answers "valid?" first (~10 µs) and
jsonschema only explains the instances it rejects. Both implement Draft 2020-12; the
results are the same, only the time differs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from l4plan import codes
from l4plan.configs.lang.values import suggest, type_name
from l4plan.configs.model import UNKNOWN, AgentConfig, Config, ResourceInstance
from l4plan.diagnostics import Diagnostic, Pos

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "resources"
AGENT_SCHEMA = "agent"
AGENT_ATTRIBUTES = ("endpoint", "token", "ca_file", "public_ipv4", "public_ipv6")

_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "a bool",
    "array": "a list",
    "object": "a block or object",
    "null": "null",
}
_FORMAT_NAMES = {"ipv4": "an IPv4 address", "ipv6": "an IPv6 address"}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema of a resource type (or `agent`), as stored in schemas/resources/."""
    with open(SCHEMA_DIR / f"{name}.schema.json", encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


@cache
def declared_attributes(type_: str, block: str = "") -> tuple[str, ...]:
    """Attribute names a resource type's schema declares, or one of its nested blocks'.

    Unset ones read as null in references.
    """
    schema = load_schema(type_)
    node = schema
    if block:
        node = schema.get("properties", {}).get(block, {})
        node = node.get("items", node)
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            node = schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
    return tuple(node.get("properties", {}))


@cache
def validator_for(name: str) -> Draft202012Validator:
    """The explaining validator, imported only when an instance has been rejected."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@cache
def _fast_validator(name: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(load_schema(name), validate_formats=True)


def _surely_valid(name: str, instance: dict[str, Any]) -> bool:
    """True when the fast validator accepts `instance`; False when it rejects or cannot tell.

    Top-level UNKNOWN values are left out (they are never reported, and leaving an
    attribute out can only make an instance less valid); a nested UNKNOWN cannot be
    converted, so such instances take the slow path.
    """
    fast = _fast_validator(name)
    known = {key: value for key, value in instance.items() if value is not UNKNOWN}
    try:
        return bool(fast.is_valid(known))
    except ValueError:
        return False


def human_path(path: Sequence[str | int]) -> str:
    """`["rule", 0, "edge_port"]` → `rule[0].edge_port`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def dotted_path(path: Sequence[str | int]) -> str:
    """`["rule", 0, "edge_port"]` → `rule.0.edge_port` (the key of `attr_pos`)."""
    return ".".join(str(p) for p in path)


SENSITIVE_VALUE = "(sensitive value)"


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, dict | list) else type_name(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _typed(value: Any) -> str:
    """`string "x"`, `number 5`, `null`, `list`: a value with its type, each said once."""
    if value is None or isinstance(value, dict | list):
        return type_name(value)
    return f"{type_name(value)} {_show(value)}"


def _where(path: Sequence[str | int]) -> str:
    return f" in {human_path(path)}" if path else ""


def _messages(error: ValidationError, sensitive: bool) -> list[tuple[list[str | int], str]]:
    """(path of the offending attribute, message) pairs for one jsonschema error.

    When the value is `sensitive`, the messages say what is wrong without showing it.
    """
    if sensitive:
        show: Callable[[Any], str] = lambda _: SENSITIVE_VALUE  # noqa: E731
        typed: Callable[[Any], str] = lambda v: f"a sensitive {type_name(v)}"  # noqa: E731
    else:
        show, typed = _show, _typed
    path = list(error.absolute_path)
    name = human_path(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind, instance = error.validator, error.instance
    if kind == "additionalProperties":
        known = schema.get("properties", {})
        return [
            (
                [*path, key],
                f'unknown attribute "{key}"{_where(path)}{suggest(key, known)}',
            )
            for key in instance
            if key not in known
        ]
    if kind == "required":
        missing = [key for key in error.validator_value if key not in instance]
        return [(path, f'missing required attribute "{key}"{_where(path)}') for key in missing]
    if kind == "type":
        wanted = error.validator_value
        wanted = wanted if isinstance(wanted, list) else [wanted]
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        return [(path, f"{name} must be {expected}, not {typed(instance)}")]
    if kind == "enum":
        choices = ", ".join(json.dumps(c) for c in error.validator_value)
        hint = "" if sensitive else suggest(str(instance), error.validator_value)
        return [(path, f"{name} must be one of {choices}, not {show(instance)}{hint}")]
    if kind in ("pattern", "format") and "errorMessage" in schema:
        return [(path, f"{name} {schema['errorMessage']}, not {show(instance)}")]
    if kind == "format":
        what = _FORMAT_NAMES.get(error.validator_value, f"valid {error.validator_value}")
        return [(path, f"{name} must be {what}, not {show(instance)}")]
    if kind == "minimum":
        return [(path, f"{name} must be at least {error.validator_value}, not {show(instance)}")]
    if kind == "maximum":
        return [(path, f"{name} must be at most {error.validator_value}, not {show(instance)}")]
    if kind == "minItems":
        return [(path, f"{name} needs at least {error.validator_value} item(s)")]
    if kind == "uniqueItems":
        seen: set[str] = set()
        dupes = [v for v in map(json.dumps, instance) if v in seen or seen.add(v)]
        dupe = dupes[0] if dupes and not sensitive else "an item"
        return [(path, f"{name} lists {dupe} more than once")]
    if kind in ("maxLength", "minLength"):
        bound = "at most" if kind == "maxLength" else "at least"
        return [(path, f"{name} must be {bound} {error.validator_value} characters long")]
    if sensitive:
        return [(path, f"{name or 'resource'}: {SENSITIVE_VALUE} does not match the schema")]
    return [(path, f"{name or 'resource'}: {error.message}")]


def _diagnostics(
    errors: Iterable[ValidationError],
    pos_of: Callable[[str], Pos],
    address: str,
    sensitive: Callable[[str], bool],
    name_pos_of: Callable[[str], Pos] | None = None,
) -> list[tuple[list[str | int], Diagnostic]]:
    """(attribute path, diagnostic) per problem; repeats and UNKNOWN values left out.

    `sensitive(dotted path)` tells whether the value there derives from sensitive input.
    Problems point at the value (`pos_of`), an unknown attribute at its name
    (`name_pos_of`).
    """
    out: dict[tuple[str, str], tuple[list[str | int], Diagnostic]] = {}
    for error in errors:
        if error.instance is UNKNOWN:
            continue
        secret = sensitive(dotted_path(list(error.absolute_path)))
        at = name_pos_of if name_pos_of and error.validator == "additionalProperties" else pos_of
        for path, message in _messages(error, secret):
            dotted = dotted_path(path)
            diag = Diagnostic.at(codes.SCHEMA, message, at(dotted), address)
            out.setdefault((dotted, message), (path, diag))
    return list(out.values())


def _resource_problems(resource: ResourceInstance) -> list[tuple[list[str | int], Diagnostic]]:
    if _surely_valid(resource.type, resource.attrs):
        return []
    errors = validator_for(resource.type).iter_errors(resource.attrs)
    return _diagnostics(
        errors, resource.pos_of, resource.address, resource.is_sensitive, resource.name_pos_of
    )


def check_resource(resource: ResourceInstance) -> list[Diagnostic]:
    """Schema diagnostics (L4E016) of one resource instance."""
    return [diag for _, diag in _resource_problems(resource)]


def agent_attributes(agent: AgentConfig) -> dict[str, Any]:
    """The attributes an agent block sets, as the agent schema sees them."""
    values = {name: getattr(agent, name) for name in AGENT_ATTRIBUTES}
    return {name: value for name, value in values.items() if value is not None}


def check_agent(agent: AgentConfig) -> list[Diagnostic]:
    """Schema diagnostics (L4E016) of one agent block."""

    def pos_of(path: str) -> Pos:
        return agent.attr_pos.get(path.partition(".")[0], agent.pos)

    attributes = agent_attributes(agent)
    if _surely_valid(AGENT_SCHEMA, attributes):
        return []
    errors = validator_for(AGENT_SCHEMA).iter_errors(attributes)

    def sensitive(path: str) -> bool:
        return path.partition(".")[0] in agent.sensitive or (not path and bool(agent.sensitive))

    return [diag for _, diag in _diagnostics(errors, pos_of, f"agent.{agent.name}", sensitive)]


@dataclass(slots=True)
class SchemaFailures:
    """What failed its schema, so the constraint checks can leave it alone.

    A problem inside one `rule` block of an application only takes that rule out of
    the constraint checks; any other problem takes out the whole resource.
    """

    addresses: set[str] = field(default_factory=set)
    rules: dict[str, set[int]] = field(default_factory=dict)  # address -> rule indexes


def check_schemas(config: Config) -> tuple[list[Diagnostic], SchemaFailures]:
    """Schema diagnostics of every agent and resource, and what failed."""
    diags: list[Diagnostic] = []
    failures = SchemaFailures()
    for agent in config.agents.values():
        diags.extend(check_agent(agent))
    for resource in config.resources.values():
        for path, diag in _resource_problems(resource):
            diags.append(diag)
            if len(path) >= 2 and path[0] == "rule" and isinstance(path[1], int):
                failures.rules.setdefault(resource.address, set()).add(path[1])
            else:
                failures.addresses.add(resource.address)
    return diags, failures
