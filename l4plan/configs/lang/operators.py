"""The operators: `!` and unary `-`, arithmetic, comparison, equality and logic.

Each takes values already evaluated (the evaluator evaluates the operands) and the
node, for positions. Arithmetic and comparison convert numeric strings, logic
accepts "true"/"false", `==` never converts, `%` takes the sign of the dividend;
a result outside the number model (numbers.py) is an error at the operator.
"""

from __future__ import annotations

import math
from typing import Any

from l4plan.configs.hcl.syntax import Binary, Unary
from l4plan.configs.lang.numbers import NumberRangeError, normalize_number
from l4plan.configs.lang.values import TYPE_ERROR, EvalError, hcl_equal, to_bool, to_number
from l4plan.configs.model import UNKNOWN, is_wholly_known
from l4plan.diagnostics import Pos

ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})


def bool_of(value: Any, pos: Pos, what: str) -> bool:
    """`value` as a bool, or an error naming `what` needed it ("the condition")."""
    try:
        return to_bool(value)
    except ValueError as e:
        raise EvalError(TYPE_ERROR, f"{what}: {e}", pos, what) from None


def _number_of(value: Any, pos: Pos, op: str) -> int | float:
    try:
        return to_number(value)
    except ValueError as e:
        raise EvalError(TYPE_ERROR, f'operator "{op}": {e}', pos, f'operator "{op}"') from None


def unary(node: Unary, value: Any) -> Any:
    if value is UNKNOWN:
        return UNKNOWN
    if node.op == "!":
        return not bool_of(value, node.operand.pos, 'operator "!"')
    return -_number_of(value, node.operand.pos, "-")  # the range is symmetric


def binary(node: Binary, left: Any, right: Any) -> Any:
    op = node.op
    if op in ("==", "!="):
        if not (is_wholly_known(left) and is_wholly_known(right)):
            return UNKNOWN
        equal = hcl_equal(left, right)
        return equal if op == "==" else not equal
    if left is UNKNOWN or right is UNKNOWN:
        # still report a type error on the known side
        for side, sub in ((left, node.left), (right, node.right)):
            if side is not UNKNOWN:
                _operand(op, side, sub.pos)
        return UNKNOWN
    a = _operand(op, left, node.left.pos)
    c = _operand(op, right, node.right.pos)
    if op == "&&":
        return a and c
    if op == "||":
        return a or c
    if op in ARITHMETIC:
        return _arithmetic(op, a, c, node)
    if op == "<":
        return a < c
    if op == ">":
        return a > c
    if op == "<=":
        return a <= c
    return a >= c


def _arithmetic(op: str, a: int | float, c: int | float, node: Binary) -> int | float:
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


def _operand(op: str, value: Any, pos: Pos) -> Any:
    if op in ("&&", "||"):
        return bool_of(value, pos, f'operator "{op}"')
    return _number_of(value, pos, op)


def _int_mod(a: int | float, c: int | float) -> int | float:
    """Remainder with the sign of the dividend (Terraform's `%`, unlike Python's)."""
    r = abs(a) % abs(c)
    return -r if a < 0 else r
