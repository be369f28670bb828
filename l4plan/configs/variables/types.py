"""Type constraints of variables: `string`, `list(number)`, `object({...})`, and conversion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from l4plan.configs.hcl.syntax import Call, Name, Node, ObjectExpr, TupleExpr
from l4plan.configs.lang.evaluator import Evaluator
from l4plan.configs.lang.values import (
    TYPE_ERROR,
    Context,
    EvalError,
    to_bool,
    to_number,
    to_string,
    type_name,
)
from l4plan.configs.model import UNKNOWN


@dataclass(slots=True, frozen=True)
class TypeSpec:
    """A type constraint: string, number, bool, any, list(T), set(T), map(T), object, tuple."""

    kind: str
    elem: TypeSpec | None = None
    attrs: tuple[tuple[str, TypeSpec, bool, Any], ...] = ()  # (name, type, optional, default)
    elems: tuple[TypeSpec, ...] = ()

    @property
    def is_primitive(self) -> bool:
        return self.kind in ("string", "number", "bool", "any")

    def __str__(self) -> str:
        if self.elem is not None:
            return f"{self.kind}({self.elem})"
        if self.kind == "object":
            inner = ", ".join(
                f"{n} = {'optional(' + str(t) + ')' if opt else t}" for n, t, opt, _ in self.attrs
            )
            return f"object({{{inner}}})"
        if self.kind == "tuple":
            return f"tuple([{', '.join(str(e) for e in self.elems)}])"
        return self.kind


ANY = TypeSpec("any")
_PRIMITIVES = ("string", "number", "bool", "any")
_COLLECTIONS = ("list", "set", "map")


def parse_type(node: Node, evaluator: Evaluator, ctx: Context) -> TypeSpec:
    """Read a type expression (`list(string)`, `object({a = number})`); raises EvalError."""
    if isinstance(node, Name) and node.name in _PRIMITIVES:
        return TypeSpec(node.name)
    if isinstance(node, Call) and node.name in _COLLECTIONS:
        if len(node.args) != 1:
            raise EvalError(TYPE_ERROR, f"{node.name}(...) takes one element type", node.pos)
        return TypeSpec(node.name, elem=parse_type(node.args[0], evaluator, ctx))
    if isinstance(node, Call) and node.name == "object":
        if len(node.args) != 1 or not isinstance(node.args[0], ObjectExpr):
            raise EvalError(
                TYPE_ERROR, "object(...) takes one object such as { name = string }", node.pos
            )
        attrs = []
        for key, value in node.args[0].items:
            name = evaluator.eval(key, ctx)
            optional, default = False, None
            if isinstance(value, Call) and value.name == "optional":
                if not 1 <= len(value.args) <= 2:
                    raise EvalError(
                        TYPE_ERROR, "optional(type, default?) takes one or two arguments", value.pos
                    )
                optional = True
                attr_type = parse_type(value.args[0], evaluator, ctx)
                if len(value.args) == 2:
                    default = convert(evaluator.eval(value.args[1], ctx), attr_type)
            else:
                attr_type = parse_type(value, evaluator, ctx)
            attrs.append((to_string(name), attr_type, optional, default))
        return TypeSpec("object", attrs=tuple(attrs))
    if isinstance(node, Call) and node.name == "tuple":
        if len(node.args) != 1 or not isinstance(node.args[0], TupleExpr):
            raise EvalError(
                TYPE_ERROR, "tuple(...) takes one list of types such as [string, number]", node.pos
            )
        return TypeSpec(
            "tuple", elems=tuple(parse_type(e, evaluator, ctx) for e in node.args[0].items)
        )
    raise EvalError(
        TYPE_ERROR,
        "invalid type; use string, number, bool, any, list(T), set(T), map(T), "
        "object({...}) or tuple([...])",
        node.pos,
    )


def convert(value: Any, t: TypeSpec, path: str = "") -> Any:
    """Convert `value` to type `t` (Terraform's rules); raises ValueError naming the path."""
    where = f" at {path}" if path else ""
    if value is None or value is UNKNOWN or t.kind == "any":
        return value
    try:
        if t.kind == "string":
            if isinstance(value, list | dict):
                raise ValueError(f"a string is required, got {type_name(value)}")
            return to_string(value)
        if t.kind == "number":
            return to_number(value)
        if t.kind == "bool":
            return to_bool(value)
    except ValueError as e:
        raise ValueError(f"{e}{where}") from None
    assert t.elem is not None or t.kind in ("object", "tuple")
    if t.kind in ("list", "set"):
        if not isinstance(value, list):
            raise ValueError(f"a {t.kind} is required, got {type_name(value)}{where}")
        assert t.elem is not None
        items = [convert(v, t.elem, f"{path}[{i}]") for i, v in enumerate(value)]
        if t.kind == "set":
            unique: list[Any] = []
            for item in items:
                if item not in unique:
                    unique.append(item)
            items = sorted(unique) if all(isinstance(i, str) for i in unique) else unique
        return items
    if t.kind == "map":
        if not isinstance(value, dict):
            raise ValueError(f"a map is required, got {type_name(value)}{where}")
        assert t.elem is not None
        return {k: convert(v, t.elem, f"{path}.{k}" if path else k) for k, v in value.items()}
    if t.kind == "object":
        if not isinstance(value, dict):
            raise ValueError(f"an object is required, got {type_name(value)}{where}")
        out = {}
        for name, attr_type, optional, default in t.attrs:
            sub = f"{path}.{name}" if path else name
            if name in value:
                out[name] = convert(value[name], attr_type, sub)
            elif optional:
                out[name] = default
            else:
                raise ValueError(f'attribute "{sub}" is required')
        return out
    # tuple
    if not isinstance(value, list):
        raise ValueError(f"a tuple is required, got {type_name(value)}{where}")
    if len(value) != len(t.elems):
        raise ValueError(f"a tuple of {len(t.elems)} elements is required, got {len(value)}{where}")
    return [
        convert(v, e, f"{path}[{i}]") for i, (v, e) in enumerate(zip(value, t.elems, strict=True))
    ]
