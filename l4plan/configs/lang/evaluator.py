"""Evaluate expression trees (`hcl.syntax.Node`) to values (see values.py).

Unknown values propagate: an operator, function, template or conditional that
needs an unknown input gives UNKNOWN, while a list that merely contains an
unknown element stays a list. Operators live in operators.py, attribute and
index access in traversal.py, the functions in functions/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from l4plan.configs.hcl.syntax import (
    Binary,
    Call,
    Conditional,
    ForExpr,
    GetAttr,
    Index,
    Literal,
    Name,
    Node,
    ObjectExpr,
    Splat,
    Template,
    TemplateFor,
    TemplateIf,
    TupleExpr,
    Unary,
)
from l4plan.configs.lang.operators import binary, bool_of, unary
from l4plan.configs.lang.traversal import attr_of, index_of, unknown_name_message
from l4plan.configs.lang.values import (
    REFERENCE_ERROR,
    TYPE_ERROR,
    Context,
    EvalError,
    suggest,
    to_string,
    type_name,
)
from l4plan.configs.model import UNKNOWN, is_wholly_known
from l4plan.diagnostics import Pos


class Evaluator:
    """Evaluates nodes against a `Context`; `bindings` holds `for` variables."""

    def __init__(self, functions: dict[str, Any]):
        self.functions = functions
        self._dispatch: dict[type, Callable[[Any, Context, dict[str, Any]], Any]] = {
            Literal: self._literal,
            Template: self._template,
            Name: self._name,
            GetAttr: self._get_attr,
            Index: self._index,
            Splat: self._splat,
            TupleExpr: self._tuple,
            ObjectExpr: self._object,
            Call: self._call,
            Unary: self._unary,
            Binary: self._binary,
            Conditional: self._conditional,
            ForExpr: self._for,
        }

    def eval(self, node: Node, ctx: Context, bindings: dict[str, Any] | None = None) -> Any:
        return self._dispatch[type(node)](node, ctx, bindings or {})

    # ---- leaves

    def _literal(self, node: Literal, ctx: Context, b: dict[str, Any]) -> Any:
        return node.value

    def _name(self, node: Name, ctx: Context, b: dict[str, Any]) -> Any:
        if node.name in b:
            return b[node.name]
        if node.name in ctx.roots:
            return ctx.roots[node.name]
        raise EvalError(REFERENCE_ERROR, unknown_name_message(node.name), node.pos)

    # ---- templates

    def _template(self, node: Template, ctx: Context, b: dict[str, Any]) -> Any:
        out: list[str] = []
        unknown = not self._render(node.parts, ctx, b, out)
        return UNKNOWN if unknown else "".join(out)

    def _render(
        self, parts: list[str | Node], ctx: Context, b: dict[str, Any], out: list[str]
    ) -> bool:
        """Append the text of `parts` to `out`; False when some part is unknown."""
        known = True
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, TemplateIf):
                cond = self.eval(part.cond, ctx, b)
                if cond is UNKNOWN:
                    known = False
                    continue
                branch = (
                    part.then if bool_of(cond, part.cond.pos, "an %{if} condition") else part.orelse
                )
                known = self._render(branch, ctx, b, out) and known
            elif isinstance(part, TemplateFor):
                coll = self.eval(part.collection, ctx, b)
                if coll is UNKNOWN:
                    known = False
                    continue
                for key, value in self._iterate(coll, part.collection.pos):
                    inner = dict(b)
                    inner[part.value_var] = value
                    if part.key_var:
                        inner[part.key_var] = key
                    known = self._render(part.body, ctx, inner, out) and known
            else:
                value = self.eval(part, ctx, b)
                if not is_wholly_known(value):
                    known = False
                    continue
                try:
                    out.append(to_string(value))
                except ValueError:
                    raise EvalError(
                        TYPE_ERROR,
                        f"cannot insert a {type_name(value)} into a string template; "
                        "only strings, numbers and bools can be interpolated",
                        part.pos,
                    ) from None
        return known

    # ---- traversal

    def _get_attr(self, node: GetAttr, ctx: Context, b: dict[str, Any]) -> Any:
        return attr_of(self.eval(node.obj, ctx, b), node.name, node)

    def _index(self, node: Index, ctx: Context, b: dict[str, Any]) -> Any:
        obj = self.eval(node.obj, ctx, b)
        key = self.eval(node.key, ctx, b)
        return index_of(obj, key, node)

    def _splat(self, node: Splat, ctx: Context, b: dict[str, Any]) -> Any:
        obj = self.eval(node.obj, ctx, b)
        if obj is UNKNOWN:
            return UNKNOWN
        if obj is None:
            return []
        items = obj if isinstance(obj, list) else [obj]
        out = []
        for item in items:
            value = item
            for kind, op in node.ops:
                if kind == "attr":
                    value = attr_of(value, op, node)
                else:
                    value = index_of(value, self.eval(op, ctx, b), node)
            out.append(value)
        return out

    # ---- collections

    def _tuple(self, node: TupleExpr, ctx: Context, b: dict[str, Any]) -> Any:
        return [self.eval(item, ctx, b) for item in node.items]

    def _object(self, node: ObjectExpr, ctx: Context, b: dict[str, Any]) -> Any:
        out: dict[str, Any] = {}
        for key_node, value_node in node.items:
            key = self.eval(key_node, ctx, b)
            if key is UNKNOWN:
                return UNKNOWN
            k = self._key(key, key_node.pos)
            if k in out:
                raise EvalError(TYPE_ERROR, f'duplicate object key "{k}"', key_node.pos)
            out[k] = self.eval(value_node, ctx, b)
        return out

    def _key(self, key: Any, pos: Pos) -> str:
        try:
            return to_string(key)
        except ValueError:
            raise EvalError(
                TYPE_ERROR, f"an object key must be a string, got {type_name(key)}", pos
            ) from None

    def _for(self, node: ForExpr, ctx: Context, b: dict[str, Any]) -> Any:
        coll = self.eval(node.collection, ctx, b)
        if coll is UNKNOWN:
            return UNKNOWN
        items: list[Any] = []
        obj: dict[str, Any] = {}
        for key, value in self._iterate(coll, node.collection.pos):
            inner = dict(b)
            inner[node.value_var] = value
            if node.key_var:
                inner[node.key_var] = key
            if node.cond is not None:
                cond = self.eval(node.cond, ctx, inner)
                if cond is UNKNOWN:
                    return UNKNOWN
                if not bool_of(cond, node.cond.pos, "a for expression's if clause"):
                    continue
            if node.key is None:
                items.append(self.eval(node.value, ctx, inner))
                continue
            k_value = self.eval(node.key, ctx, inner)
            if k_value is UNKNOWN:
                return UNKNOWN
            k = self._key(k_value, node.key.pos)
            value_out = self.eval(node.value, ctx, inner)
            if node.group:
                obj.setdefault(k, []).append(value_out)
            elif k in obj:
                raise EvalError(
                    TYPE_ERROR,
                    f'duplicate key "{k}" in a for expression; add "..." after the value '
                    "to group values by key",
                    node.key.pos,
                )
            else:
                obj[k] = value_out
        return items if node.key is None else obj

    def _iterate(self, coll: Any, pos: Pos) -> Iterator[tuple[Any, Any]]:
        if isinstance(coll, list):
            return iter(enumerate(coll))
        if isinstance(coll, dict):
            return iter((k, coll[k]) for k in sorted(coll))
        raise EvalError(
            TYPE_ERROR, f"a for expression needs a list or a map, got {type_name(coll)}", pos
        )

    # ---- operators

    def _unary(self, node: Unary, ctx: Context, b: dict[str, Any]) -> Any:
        return unary(node, self.eval(node.operand, ctx, b))

    def _binary(self, node: Binary, ctx: Context, b: dict[str, Any]) -> Any:
        return binary(node, self.eval(node.left, ctx, b), self.eval(node.right, ctx, b))

    def _conditional(self, node: Conditional, ctx: Context, b: dict[str, Any]) -> Any:
        cond = self.eval(node.cond, ctx, b)
        if cond is UNKNOWN:
            return UNKNOWN
        chosen = node.then if bool_of(cond, node.cond.pos, "the condition") else node.orelse
        return self.eval(chosen, ctx, b)

    # ---- functions

    def _call(self, node: Call, ctx: Context, b: dict[str, Any]) -> Any:
        if node.name in ("can", "try"):
            return self._special(node, ctx, b)
        fn = self.functions.get(node.name)
        if fn is None:
            raise EvalError(
                TYPE_ERROR,
                f'unknown function "{node.name}"' + suggest(node.name, self.functions),
                node.pos,
            )
        args = [self.eval(a, ctx, b) for a in node.args]
        if node.expand_last:
            if not args:
                raise EvalError(TYPE_ERROR, '"..." needs an argument to expand', node.pos)
            last = args.pop()
            if last is UNKNOWN:
                return UNKNOWN
            if not isinstance(last, list):
                raise EvalError(
                    TYPE_ERROR,
                    f'"..." expands a list, got {type_name(last)}',
                    node.args[-1].pos,
                )
            args.extend(last)
        return fn.call(node, args, ctx)

    def _special(self, node: Call, ctx: Context, b: dict[str, Any]) -> Any:
        if not node.args or (node.name == "can" and len(node.args) != 1):
            expects = "exactly one argument" if node.name == "can" else "at least one argument"
            raise EvalError(TYPE_ERROR, f"{node.name}() expects {expects}", node.pos)
        for arg in node.args:
            try:
                value = self.eval(arg, ctx, b)
            except EvalError:
                continue
            if value is UNKNOWN:
                return UNKNOWN
            return True if node.name == "can" else value
        if node.name == "can":
            return False
        raise EvalError(
            TYPE_ERROR,
            "try(): every argument failed; add a fallback value as the last argument",
            node.pos,
        )
