"""What the evaluation phases share: the values evaluated so far, and how errors are told.

`Scope.roots` are what expressions see (`var`, `local`, `agent`, each resource
type); the phases fill `locals`, `agents` and `resources` in dependency order.
`Scope.eval` is the one place where an expression's error becomes a diagnostic,
so the rule that no diagnostic shows a sensitive value holds for every
function, operator and reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l4plan.configs.evaluation.sensitivity import Sensitivity
from l4plan.configs.hcl.syntax import Attribute, Node
from l4plan.configs.lang.evaluator import Evaluator
from l4plan.configs.lang.references import Reference, references
from l4plan.configs.lang.values import (
    TOO_DEEP,
    TYPE_ERROR,
    AgentRef,
    Context,
    EvalError,
    Namespace,
    to_bool,
    too_deep,
    type_name,
)
from l4plan.configs.model import RESOURCE_TYPES, UNKNOWN, ResourceInstance, instance_key_suffix
from l4plan.diagnostics import Diagnostic, Pos


@dataclass(slots=True)
class Scope:
    directory: Path
    evaluator: Evaluator
    variables: dict[str, Any]
    sensitivity: Sensitivity
    diagnostics: list[Diagnostic]
    files_read: dict[str, str]  # where file() records what it read
    locals: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, AgentRef] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {t: {} for t in RESOURCE_TYPES}
    )
    instances: dict[str, list[str]] = field(default_factory=dict)  # TYPE.NAME -> addresses
    dependencies: dict[str, list[str]] = field(default_factory=dict)  # key -> instances
    sites_by_id: dict[str, ResourceInstance] = field(default_factory=dict)
    roots: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.roots = {
            "var": Namespace("variable", "var", self.variables),
            "local": Namespace("local value", "local", self.locals),
            "agent": Namespace("agent", "agent", self.agents),
        }
        for type_ in RESOURCE_TYPES:
            self.roots[type_] = Namespace("resource", type_, self.resources[type_])

    def resource_dependencies(self, refs: list[Reference]) -> list[str]:
        """Resource instances `refs` point at, directly or through locals evaluated before."""
        out: dict[str, None] = {}
        for ref in refs:
            if ref.root == "local" and ref.steps:
                out.update(dict.fromkeys(self.dependencies.get(f"local.{ref.steps[0][1]}", [])))
            elif ref.root in RESOURCE_TYPES and ref.steps:
                key = f"{ref.root}.{ref.steps[0][1]}"
                all_instances = self.instances.get(key, [])
                if len(ref.steps) > 1 and ref.steps[1][0] == "index":
                    address = key + instance_key_suffix(ref.steps[1][1])
                    if address in all_instances:
                        out[address] = None
                        continue
                out.update(dict.fromkeys(all_instances))
        return list(out)

    def error(self, code: str, message: str, pos: Pos, address: str = "") -> None:
        self.diagnostics.append(Diagnostic.at(code, message, pos, address))

    def ctx(self, extra: dict[str, Any] | None = None) -> Context:
        roots = self.roots if not extra else {**self.roots, **extra}
        return Context(roots=roots, directory=self.directory, files_read=self.files_read)

    def eval(self, expr: Node, ctx: Context, address: str = "", failed: Any = UNKNOWN) -> Any:
        """The value of `expr`, or `failed` after reporting why it has none."""
        try:
            value = self.evaluator.eval(expr, ctx)
        except EvalError as e:
            self.report(e, expr, address)
            return failed
        if too_deep(value):
            self.error(TYPE_ERROR, TOO_DEEP, expr.pos, address)
            return failed
        return value

    def report(self, e: EvalError, expr: Node, address: str) -> None:
        """Turn the error of `expr` into a diagnostic that shows no sensitive value."""
        self.error(e.code, e.shown_message(self.sensitivity.inputs(expr)), e.pos, address)

    # ---- settings that may use only literals and variables

    def eval_static(self, attr: Attribute, address: str = "") -> Any:
        """Evaluate a setting that may use only variables; UNKNOWN after a diagnostic."""
        ctx = Context(roots={"var": self.roots["var"]}, directory=self.directory)
        try:
            for ref in references(attr.expr):
                if ref.root != "var":
                    raise EvalError(
                        TYPE_ERROR,
                        f'"{attr.name}" can use only literal values and variables, '
                        f"not {ref.text()}",
                        ref.pos,
                    )
            return self.evaluator.eval(attr.expr, ctx)
        except EvalError as e:
            self.report(e, attr.expr, address)
            return UNKNOWN

    def static_string(self, attr: Attribute, address: str) -> str | None:
        """A string from literals and variables; None when unknown or (reported) not a string."""
        value = self.eval_static(attr, address)
        if isinstance(value, str):
            return value
        if value is not UNKNOWN:
            self.error(
                TYPE_ERROR,
                f"{attr.name} must be a string, got {type_name(value)}",
                attr.expr.pos,
                address,
            )
        return None

    def static_bool(self, attr: Attribute, address: str) -> bool:
        value = self.eval_static(attr, address)
        if value is UNKNOWN:
            return False
        try:
            return to_bool(value)
        except ValueError as e:
            self.error(TYPE_ERROR, f"{attr.name}: {e}", attr.expr.pos, address)
            return False
