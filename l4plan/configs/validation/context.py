"""What every constraint check needs: indexes of the configuration and small helpers.

Constraints run only on resources (and rule blocks) that passed their schema, so
attribute types are right; but every resource, valid or not, is indexed by id so that
a reference to an invalid site is not reported a second time as a missing one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from l4plan import codes
from l4plan.configs.model import UNKNOWN, Config, ResourceInstance
from l4plan.configs.validation.schema import SENSITIVE_VALUE, SchemaFailures
from l4plan.diagnostics import Diagnostic, Pos, Severity

_QUOTED = re.compile(r'"([^"]*)"')


def _value_at(attrs: dict[str, Any], path: str) -> Any:
    value: Any = attrs
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _masked(message: str, value: Any) -> str:
    """`message` without the sensitive `value`: quoted parts of it and the value itself.

    Constraint messages quote what they check ("domain "x"", "label "x""), often a
    part of the value, so every quoted text found inside the value is hidden.
    """
    text = value if isinstance(value, str) else str(value)
    if not text:
        return message
    message = _QUOTED.sub(
        lambda m: (
            SENSITIVE_VALUE if m.group(1) and m.group(1).lower() in text.lower() else m.group(0)
        ),
        message,
    )
    return message.replace(text, SENSITIVE_VALUE)


def known(value: Any) -> bool:
    return value is not UNKNOWN


def rule_label(index: int) -> str:
    return f"rule[{index}]"


@dataclass(slots=True)
class Context:
    config: Config
    failed: SchemaFailures
    sites: dict[str, ResourceInstance] = field(default_factory=dict)  # by id, valid only
    invalid_ids: set[str] = field(default_factory=set)  # ids of resources that failed
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _lines: dict[str, list[str]] = field(default_factory=dict)
    _site_of: dict[str, ResourceInstance | None] = field(default_factory=dict)

    @classmethod
    def build(cls, config: Config, failed: SchemaFailures) -> Context:
        ctx = cls(config, failed)
        for resource in config.resources.values():
            rid = resource.attrs.get("id")
            if not isinstance(rid, str):
                continue
            if resource.address in failed.addresses:
                ctx.invalid_ids.add(rid)
            elif resource.type == "l4_site":
                ctx.sites.setdefault(rid, resource)
        return ctx

    def valid(self, type_: str) -> list[ResourceInstance]:
        """Instances of `type_` that passed their schema, in configuration order."""
        return [r for r in self.config.of_type(type_) if r.address not in self.failed.addresses]

    def rules(self, app: ResourceInstance) -> list[tuple[int, dict[str, Any]]]:
        """(index, rule) of the application's rule blocks that passed their schema."""
        failed = self.failed.rules.get(app.address, set())
        return [(i, rule) for i, rule in enumerate(app.attrs.get("rule", [])) if i not in failed]

    def report(
        self,
        code: str,
        message: str,
        resource: ResourceInstance,
        path: str = "",
        *,
        pos: Pos | None = None,
        severity: Severity = "error",
    ) -> None:
        where = pos or (resource.pos_of(path) if path else resource.pos)
        if path and resource.is_sensitive(path):
            message = _masked(message, _value_at(resource.attrs, path))
        self.diagnostics.append(Diagnostic.at(code, message, where, resource.address, severity))

    def site_of(self, resource: ResourceInstance) -> ResourceInstance | None:
        """The valid site `resource.site` names; reports a missing site (L4E015).

        None when the site is unknown until apply, failed its own schema check, or is
        missing (reported here, once per resource).
        """
        if resource.address not in self._site_of:
            self._site_of[resource.address] = self._find_site(resource)
        return self._site_of[resource.address]

    def _find_site(self, resource: ResourceInstance) -> ResourceInstance | None:
        site_id = resource.attrs.get("site")
        if not isinstance(site_id, str):
            return None
        site = self.sites.get(site_id)
        if site is None and site_id not in self.invalid_ids:
            names = ", ".join(f'"{s}"' for s in sorted(self.sites)) or "none"
            self.report(
                codes.REFERENCE,
                f'site "{site_id}" is not the name of any l4_site in this configuration'
                f" (sites: {names}); reference one, e.g. site = l4_site.main.id",
                resource,
                "site",
            )
        return site

    def value_pos(self, resource: ResourceInstance, path: str, text: str, offset: int) -> Pos:
        """The position of character `offset` (1-based) inside the string literal `text`.

        Used to put the caret on the bad item of a port expression. When the value is
        not written literally on the attribute's line (it comes from a variable), the
        attribute's own position is the best there is.
        """
        pos = resource.pos_of(path)
        if pos.file not in self._lines:
            self._lines[pos.file] = self.config.files.get(pos.file, "").splitlines()
        lines = self._lines[pos.file]
        if not 1 <= pos.line <= len(lines):
            return pos
        start = lines[pos.line - 1].find(f'"{text}"', max(pos.column - 1, 0))
        if start < 0:
            return pos
        return Pos(pos.file, pos.line, start + 1 + offset)
