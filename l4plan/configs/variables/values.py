"""Input variable values: from every source, converted to the declared type, validated.

Precedence, lowest first (Terraform's order): the declared `default`, then the
environment (`L4PLAN_VAR_name`), then `*.l4vars` files in the configuration
directory in alphabetical order, then each `--var-file`, then each `--var`.
A later source replaces the whole value of an earlier one.

Values given as text (`--var`, the environment) are taken literally as strings
for primitive types and `any`, and parsed as HCL expressions for collection and
structural types (`--var 'ports=[80, 443]'`), as Terraform does. Every value is
then converted to the declared type; a failure is L4E017 naming the variable and
where the value came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l4plan import codes
from l4plan.configs.hcl.errors import LOAD_ERROR
from l4plan.configs.hcl.sources import VARS_SUFFIX, parse_expression, parse_source, read_text
from l4plan.configs.hcl.syntax import Node, SyntaxProblem
from l4plan.configs.lang.evaluator import Evaluator
from l4plan.configs.lang.references import references
from l4plan.configs.lang.values import (
    TYPE_ERROR,
    Context,
    EvalError,
    Namespace,
    suggest,
    type_name,
)
from l4plan.configs.model import UNKNOWN
from l4plan.configs.variables.declarations import VariableDecl
from l4plan.configs.variables.types import convert
from l4plan.diagnostics import NO_POS, Diagnostic, Pos

REFERENCE_ERROR = codes.REFERENCE
VARIABLE_ERROR = codes.VARIABLE
ENV_PREFIX = "L4PLAN_VAR_"


@dataclass(slots=True)
class _Assignment:
    """One value given for a variable by one source."""

    value: Any
    source: str  # "--var", "environment variable L4PLAN_VAR_x", "prod.l4vars:3"
    pos: Pos


@dataclass(slots=True)
class VariableValues:
    values: dict[str, Any] = field(default_factory=dict)
    sensitive: set[str] = field(default_factory=set)
    files: dict[str, str] = field(default_factory=dict)  # variable files read
    diagnostics: list[Diagnostic] = field(default_factory=list)


def resolve_variables(
    decls: dict[str, VariableDecl],
    directory: Path,
    *,
    var_args: Sequence[str],
    var_files: Sequence[str],
    environ: Mapping[str, str],
    evaluator: Evaluator,
) -> VariableValues:
    """Collect, convert and validate every variable's value."""
    out = VariableValues(sensitive={n for n, d in decls.items() if d.sensitive})
    ctx = Context(roots={}, directory=directory)
    given: dict[str, _Assignment] = {}
    failed: set[str] = set()  # a source gave a value that could not be read

    for name, decl in decls.items():
        text = environ.get(ENV_PREFIX + name)
        if text is not None:
            source = f"environment variable {ENV_PREFIX}{name}"
            value = _from_text(text, decl, source, evaluator, ctx, out)
            if value is _FAILED:
                failed.add(name)
            else:
                given[name] = _Assignment(value, source, decl.pos)

    auto_files = sorted(
        p for p in directory.iterdir() if p.is_file() and p.name.endswith(VARS_SUFFIX)
    )
    for path in auto_files:
        _read_var_file(path, path.name, decls, evaluator, ctx, given, failed, out)
    for name in var_files:
        path = Path(name) if Path(name).is_absolute() else directory / name
        if not path.is_file():
            out.diagnostics.append(
                Diagnostic.at(LOAD_ERROR, f'--var-file "{name}": no such file', Pos(name, 0, 0))
            )
            continue
        _read_var_file(path, name, decls, evaluator, ctx, given, failed, out)

    for arg in var_args:
        name, eq, text = arg.partition("=")
        name = name.strip()
        if not eq or not name:
            out.diagnostics.append(
                Diagnostic.at(LOAD_ERROR, f'--var "{arg}": expected NAME=VALUE', NO_POS)
            )
            continue
        decl = decls.get(name)
        if decl is None:
            out.diagnostics.append(
                Diagnostic.at(
                    REFERENCE_ERROR,
                    f'--var "{name}": no variable "{name}" is declared in this configuration'
                    + suggest(name, decls),
                    NO_POS,
                    f"var.{name}",
                )
            )
            continue
        value = _from_text(text, decl, f'--var "{name}"', evaluator, ctx, out)
        if value is _FAILED:
            failed.add(name)
        else:
            given[name] = _Assignment(value, f'--var "{name}"', decl.pos)

    for name, decl in decls.items():
        if name in failed and name not in given:
            out.values[name] = UNKNOWN  # already reported
            continue
        out.values[name] = _final_value(decl, given.get(name), evaluator, ctx, out)

    _validate(decls, out, evaluator, directory)
    return out


