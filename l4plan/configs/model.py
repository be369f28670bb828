"""The evaluated configuration: what `configs` hands to every later stage.

Values are plain JSON-like Python values (str, int, float, bool, None, list, dict)
with one addition, `UNKNOWN`, for values that are only known after apply. Unknown
values propagate through expressions; later stages print them as
"(known after apply)".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from l4plan.diagnostics import NO_POS, Diagnostic, Pos

RESOURCE_TYPES = ("l4_site", "l4_ip_access_rule", "l4_load_balancer", "l4_application")

# Nested blocks per resource type: "single" blocks evaluate to a dict (a second
# occurrence is an L4E016 error), "list" blocks to a list of dicts in source order.
NESTED_BLOCKS: dict[str, dict[str, Literal["single", "list"]]] = {
    "l4_site": {"ddos_protection": "single", "dns": "single"},
    "l4_ip_access_rule": {},
    "l4_load_balancer": {"origin": "list", "health_check": "single"},
    "l4_application": {"rule": "list"},
}

# Write-only attributes (Terraform 1.11's term): always sensitive, and the state and
# plans record a digest of the value, never the value (a site's TSIG secret, docs/dns.md).
WRITE_ONLY: dict[str, tuple[str, ...]] = {"l4_site": ("dns.tsig_key.secret",)}

META_ARGUMENTS = ("count", "for_each", "depends_on", "lifecycle")


class _Unknown:
    """A value that will only be known after apply. A singleton."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


def digest_write_only(type_: str, attrs: dict[str, Any]) -> None:
    """Replace the write-only values of `attrs` (a resource of `type_`) with their
    SHA-256: a changed value is still a change, but no plan or state holds it."""
    for dotted in WRITE_ONLY.get(type_, ()):
        *parents, leaf = dotted.split(".")
        node: Any = attrs
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(leaf), str):
            node[leaf] = "sha256:" + hashlib.sha256(node[leaf].encode()).hexdigest()


def instance_key_suffix(key: int | str | None) -> str:
    """`[0]`, `["eu"]` or nothing: how every address of an instance writes its key, in
    the configuration, the plan and the state alike (a string key as a JSON string,
    so a quote or backslash in it stays parseable and non-ASCII stays as written)."""
    if key is None:
        return ""
    return f"[{json.dumps(key, ensure_ascii=False)}]" if isinstance(key, str) else f"[{key}]"


