"""Evaluate expression trees (`syntax.Node`) to JSON-like values.

Values are str, int, float, bool, None, list, dict, `UNKNOWN` (known only after
apply) and `AgentRef` (what `agent.NAME` evaluates to). Unknown values propagate:
an operator, function, template or conditional that needs an unknown input gives
UNKNOWN, while a list that merely contains an unknown element stays a list.

Conversions follow Terraform: arithmetic and comparison accept numeric strings,
logic accepts "true"/"false", `==` never converts (`1 == "1"` is false).
Problems raise `EvalError` with a diagnostic code and the position of the
offending expression; the caller turns it into a `Diagnostic`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l4plan.configs.model import UNKNOWN, is_wholly_known
from l4plan.configs.numbers import NumberRangeError, normalize_number, parse_number
from l4plan.configs.syntax import (
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
from l4plan.diagnostics import Pos

REFERENCE_ERROR = "L4E015"
TYPE_ERROR = "L4E016"


class EvalError(Exception):
    """A problem in an expression: its code, message and the position it names.

    `subject` names what failed without quoting any value ("tonumber()",
    'operator "+"'); it is what remains of the message when the expression uses
    sensitive values (see `shown_message`).
    """

    def __init__(self, code: str, message: str, pos: Pos, subject: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.pos = pos
        self.subject = subject

    def shown_message(self, sensitive_inputs: list[str]) -> str:
        """The message, or when `sensitive_inputs` is not empty one that shows no value.

        Any message may quote a value the expression computed (a function's
        argument, an operand, a key), and a value computed from a sensitive one is
        as secret as it; so an error in an expression that uses sensitive values
        keeps only what failed and the names of the sensitive inputs.
        """
        if not sensitive_inputs:
            return self.message
        names = ", ".join(sorted(set(sensitive_inputs)))
        what = f"{self.subject} failed" if self.subject else "this expression failed"
        return (
            f"{what}; the reason is hidden because it may show a sensitive value "
            f"(the expression uses {names})"
        )


class AgentRef(str):
    """`agent.NAME`: behaves as the agent's name, and `agent.NAME.public_ipv4` works."""

    attrs: dict[str, Any]

    def __new__(cls, name: str, attrs: dict[str, Any]) -> AgentRef:
        obj = super().__new__(cls, name)
        obj.attrs = attrs
        return obj


@dataclass(slots=True)
class Namespace:
    """A root such as `var`, `local`, `agent` or a resource type: a named set of values.

    Looking up a missing name is an undeclared reference (L4E015).
    """

    kind: str  # "variable", "local value", "agent", "resource"
    prefix: str  # "var", "local", "agent", "l4_site"
    items: dict[str, Any]


@dataclass(slots=True)
class Context:
    """What an expression can see: its roots and the configuration directory."""

    roots: dict[str, Any]
    directory: Path
    files_read: dict[str, str] = field(default_factory=dict)  # file() reads, by name


# --------------------------------------------------------------------------- conversion


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict | Namespace):
        return "object"
    return type(value).__name__