_FAILED = object()
_HIDDEN = "the reason is hidden because the variable is sensitive"


def _sensitive_inputs(expr: Node, values: VariableValues) -> list[str]:
    """The sensitive variables `expr` refers to (outside nonsensitive())."""
    return [
        ref.text()
        for ref in references(expr, frozenset({"nonsensitive"}))
        if ref.root == "var" and ref.steps and ref.steps[0][1] in values.sensitive
    ]


def _from_text(
    text: str,
    decl: VariableDecl,
    source: str,
    evaluator: Evaluator,
    ctx: Context,
    out: VariableValues,
) -> Any:
    if decl.type.is_primitive:
        return text
    try:
        node = parse_expression(text, source)
        if references(node):
            raise EvalError(TYPE_ERROR, "a variable value cannot refer to other values", node.pos)
        return evaluator.eval(node, ctx)
    except (SyntaxProblem, EvalError) as e:
        reason = _HIDDEN if decl.sensitive else e.message
        out.diagnostics.append(
            Diagnostic.at(
                VARIABLE_ERROR,
                f'invalid value for variable "{decl.name}" from {source}: {reason}',
                decl.pos,
                f"var.{decl.name}",
            )
        )
        return _FAILED


def _read_var_file(
    path: Path,
    name: str,
    decls: dict[str, VariableDecl],
    evaluator: Evaluator,
    ctx: Context,
    given: dict[str, _Assignment],
    failed: set[str],
    out: VariableValues,
) -> None:
    text, problem = read_text(path, name)
    if problem is not None or text is None:
        out.diagnostics.append(problem)  # type: ignore[arg-type]
        return
    out.files[name] = text
    body, problem = parse_source(name, text)
    if problem is not None or body is None:
        out.diagnostics.append(problem)  # type: ignore[arg-type]
        return
    for block in body.blocks:
        out.diagnostics.append(
            Diagnostic.at(
                LOAD_ERROR,
                f"a variable file holds only NAME = value lines, not blocks ({block.type})",
                block.pos,
            )
        )
    for attr, first in body.duplicates:
        out.diagnostics.append(
            Diagnostic.at(
                LOAD_ERROR, f'"{attr.name}" is set twice (first at {first.pos})', attr.pos
            )
        )
    for var_name, attr in body.attributes.items():
        decl = decls.get(var_name)
        if decl is None:
            out.diagnostics.append(
                Diagnostic.at(
                    REFERENCE_ERROR,
                    f'{name} sets "{var_name}", but no variable "{var_name}" is declared'
                    + suggest(var_name, decls),
                    attr.pos,
                    f"var.{var_name}",
                )
            )
            continue
        try:
            if references(attr.expr):
                raise EvalError(
                    TYPE_ERROR, "a variable file value cannot refer to other values", attr.expr.pos
                )
            value = evaluator.eval(attr.expr, ctx)
        except EvalError as e:
            out.diagnostics.append(Diagnostic.at(e.code, e.message, e.pos, f"var.{var_name}"))
            failed.add(var_name)
            continue
        given[var_name] = _Assignment(value, f"{attr.pos.file}:{attr.pos.line}", attr.pos)


