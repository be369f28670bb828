"""Values of the expression language and the conversions between them.

Values are str, int, float, bool, None, list, dict, `UNKNOWN` (known only after
apply) and `AgentRef` (what `agent.NAME` evaluates to). Conversions follow
Terraform: arithmetic and comparison accept numeric strings, logic accepts
"true"/"false", `==` never converts (`1 == "1"` is false). Numbers follow the
model in numbers.py. Problems in an expression raise `EvalError` with a
diagnostic code and the position of the offending expression; the caller turns
it into a `Diagnostic`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l4plan import codes
from l4plan.configs.lang.numbers import parse_number
from l4plan.diagnostics import Pos

REFERENCE_ERROR = codes.REFERENCE
TYPE_ERROR = codes.SCHEMA


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


# How deeply lists and objects may nest inside one value. A literal cannot nest
# deeper than the parser's limit allows, but references and functions can build
# deeper values (`l2 = [local.l1]`, jsondecode); every stage after evaluation walks
# values recursively, so a deeper value is an error where it is made.
MAX_VALUE_DEPTH = 100


def too_deep(value: Any) -> bool:
    """Whether lists and objects nest more than MAX_VALUE_DEPTH levels in `value`."""
    if not isinstance(value, list | dict):
        return False
    level: list[Any] = [value]
    for _ in range(MAX_VALUE_DEPTH):
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below.extend(c for c in children if isinstance(c, list | dict))
        if not below:
            return False
        level = below
    return True


TOO_DEEP = f"this value nests lists and objects more than {MAX_VALUE_DEPTH} levels deep; flatten it"


def plain(value: Any) -> Any:
    """A value with agent references turned into plain names, ready for `attrs`."""
    if isinstance(value, AgentRef):
        return str(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def suggest(word: str, choices: Any) -> str:
    """'; did you mean "x"?' for the closest of `choices`, or nothing."""
    import difflib  # only a mistake needs it

    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""
