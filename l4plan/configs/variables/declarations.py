"""Reading a `variable "NAME" { ... }` block: its type, default, flags and validations."""

from __future__ import annotations

from dataclasses import dataclass, field

from l4plan.configs.hcl.syntax import Block, Node
from l4plan.configs.lang.evaluator import Evaluator
from l4plan.configs.lang.references import references
from l4plan.configs.lang.values import (
    TYPE_ERROR,
    Context,
    EvalError,
    to_bool,
    to_string,
)
from l4plan.configs.variables.types import ANY, TypeSpec, parse_type
from l4plan.diagnostics import Diagnostic, Pos


@dataclass(slots=True)
class Validation:
    condition: Node
    error_message: Node | None
    pos: Pos


@dataclass(slots=True)
class VariableDecl:
    name: str
    pos: Pos
    type: TypeSpec = ANY
    default: Node | None = None
    description: str = ""
    sensitive: bool = False
    nullable: bool = True
    validations: list[Validation] = field(default_factory=list)


_VARIABLE_ATTRS = ("type", "default", "description", "sensitive", "nullable")


def declare_variable(
    block: Block, evaluator: Evaluator, ctx: Context
) -> tuple[VariableDecl, list[Diagnostic]]:
    """Read a `variable "NAME" { ... }` block (its type, default and flags are static)."""
    decl = VariableDecl(block.labels[0], block.pos)
    diags: list[Diagnostic] = []
    address = f"var.{decl.name}"
    for name, attr in block.body.attributes.items():
        try:
            if name not in _VARIABLE_ATTRS:
                raise EvalError(
                    TYPE_ERROR,
                    f'unknown attribute "{name}" in variable "{decl.name}"; '
                    f"expected {', '.join(_VARIABLE_ATTRS)} or a validation block",
                    attr.pos,
                )
            if name == "type":
                decl.type = parse_type(attr.expr, evaluator, ctx)
                continue
            if references(attr.expr):
                raise EvalError(
                    TYPE_ERROR,
                    f'the {name} of variable "{decl.name}" must be a literal value; '
                    "it cannot refer to other values",
                    attr.expr.pos,
                )
            if name == "default":
                decl.default = attr.expr
                continue
            value = evaluator.eval(attr.expr, ctx)
            if name == "description":
                decl.description = to_string(value)
            elif name == "sensitive":
                decl.sensitive = to_bool(value)
            else:
                decl.nullable = to_bool(value)
        except EvalError as e:
            diags.append(Diagnostic.at(e.code, e.message, e.pos, address))
        except ValueError as e:
            diags.append(
                Diagnostic.at(
                    TYPE_ERROR, f"{name} of variable {decl.name}: {e}", attr.expr.pos, address
                )
            )
    for sub in block.body.blocks:
        if sub.type != "validation":
            diags.append(
                Diagnostic.at(
                    TYPE_ERROR,
                    f'unknown block "{sub.type}" in variable "{decl.name}"',
                    sub.pos,
                    address,
                )
            )
            continue
        cond = sub.body.attributes.get("condition")
        if cond is None:
            diags.append(
                Diagnostic.at(TYPE_ERROR, 'a validation block needs "condition"', sub.pos, address)
            )
            continue
        unknown = set(sub.body.attributes) - {"condition", "error_message"}
        for name in sorted(unknown):
            diags.append(
                Diagnostic.at(
                    TYPE_ERROR,
                    f'unknown attribute "{name}" in a validation block; '
                    "expected condition and error_message",
                    sub.body.attributes[name].pos,
                    address,
                )
            )
        message = sub.body.attributes.get("error_message")
        decl.validations.append(Validation(cond.expr, message.expr if message else None, cond.pos))
    return decl, diags