def is_wholly_known(value: Any) -> bool:
    """True when no part of `value` (searched recursively) is UNKNOWN."""
    if value is UNKNOWN:
        return False
    if isinstance(value, dict):
        return all(is_wholly_known(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(is_wholly_known(v) for v in value)
    return True


@dataclass(slots=True)
class Lifecycle:
    prevent_destroy: bool = False
    create_before_destroy: bool = False
    # attribute names (top level, or dotted paths such as "rule") whose changes are
    # ignored; ["*"] means `ignore_changes = all`
    ignore_changes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AgentConfig:
    """An `agent "NAME" { ... }` block: a proxy-agent endpoint (like a provider)."""

    name: str
    endpoint: str | None  # None when the block has none (a schema error, L4E016)
    token: str | None = None
    ca_file: str | None = None
    public_ipv4: str | None = None
    public_ipv6: str | None = None
    pos: Pos = NO_POS
    attr_pos: dict[str, Pos] = field(default_factory=dict)
    # attributes whose values derive from sensitive inputs
    sensitive: set[str] = field(default_factory=set)


@dataclass(slots=True)
class ResourceInstance:
    """One instance of a resource block after count/for_each expansion.

    `attrs` holds evaluated attributes, nested blocks per NESTED_BLOCKS, and the
    deterministic `id` (docs/configuration.md, "Computed attributes"). References
    to agents (`agents = [agent.hz1]`) are stored as agent names (`["hz1"]`).
    """

    address: str  # e.g. l4_application.game["eu"] or l4_site.main or l4_x.y[0]
    type: str
    name: str
    key: int | str | None
    attrs: dict[str, Any]
    pos: Pos
    # dotted path -> position of the value: "domain", "rule.0" (the block),
    # "rule.0.edge_port", "sources.1" (an element of a list written in place)
    attr_pos: dict[str, Pos] = field(default_factory=dict)
    # dotted attribute path -> position of the attribute's name
    name_pos: dict[str, Pos] = field(default_factory=dict)
    # instance addresses this instance depends on (references and depends_on)
    depends_on: list[str] = field(default_factory=list)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    # dotted attribute paths whose values derive from sensitive inputs
    sensitive: set[str] = field(default_factory=set)

    @property
    def resource_address(self) -> str:
        """The address without the instance key: l4_application.game."""
        return f"{self.type}.{self.name}"

    def is_sensitive(self, path: str) -> bool:
        """Whether the value at a dotted path is, contains or lies in a sensitive value."""
        return any(
            not path or p == path or p.startswith(path + ".") or path.startswith(p + ".")
            for p in self.sensitive
        )

    def name_pos_of(self, path: str) -> Pos:
        """Position of the name of the attribute at a dotted path (else of its value)."""
        return self.name_pos.get(path) or self.pos_of(path)

    def pos_of(self, path: str) -> Pos:
        """Position of a dotted attribute path, falling back to its nearest parent."""
        while path:
            if path in self.attr_pos:
                return self.attr_pos[path]
            path = path.rpartition(".")[0]
        return self.pos


@dataclass(slots=True)
class OutputValue:
    name: str
    value: Any
    sensitive: bool = False
    description: str = ""
    pos: Pos = NO_POS


@dataclass(frozen=True, slots=True)
class MovedBlock:
    """A `moved { from = ...  to = ... }` block: instance or resource addresses,
    written as the state writes them (`l4_application.a`, `l4_application.a["x"]`)."""

    from_address: str
    to_address: str
    pos: Pos = NO_POS

    def feeds(self, then: MovedBlock) -> bool:
        """Whether this move puts objects where `then` moves objects from: the same
        resource, and the same instance unless one of the two addresses names the
        whole resource (Terraform chains equal addresses and orders an instance after
        the move of its resource). Both the cycle check and the order the plan moves
        state in use it."""
        to_resource, _, to_key = self.to_address.partition("[")
        from_resource, _, from_key = then.from_address.partition("[")
        return to_resource == from_resource and (not to_key or not from_key or to_key == from_key)


@dataclass(frozen=True, slots=True)
class ImportBlock:
    """One import target: an `import { to = ...  id = ... }` block, or one instance
    of an import block with `for_each`. `id` is the application's domain."""

    to_address: str
    id: str
    pos: Pos = NO_POS


# backend type -> the options its block may set: checked when the configuration is
# read (L4E016) and again when a backend is opened from it
BACKEND_OPTIONS = {"local": ("path",), "pg": ("conn_str", "schema_name")}


@dataclass(slots=True)
class BackendConfig:
    type: str = "local"  # local | pg
    options: dict[str, Any] = field(default_factory=dict)
    pos: Pos = NO_POS


@dataclass(slots=True)
class Config:
    """A loaded and evaluated configuration directory."""

    directory: Path
    files: dict[str, str] = field(default_factory=dict)  # file name -> source text
    backend: BackendConfig = field(default_factory=BackendConfig)
    required_version: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    sensitive_variables: set[str] = field(default_factory=set)
    agents: dict[str, AgentConfig] = field(default_factory=dict)
    resources: dict[str, ResourceInstance] = field(default_factory=dict)  # by address
    outputs: dict[str, OutputValue] = field(default_factory=dict)
    moved: list[MovedBlock] = field(default_factory=list)
    imports: list[ImportBlock] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def content_hash(self) -> str:
        """A hash of every configuration file, for detecting stale plan files."""
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + self.files[name].encode() + b"\0")
        return h.hexdigest()

    def of_type(self, type_: str) -> list[ResourceInstance]:
        return [r for r in self.resources.values() if r.type == type_]