def to_number(value: Any) -> int | float:
    """Convert to a number like Terraform; raises ValueError with a reason."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"a number is required, got {type_name(value)}")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        number = parse_number(value)  # raises NumberRangeError (a ValueError)
        if number is None:
            raise ValueError(f'a number is required, got string "{value}"')
        return number
    raise ValueError(f"a number is required, got {type_name(value)}")


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    shown = f'string "{value}"' if isinstance(value, str) else type_name(value)
    raise ValueError(f"a bool is required, got {shown}")


def to_string(value: Any) -> str:
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise ValueError(f"a string is required, got {type_name(value)}")


def hcl_equal(a: Any, b: Any) -> bool:
    """Equality without conversion: numbers compare numerically, bools are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return str(a) == str(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(hcl_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(hcl_equal(a[k], b[k]) for k in a)
    return a is None and b is None


def plain(value: Any) -> Any:
    """A value with agent references turned into plain names, ready for `attrs`."""
    if isinstance(value, AgentRef):
        return str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- references


@dataclass(slots=True, frozen=True)
class Reference:
    """A static reference such as `l4_site.main.id`: a root name and literal steps."""

    root: str
    steps: tuple[tuple[str, Any], ...]  # ("attr", name) | ("index", literal key)
    pos: Pos

    def text(self) -> str:
        out = self.root
        for kind, value in self.steps:
            if kind == "attr":
                out += f".{value}"
            else:
                out += f'["{value}"]' if isinstance(value, str) else f"[{value}]"
        return out


def references(node: Node, opaque: frozenset[str] = frozenset()) -> list[Reference]:
    """Every reference in `node` whose root is not a `for` variable.

    References inside calls of the functions named in `opaque` are left out
    (`nonsensitive(...)` for the sensitivity analysis).
    """
    out: list[Reference] = []
    _refs(node, frozenset(), out, opaque)
    return out


def _refs(node: Node, bound: frozenset[str], out: list[Reference], opaque: frozenset[str]) -> None:
    t = type(node)
    if t is Literal:
        return
    if t is Call and node.name in opaque:  # type: ignore[attr-defined]
        return
    if t in (Name, GetAttr, Index, Splat):
        steps: list[tuple[str, Any]] = []
        cur: Node = node
        while True:
            ct = type(cur)
            if ct is GetAttr:
                steps.append(("attr", cur.name))  # type: ignore[attr-defined]
                cur = cur.obj  # type: ignore[attr-defined]
            elif ct is Index:
                key = cur.key  # type: ignore[attr-defined]
                if type(key) is Literal:
                    steps.append(("index", key.value))  # type: ignore[attr-defined]
                else:
                    _refs(key, bound, out, opaque)
                    steps.clear()
                cur = cur.obj  # type: ignore[attr-defined]
            elif ct is Splat:
                for kind, op in cur.ops:  # type: ignore[attr-defined]
                    if kind == "index":
                        _refs(op, bound, out, opaque)
                steps.clear()
                cur = cur.obj  # type: ignore[attr-defined]
            elif ct is Name:
                if cur.name not in bound:  # type: ignore[attr-defined]
                    steps.reverse()
                    out.append(Reference(cur.name, tuple(steps), cur.pos))  # type: ignore[attr-defined]
                return
            else:
                _refs(cur, bound, out, opaque)
                return
    for child, inner in _children(node, bound):
        _refs(child, inner, out, opaque)


def _children(node: Node, bound: frozenset[str]) -> Iterator[tuple[Node, frozenset[str]]]:
    if isinstance(node, Template):
        for part in node.parts:
            if not isinstance(part, str):
                yield part, bound
    elif isinstance(node, TemplateIf):
        yield node.cond, bound
        for part in [*node.then, *node.orelse]:
            if not isinstance(part, str):
                yield part, bound
    elif isinstance(node, TemplateFor):
        yield node.collection, bound
        inner = bound | {node.value_var} | ({node.key_var} if node.key_var else set())
        for part in node.body:
            if not isinstance(part, str):
                yield part, inner
    elif isinstance(node, TupleExpr):
        for item in node.items:
            yield item, bound
    elif isinstance(node, ObjectExpr):
        for key, value in node.items:
            yield key, bound
            yield value, bound
    elif isinstance(node, Call):
        for arg in node.args:
            yield arg, bound
    elif isinstance(node, Unary):
        yield node.operand, bound
    elif isinstance(node, Binary):
        yield node.left, bound
        yield node.right, bound
    elif isinstance(node, Conditional):
        yield node.cond, bound
        yield node.then, bound
        yield node.orelse, bound
    elif isinstance(node, ForExpr):
        yield node.collection, bound
        inner = bound | {node.value_var} | ({node.key_var} if node.key_var else set())
        for sub in (node.key, node.value, node.cond):
            if sub is not None:
                yield sub, inner


def calls(node: Node) -> Iterator[Call]:
    """Every function call in `node` (for static checks such as sensitivity)."""
    if isinstance(node, Call):
        yield node
    for child, _ in _children(node, frozenset()):
        yield from calls(child)
    if isinstance(node, GetAttr):
        yield from calls(node.obj)
    elif isinstance(node, Index):
        yield from calls(node.obj)
        yield from calls(node.key)
    elif isinstance(node, Splat):
        yield from calls(node.obj)
        for kind, op in node.ops:
            if kind == "index":
                yield from calls(op)


# --------------------------------------------------------------------------- evaluation

_ARITHMETIC = {"+", "-", "*", "/", "%"}
_COMPARISON = {"<", ">", "<=", ">="}


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
        raise EvalError(REFERENCE_ERROR, _unknown_name_message(node.name), node.pos)

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
                    part.then
                    if self._bool(cond, part.cond.pos, "an %{if} condition")
                    else part.orelse
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
        return self.attr_of(self.eval(node.obj, ctx, b), node.name, node)

    def attr_of(self, obj: Any, name: str, node: Node) -> Any:
        if obj is UNKNOWN:
            return UNKNOWN
        at = node.name_pos if isinstance(node, GetAttr) else node.pos
        if isinstance(obj, Namespace):
            if name in obj.items:
                return obj.items[name]
            raise EvalError(
                REFERENCE_ERROR,
                f'reference to undeclared {obj.kind} "{obj.prefix}.{name}"'
                + suggest(name, obj.items),
                at,
            )
        if isinstance(obj, AgentRef):
            obj = obj.attrs
        if isinstance(obj, dict):
            if name in obj:
                return obj[name]
            raise EvalError(
                _missing(node),
                f'{describe(_base(node))} has no attribute "{name}"' + suggest(name, obj),
                at,
            )
        if isinstance(obj, list) and name.isdigit():
            return self.index_of(obj, int(name), node)
        raise EvalError(
            TYPE_ERROR,
            f'cannot read attribute "{name}" of {describe(_base(node))}: it is a {type_name(obj)}'
            + (", not an object; use [*] or an index first" if isinstance(obj, list) else ""),
            at,
        )

    def _index(self, node: Index, ctx: Context, b: dict[str, Any]) -> Any:
        obj = self.eval(node.obj, ctx, b)
        key = self.eval(node.key, ctx, b)
        return self.index_of(obj, key, node)

    def index_of(self, obj: Any, key: Any, node: Node) -> Any:
        if obj is UNKNOWN or key is UNKNOWN:
            return UNKNOWN
        at = node.key.pos if isinstance(node, Index) else node.pos
        if isinstance(obj, Namespace):
            return self.attr_of(
                obj, to_string(key) if not isinstance(key, list | dict) else "?", node
            )
        if isinstance(obj, AgentRef):
            obj = obj.attrs
        if isinstance(obj, list):
            try:
                i = to_number(key)
            except ValueError as e:
                raise EvalError(TYPE_ERROR, f"invalid index: {e}", at) from None
            if not isinstance(i, int) or isinstance(i, bool):
                raise EvalError(TYPE_ERROR, f"invalid index {key!r}: must be a whole number", at)
            if i < 0 or i >= len(obj):
                raise EvalError(
                    _missing(node),
                    f"index {i} is out of range for {describe(_base(node))}, "
                    f"which has {len(obj)} element{'s' if len(obj) != 1 else ''}",
                    at,
                )
            return obj[i]
        if isinstance(obj, dict):
            try:
                k = to_string(key)
            except ValueError as e:
                raise EvalError(TYPE_ERROR, f"invalid key: {e}", at) from None
            if k in obj:
                return obj[k]
            raise EvalError(
                _missing(node),
                f'{describe(_base(node))} has no element "{k}"' + suggest(k, obj),
                at,
            )
        raise EvalError(
            TYPE_ERROR, f"cannot index {describe(_base(node))}: it is a {type_name(obj)}", at
        )

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
                    value = self.attr_of(value, op, node)
                else:
                    value = self.index_of(value, self.eval(op, ctx, b), node)
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
                if not self._bool(cond, node.cond.pos, "a for expression's if clause"):
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

    def _bool(self, value: Any, pos: Pos, what: str) -> bool:
        try:
            return to_bool(value)
        except ValueError as e:
            raise EvalError(TYPE_ERROR, f"{what}: {e}", pos, what) from None

    def _number(self, value: Any, pos: Pos, op: str) -> int | float:
        try:
            return to_number(value)
        except ValueError as e:
            raise EvalError(TYPE_ERROR, f'operator "{op}": {e}', pos, f'operator "{op}"') from None

    def _unary(self, node: Unary, ctx: Context, b: dict[str, Any]) -> Any:
        value = self.eval(node.operand, ctx, b)
        if value is UNKNOWN:
            return UNKNOWN
        if node.op == "!":
            return not self._bool(value, node.operand.pos, 'operator "!"')
        return -self._number(value, node.operand.pos, "-")  # the range is symmetric

    def _binary(self, node: Binary, ctx: Context, b: dict[str, Any]) -> Any:
        op = node.op
        left = self.eval(node.left, ctx, b)
        right = self.eval(node.right, ctx, b)
        if op in ("==", "!="):
            if not (is_wholly_known(left) and is_wholly_known(right)):
                return UNKNOWN
            equal = hcl_equal(left, right)
            return equal if op == "==" else not equal
        if left is UNKNOWN or right is UNKNOWN:
            # still report a type error on the known side
            for side, sub in ((left, node.left), (right, node.right)):
                if side is not UNKNOWN:
                    self._operand(op, side, sub.pos)
            return UNKNOWN
        a = self._operand(op, left, node.left.pos)
        c = self._operand(op, right, node.right.pos)
        if op == "&&":
            return a and c
        if op == "||":
            return a or c
        if op in _ARITHMETIC:
            return self._arithmetic(op, a, c, node)
        if op == "<":
            return a < c
        if op == ">":
            return a > c
        if op == "<=":
            return a <= c
        return a >= c

    def _arithmetic(self, op: str, a: int | float, c: int | float, node: Binary) -> int | float:
        subject = f'operator "{op}"'
        if op in ("/", "%") and c == 0:
            raise EvalError(TYPE_ERROR, f"{subject}: division by zero", node.right.pos, subject)
        try:
            if op == "+":
                return normalize_number(a + c)
            if op == "-":
                return normalize_number(a - c)
            if op == "*":
                return normalize_number(a * c)
            if op == "/":
                return normalize_number(a / c)
            if isinstance(a, float) or isinstance(c, float):
                return normalize_number(math.fmod(a, c))
            return _int_mod(a, c)
        except (NumberRangeError, OverflowError):
            raise EvalError(
                TYPE_ERROR, f"{subject}: the result is out of range", node.pos, subject
            ) from None

    def _operand(self, op: str, value: Any, pos: Pos) -> Any:
        if op in ("&&", "||"):
            return self._bool(value, pos, f'operator "{op}"')
        return self._number(value, pos, op)

    def _conditional(self, node: Conditional, ctx: Context, b: dict[str, Any]) -> Any:
        cond = self.eval(node.cond, ctx, b)
        if cond is UNKNOWN:
            return UNKNOWN
        chosen = node.then if self._bool(cond, node.cond.pos, "the condition") else node.orelse
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


def _int_mod(a: int | float, c: int | float) -> int | float:
    """Remainder with the sign of the dividend (Terraform's `%`, unlike Python's)."""
    r = abs(a) % abs(c)
    return -r if a < 0 else r


def _missing(node: Node) -> str:
    """The code for a missing attribute or element: L4E015 on a reference, else L4E016."""
    while isinstance(node, GetAttr | Index | Splat):
        node = node.obj
    return REFERENCE_ERROR if isinstance(node, Name) else TYPE_ERROR


def _base(node: Node) -> Node:
    """The expression an attribute or index is taken from (for messages)."""
    if isinstance(node, GetAttr | Index | Splat):
        return node.obj
    return node


def describe(node: Node) -> str:
    """Source-like text of a traversal, for messages: l4_site.main, var.x[0]."""
    if isinstance(node, Name):
        return node.name
    if isinstance(node, GetAttr):
        return f"{describe(node.obj)}.{node.name}"
    if isinstance(node, Index):
        if isinstance(node.key, Literal):
            key = node.key.value
            return (
                f'{describe(node.obj)}["{key}"]'
                if isinstance(key, str)
                else f"{describe(node.obj)}[{key}]"
            )
        return f"{describe(node.obj)}[...]"
    if isinstance(node, Splat):
        return f"{describe(node.obj)}[*]"
    if isinstance(node, Call):
        return f"{node.name}(...)"
    return "this value"


def suggest(word: str, choices: Any) -> str:
    """'; did you mean "x"?' for the closest of `choices`, or nothing."""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def _unknown_name_message(name: str) -> str:
    return (
        f'unknown name "{name}": a reference starts with var., local., agent., '
        "a resource type (l4_site, l4_application, ...), count. or each."
    )