def _final_value(
    decl: VariableDecl,
    assignment: _Assignment | None,
    evaluator: Evaluator,
    ctx: Context,
    out: VariableValues,
) -> Any:
    address = f"var.{decl.name}"
    default: Any = None
    if decl.default is not None:
        try:
            default = convert(evaluator.eval(decl.default, ctx), decl.type)
        except EvalError as e:
            message = e.shown_message([address] if decl.sensitive else [])
            out.diagnostics.append(Diagnostic.at(e.code, message, e.pos, address))
            return UNKNOWN
        except ValueError as e:
            reason = _HIDDEN if decl.sensitive else str(e)
            out.diagnostics.append(
                Diagnostic.at(
                    VARIABLE_ERROR,
                    f'the default of variable "{decl.name}" is not a {decl.type}: {reason}',
                    decl.default.pos,
                    address,
                )
            )
            return UNKNOWN
    if assignment is None:
        if decl.default is None:
            out.diagnostics.append(
                Diagnostic.at(
                    VARIABLE_ERROR,
                    f'no value for required variable "{decl.name}"; set it with --var '
                    f"{decl.name}=..., a *.l4vars file or {ENV_PREFIX}{decl.name}",
                    decl.pos,
                    address,
                )
            )
            return UNKNOWN
        return default
    try:
        value = convert(assignment.value, decl.type)
    except ValueError as e:
        reason = _HIDDEN if decl.sensitive else str(e)
        out.diagnostics.append(
            Diagnostic.at(
                VARIABLE_ERROR,
                f'invalid value for variable "{decl.name}" from {assignment.source}: '
                f"expected {decl.type}: {reason}",
                assignment.pos,
                address,
            )
        )
        return UNKNOWN
    if value is None and not decl.nullable:
        if default is not None:
            return default
        out.diagnostics.append(
            Diagnostic.at(
                VARIABLE_ERROR,
                f'variable "{decl.name}" is not nullable, but {assignment.source} sets it to null',
                assignment.pos,
                address,
            )
        )
        return UNKNOWN
    return value


def _validate(
    decls: dict[str, VariableDecl], out: VariableValues, evaluator: Evaluator, directory: Path
) -> None:
    ctx = Context(roots={"var": Namespace("variable", "var", out.values)}, directory=directory)
    for name, decl in decls.items():
        if out.values.get(name) is UNKNOWN:
            continue  # already reported
        for v in decl.validations:
            address = f"var.{name}"
            try:
                for ref in references(v.condition):
                    if ref.root != "var":
                        raise EvalError(
                            REFERENCE_ERROR,
                            f"a validation condition can refer only to variables, not {ref.text()}",
                            ref.pos,
                        )
                ok = evaluator.eval(v.condition, ctx)
                if ok is UNKNOWN:
                    continue
                if not isinstance(ok, bool):
                    raise EvalError(
                        TYPE_ERROR,
                        f"a validation condition must be a bool, got {type_name(ok)}",
                        v.condition.pos,
                    )
                if ok:
                    continue
                message = f'invalid value for variable "{name}"'
                if v.error_message is not None and _sensitive_inputs(v.error_message, out):
                    message += " (its error message is hidden: it uses sensitive values)"
                elif v.error_message is not None:
                    text = evaluator.eval(v.error_message, ctx)
                    message = text if isinstance(text, str) else message
                out.diagnostics.append(Diagnostic.at(VARIABLE_ERROR, message, v.pos, address))
            except EvalError as e:
                message = e.shown_message(
                    _sensitive_inputs(v.condition, out)
                    + (
                        _sensitive_inputs(v.error_message, out)
                        if v.error_message is not None
                        else []
                    )
                )
                out.diagnostics.append(Diagnostic.at(e.code, message, e.pos, address))
