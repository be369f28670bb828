"""The plan: what l4plan will do, resource by resource.

A `Plan` is pure data. `diff.build_plan` makes one; the `render_*` modules print
it; `planfile` saves and loads it. Attribute values are JSON-like with `UNKNOWN`
(from `l4plan.configs.model`) for values known only after apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from l4plan.diagnostics import Diagnostic, has_errors
from l4plan.dns.records import RecordAction

PlanMode = Literal["normal", "destroy", "refresh-only"]
# A path into an attribute value: attribute names and list indexes.
Path = tuple[str | int, ...]
# What a change does on one agent that the resource is (or was) placed on.
AgentAction = Literal["create", "update", "replace", "delete", "no-op"]


class Action(Enum):
    """A resource action, valued as Terraform's JSON action list."""

    NOOP = ("no-op",)
    CREATE = ("create",)
    UPDATE = ("update",)
    DELETE = ("delete",)
    DELETE_CREATE = ("delete", "create")  # replace: destroy, then create
    CREATE_DELETE = ("create", "delete")  # replace under create_before_destroy

    @property
    def actions(self) -> list[str]:
        return list(self.value)

    @classmethod
    def from_actions(cls, actions: list[str]) -> Action:
        for member in cls:
            if list(member.value) == actions:
                return member
        raise ValueError(f"unknown action list {actions!r}")

    @property
    def is_replace(self) -> bool:
        return self in (Action.DELETE_CREATE, Action.CREATE_DELETE)

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def adds(self) -> int:
        return 1 if self in (Action.CREATE, Action.DELETE_CREATE, Action.CREATE_DELETE) else 0

    @property
    def changes(self) -> int:
        return 1 if self is Action.UPDATE else 0

    @property
    def destroys(self) -> int:
        return 1 if self in (Action.DELETE, Action.DELETE_CREATE, Action.CREATE_DELETE) else 0


_SYMBOLS = {
    Action.NOOP: " ",
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DELETE: "-",
    Action.DELETE_CREATE: "-/+",
    Action.CREATE_DELETE: "+/-",
}


@dataclass(slots=True)
class ResourceChange:
    """The planned change of one resource instance (or, in drift, what changed outside).

    `before` is the recorded attributes (None when creating), `after` the planned
    attributes (None when deleting) with `UNKNOWN` where only apply will tell.
    Sensitive values are marked by paths; renderers mask them.
    """

    address: str
    type: str
    name: str
    index_key: int | str | None
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    before_sensitive: set[Path] = field(default_factory=set)
    after_sensitive: set[Path] = field(default_factory=set)
    # attributes whose change forces the replacement, e.g. [("domain",)]
    replace_paths: list[Path] = field(default_factory=list)
    # top-level attributes whose value changes (update and replace)
    changed_attributes: list[str] = field(default_factory=list)
    # agent name -> what happens there
    agents: dict[str, AgentAction] = field(default_factory=dict)
    # DNS record set ("play.example.com A") -> what happens to it, by name and type
    dns: dict[str, RecordAction] = field(default_factory=dict)
    # addresses this change depends on: configuration references for creations and
    # updates, the state's recorded dependencies for deletions
    dependencies: list[str] = field(default_factory=list)
    # why, when the action alone does not say it (Terraform's action_reason)
    action_reason: str | None = None
    # the address a moved block moved it from (Terraform's previous_address)
    previous_address: str | None = None
    # the application's domain when an import block imports it (Terraform's importing.id)
    importing: str | None = None

    @property
    def moves_or_imports(self) -> bool:
        """Whether the state changes for it even when nothing else does."""
        return self.previous_address is not None or self.importing is not None

    @property
    def resource_address(self) -> str:
        return f"{self.type}.{self.name}"


@dataclass(slots=True)
class OutputChange:
    name: str
    action: Action  # CREATE, UPDATE, DELETE or NOOP
    before: Any
    after: Any
    sensitive: bool = False


@dataclass(frozen=True, slots=True)
class StateRef:
    """Which state a plan was made against."""

    lineage: str
    serial: int


@dataclass(frozen=True, slots=True)
class Summary:
    add: int
    change: int
    destroy: int


@dataclass(slots=True)
class Plan:
    mode: PlanMode = "normal"
    # in apply order: creations and updates after what they depend on, deletions
    # before what they depended on; no-ops included (renderers skip them)
    changes: list[ResourceChange] = field(default_factory=list)
    # changes made outside l4plan: prior state vs refreshed state
    drift: list[ResourceChange] = field(default_factory=list)
    output_changes: list[OutputChange] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    prior_state: StateRef | None = None
    targets: list[str] = field(default_factory=list)

    @property
    def errored(self) -> bool:
        return has_errors(self.diagnostics)

    @property
    def resource_actions(self) -> list[ResourceChange]:
        """The changes that do something (no-ops left out)."""
        return [c for c in self.changes if c.action is not Action.NOOP]

    @property
    def shown_changes(self) -> list[ResourceChange]:
        """The changes a plan shows: those that act, and those moved or imported."""
        return [c for c in self.changes if c.action is not Action.NOOP or c.moves_or_imports]

    @property
    def imports(self) -> int:
        """How many instances import blocks import (Terraform's "N to import")."""
        return sum(1 for c in self.changes if c.importing is not None)

    @property
    def summary(self) -> Summary:
        acting = self.resource_actions
        return Summary(
            add=sum(c.action.adds for c in acting),
            change=sum(c.action.changes for c in acting),
            destroy=sum(c.action.destroys for c in acting),
        )

    @property
    def output_actions(self) -> list[OutputChange]:
        return [o for o in self.output_changes if o.action is not Action.NOOP]

    @property
    def has_changes(self) -> bool:
        """Whether applying this plan would change anything (state included)."""
        if self.mode == "refresh-only":
            return bool(self.drift)
        return bool(self.shown_changes or self.output_actions)
