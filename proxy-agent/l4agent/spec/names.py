"""Hostname validity of origin targets: RFC 1123 host names, the rule l4plan enforces
as L4E010/L4E014 (docs/constraints.md). Letters, digits and hyphens only: an
underscore is refused on both sides (docs/architecture.md, "Decisions");
tests/contract proves the two implementations agree."""

from __future__ import annotations

import re

_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?")
MAX_NAME = 253
MAX_LABEL = 63


def is_hostname(host: str) -> bool:
    """True for a valid host name, with or without the root's trailing dot.

    Not for IP literals: the last label must not be a number.
    """
    name = host.removesuffix(".")
    if not name or len(name) > MAX_NAME or name.rpartition(".")[2].isdigit():
        return False
    return all(len(label) <= MAX_LABEL and _LABEL.fullmatch(label) for label in name.split("."))
