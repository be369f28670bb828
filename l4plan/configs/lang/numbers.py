"""The number model of the configuration language.

HCL numbers are arbitrary precision; l4plan's are the values a 64-bit float can
hold: a number is a whole number (kept exact, as a Python int) or a float, and
its magnitude is at most `MAX_MAGNITUDE` (1.7976931348623157e308). Anything
larger (`1e400`, a 400-digit integer, `1e308 * 10`) is out of range and a
diagnostic where it is written or computed, never infinity or NaN, so every
value can be written as strict JSON. docs/configuration.md states the rule.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal, InvalidOperation

MAX_MAGNITUDE = sys.float_info.max
# A whole number within range has at most this many digits (10**309 > MAX_MAGNITUDE).
_MAX_DIGITS = 309


class NumberRangeError(ValueError):
    """A number that is not finite or larger in magnitude than MAX_MAGNITUDE."""


def out_of_range(text: str) -> NumberRangeError:
    shown = text if len(text) <= 30 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"
    return NumberRangeError(
        f"the number {shown} is out of range; numbers are at most {MAX_MAGNITUDE:g} in magnitude"
    )


def normalize_number(value: float | int) -> int | float:
    """A whole float below 2**63 becomes an int, so `4 / 2` is 2; raises when out of range."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise out_of_range(repr(value))
        if value.is_integer() and abs(value) < 2**63:
            return int(value)
        return value
    if abs(value) > MAX_MAGNITUDE:
        raise out_of_range(_int_text(value))
    return value


def check_range(value: object) -> None:
    """Raise NumberRangeError when `value` is a number outside the model."""
    if type(value) is float and not (math.isfinite(value) and abs(value) <= MAX_MAGNITUDE):
        raise out_of_range(repr(value))
    if type(value) is int and abs(value) > MAX_MAGNITUDE:
        raise out_of_range(_int_text(value))


def literal_number(text: str) -> int | float:
    """The value of a number literal (`80`, `2.5`, `1e3`); whole values are exact."""
    digits = text.lstrip("+-")
    if digits.isdigit():
        if len(digits.lstrip("0")) > _MAX_DIGITS:
            raise out_of_range(text)
        return normalize_number(int(text))
    try:
        exact = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not exact.is_finite() or abs(exact) > Decimal(MAX_MAGNITUDE):
        raise out_of_range(text)
    if exact == exact.to_integral_value():
        return int(exact)
    return normalize_number(float(exact))


def parse_number(text: str) -> int | float | None:
    """A numeric string's value (as Terraform converts "5"), None when it is not a number.

    Raises NumberRangeError for a number that is out of range.
    """
    s = text.strip()
    if s.lstrip("+-").isdigit() and len(s.lstrip("+-").lstrip("0")) > _MAX_DIGITS:
        raise out_of_range(s)
    try:
        return normalize_number(int(s))
    except ValueError:
        pass
    try:
        value = float(s)
    except ValueError:
        return None
    if math.isnan(value) or (math.isinf(value) and s.lstrip("+-").lower().startswith("inf")):
        return None
    if math.isinf(value):
        raise out_of_range(s)
    return normalize_number(value)


def _int_text(value: int) -> str:
    """Digits of a large int without Python's 4,300-digit conversion limit."""
    sign = "-" if value < 0 else ""
    return f"{sign}~1e{int(math.log10(abs(value)))}"
