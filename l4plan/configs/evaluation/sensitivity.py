"""Which values derive from sensitive inputs, tracked statically per reference.

An expression is sensitive when it refers to a sensitive variable, to a local,
agent attribute or resource attribute derived from one, or calls `sensitive()`;
`nonsensitive()` hides what it wraps. Each evaluation phase records what it
found sensitive (`locals`, `agent_attributes`, `resource_paths`) before later
phases refer to it, in dependency order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from l4plan.configs.hcl.syntax import Body, Node
from l4plan.configs.lang.references import Reference, calls, references
from l4plan.configs.model import META_ARGUMENTS, RESOURCE_TYPES, WRITE_ONLY

_SENSITIVE_CALL = re.compile(r"\bsensitive\s*\(")


@dataclass(slots=True)
class Sensitivity:
    variables: set[str]
    # whether resource TYPE.NAME sets count or for_each (its references then index first)
    is_expanded: Callable[[str], bool]
    # False when no variable is sensitive and no source mentions sensitive(): then
    # nothing can be, and the analysis is skipped on large configurations
    possible: bool = True
    locals: set[str] = field(default_factory=set)
    agent_attributes: dict[str, set[str]] = field(default_factory=dict)
    resource_paths: dict[str, set[str]] = field(default_factory=dict)  # TYPE.NAME -> paths

    @classmethod
    def of(
        cls, variables: set[str], sources: Iterable[str], is_expanded: Callable[[str], bool]
    ) -> Sensitivity:
        possible = bool(variables) or any(_SENSITIVE_CALL.search(text) for text in sources)
        return cls(variables, is_expanded, possible)

    def is_sensitive(self, expr: Node) -> bool:
        return bool(self.inputs(expr))

    def inputs(self, expr: Node) -> list[str]:
        """What makes `expr` sensitive: its sensitive references and sensitive() calls."""
        if not self.possible:
            return []
        out = [
            ref.text()
            for ref in references(expr, frozenset({"nonsensitive"}))
            if self._reference(ref)
        ]
        if any(call.name == "sensitive" for call in calls(expr)):
            out.append("sensitive()")
        return out

    def resource_body_paths(self, type_: str, body: Body, nested: Mapping[str, str]) -> set[str]:
        """`body_paths` of a resource block, with its type's write-only paths when the
        block that holds them is written (references to them are then sensitive too, so
        the analysis cannot be skipped)."""
        blocks = {b.type for b in body.blocks}
        always = {path for path in WRITE_ONLY.get(type_, ()) if path.split(".")[0] in blocks}
        if always:
            self.possible = True
        return self.body_paths(body, nested) | always

    def body_paths(self, body: Body, nested: Mapping[str, str], prefix: str = "") -> set[str]:
        """Dotted paths of the attributes of a resource body that are sensitive."""
        out: set[str] = set()
        for name, attr in body.attributes.items():
            if name not in META_ARGUMENTS and self.is_sensitive(attr.expr):
                out.add(prefix + name)
        counts: dict[str, int] = {}
        for block in body.blocks:
            if block.type == "lifecycle" and not prefix:
                continue
            if nested.get(block.type, "list") == "single":
                path = f"{prefix}{block.type}"
            else:
                path = f"{prefix}{block.type}.{counts.get(block.type, 0)}"
                counts[block.type] = counts.get(block.type, 0) + 1
            out |= self.body_paths(block.body, {}, path + ".")
        return out

    def _reference(self, ref: Reference) -> bool:
        steps = [v for _, v in ref.steps]
        if ref.root == "var":
            return bool(steps) and steps[0] in self.variables
        if ref.root == "local":
            return bool(steps) and steps[0] in self.locals
        if ref.root == "agent":
            attrs = self.agent_attributes.get(str(steps[0]), set()) if steps else set()
            return len(steps) > 1 and steps[1] in attrs
        if ref.root in RESOURCE_TYPES and steps:
            key = f"{ref.root}.{steps[0]}"
            paths = self.resource_paths.get(key, set())
            if not paths:
                return False
            rest = list(ref.steps[1:])
            if self.is_expanded(key) and rest and rest[0][0] == "index":
                rest = rest[1:]
            path = ".".join(str(v) for _, v in rest)
            return not path or any(
                p == path or p.startswith(path + ".") or path.startswith(p + ".") for p in paths
            )
        return False
