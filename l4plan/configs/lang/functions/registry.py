"""The function registry: how a function declares its arguments and how a call runs.

Each function declares how many arguments it takes. Unless it is marked
`partial`, a call with any argument that is not wholly known returns UNKNOWN
without running; `partial` functions (length, concat, merge, ...) can answer
while list elements or map values are still unknown. Errors become EvalErrors
naming the function, and a numeric result outside the number model is an error
of the call. `can` and `try` are special forms handled by the evaluator, because
they must catch errors of their argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from l4plan.configs.hcl.syntax import Call
from l4plan.configs.lang.numbers import check_range
from l4plan.configs.lang.values import (
    TOO_DEEP,
    TYPE_ERROR,
    Context,
    EvalError,
    to_number,
    to_string,
    too_deep,
    type_name,
)
from l4plan.configs.model import UNKNOWN, is_wholly_known


class FunctionError(Exception):
    """A bad argument: the message says which and why."""


@dataclass(slots=True, frozen=True)
class Function:
    name: str
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: variadic
    signature: str
    partial: bool = False  # may run with unknown elements inside its arguments
    needs_context: bool = False

    def call(self, node: Call, args: list[Any], ctx: Context) -> Any:
        n = len(args)
        if n < self.min_args or (self.max_args is not None and n > self.max_args):
            raise EvalError(
                TYPE_ERROR,
                f"{self.name}() takes {self._arity()}, got {n}; usage: {self.signature}",
                node.pos,
                f"{self.name}()",
            )
        if self.partial:
            if any(a is UNKNOWN for a in args):
                return UNKNOWN
        elif not all(is_wholly_known(a) for a in args):
            return UNKNOWN
        subject = f"{self.name}()"
        try:
            result = self.impl(ctx, *args) if self.needs_context else self.impl(*args)
            check_range(result)
            if too_deep(result):
                raise FunctionError(TOO_DEEP)
        except RecursionError:  # e.g. jsondecode of text nested thousands deep
            raise EvalError(TYPE_ERROR, f"{subject}: {TOO_DEEP}", node.pos, subject) from None
        except (FunctionError, ValueError, OverflowError) as e:
            raise EvalError(TYPE_ERROR, f"{subject}: {e}", node.pos, subject) from None
        return result

    def _arity(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


FUNCTIONS: dict[str, Function] = {}


def register(
    signature: str,
    min_args: int,
    max_args: int | None,
    *,
    partial: bool = False,
    needs_context: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    name = signature.partition("(")[0]

    def wrap(impl: Callable[..., Any]) -> Callable[..., Any]:
        FUNCTIONS[name] = Function(
            name, impl, min_args, max_args, signature, partial, needs_context
        )
        return impl

    return wrap


# ---- argument helpers (for the implementations)


def as_list(value: Any, what: str = "argument") -> list[Any]:
    if isinstance(value, list):
        return value
    raise FunctionError(f"{what} must be a list, got {type_name(value)}")


def as_map(value: Any, what: str = "argument") -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise FunctionError(f"{what} must be a map or object, got {type_name(value)}")


def as_str(value: Any, what: str = "argument") -> str:
    if value is None or isinstance(value, list | dict):
        raise FunctionError(f"{what} must be a string, got {type_name(value)}")
    return to_string(value)


def as_int(value: Any, what: str = "argument") -> int:
    number = to_number(value)
    if not isinstance(number, int) and not (isinstance(number, float) and number.is_integer()):
        raise FunctionError(f"{what} must be a whole number, got {number}")
    return int(number)
