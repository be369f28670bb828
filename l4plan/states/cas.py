"""The compare-and-set rule every backend applies to a write."""

from __future__ import annotations

from l4plan.states.errors import StaleStateError, StateError
from l4plan.states.model import State


def check_advances(new: State, expected: tuple[str, int] | None) -> None:
    """A write of the same lineage must raise the serial, so readers can tell states apart."""
    if expected is not None and new.lineage == expected[0] and new.serial <= expected[1]:
        raise StateError(
            f"refusing to write serial {new.serial} over serial {expected[1]} of the same "
            "lineage: a write must advance the serial"
        )


def check_expected(
    found: tuple[str, int] | None, expected: tuple[str, int] | None, *, where: str
) -> None:
    """Raise StaleStateError unless the stored (lineage, serial) is the expected one."""
    if found != expected:
        raise stale_error(where, expected, found)


def stale_error(
    where: str, expected: tuple[str, int] | None, found: tuple[str, int] | None
) -> StaleStateError:
    return StaleStateError(
        f"{where} changed since it was read: expected {_lineage_serial(expected)}, found "
        f"{_lineage_serial(found)}. Nothing was written; run the command again to work "
        "from the current state."
    )


def _lineage_serial(value: tuple[str, int] | None) -> str:
    if value is None:
        return "no state"
    return f"lineage {value[0]} serial {value[1]}"
