"""Port expressions: the grammar of `edge_port` and `origin_port` (docs/constraints.md).

An expression is a comma-separated list of items, each a port `N` or an inclusive
range `A-B`, with 1 <= port <= 65535 and A <= B. Spaces around items and around the
dash are allowed (`"80, 443, 8000 - 8010"`). Items of one expression must not overlap.

`parse_ports` turns the text into a `PortSet` once; the value is immutable and the
parser is memoized, so every stage (validation, the agent spec, plan rendering)
can call it again on the same text for free. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

MIN_PORT = 1
MAX_PORT = 65535

_ITEM = re.compile(r"\s*([0-9]+)(?:\s*-\s*([0-9]+))?\s*")

Range = tuple[int, int]


class PortSyntaxError(ValueError):
    """A malformed port expression; `column` is the 1-based offset of the bad item."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(frozen=True, slots=True)
class PortSet:
    """A set of ports as sorted, disjoint, inclusive `(lo, hi)` ranges.

    `ranges` is canonical: adjacent items are merged (`80,81,82` holds `(80, 82)`), and
    equality compares only the ports. `items` keeps the ranges as written, in source
    order, for the one rule that depends on the spelling: an origin port is one item
    (L4E005). The mapping rules (L4E006) look only at the ports, as the agent does,
    which sees the canonical ranges (docs/architecture.md, "Decisions").
    """

    ranges: tuple[Range, ...]
    items: tuple[Range, ...] = field(compare=False, default=())

    def __str__(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.ranges)

    def __contains__(self, port: object) -> bool:
        if not isinstance(port, int):
            return False
        return any(lo <= port <= hi for lo, hi in self.ranges)

    @property
    def count(self) -> int:
        """How many ports the expression holds."""
        return sum(hi - lo + 1 for lo, hi in self.ranges)

    @property
    def is_single(self) -> bool:
        """Exactly one port (`80`, or the degenerate range `80-80`)."""
        return len(self.ranges) == 1 and self.ranges[0][0] == self.ranges[0][1]

    @property
    def is_range(self) -> bool:
        """Contiguous ports, more than one (`80-82`, and also `80,81-82`)."""
        return len(self.ranges) == 1 and self.ranges[0][0] < self.ranges[0][1]

    @property
    def first(self) -> int:
        return self.ranges[0][0]

    def to_spec(self) -> list[list[int]]:
        """The agent-facing form (`edge_ports` in docs/architecture.md): `[[lo, hi], ...]`."""
        return [[lo, hi] for lo, hi in self.ranges]


def _merge(sorted_ranges: list[Range]) -> tuple[Range, ...]:
    merged: list[Range] = []
    for lo, hi in sorted_ranges:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _check_port(value: str, item: str, column: int) -> int:
    # more than 5 significant digits is out of range; int() of a huge digit string
    # would also hit Python's conversion limit
    port = int(value) if len(value.lstrip("0")) <= 5 else MAX_PORT + 1
    if not MIN_PORT <= port <= MAX_PORT:
        shown = value if len(value) <= 12 else f"{value[:6]}...({len(value)} digits)"
        item = item if len(item) <= 30 else f"{item[:24]}..."
        raise PortSyntaxError(
            f'port {shown} in item "{item}" at column {column} is out of range;'
            f" ports are {MIN_PORT}-{MAX_PORT}",
            column,
        )
    return port


@lru_cache(maxsize=65536)
def _parse(text: str) -> PortSet:
    if text.isascii() and text.isdigit():  # the common case: one port
        port = _check_port(text, text, 1)
        return PortSet(((port, port),), ((port, port),))
    if not text.strip():
        raise PortSyntaxError("empty port expression; write a port such as 80 or 8000-8010", 1)
    items: list[Range] = []
    columns: list[int] = []
    offset = 0
    for raw in text.split(","):
        column = offset + 1 + (len(raw) - len(raw.lstrip()))
        offset += len(raw) + 1
        item = raw.strip()
        m = _ITEM.fullmatch(raw)
        if m is None:
            if not item:
                raise PortSyntaxError(
                    f"empty item at column {column}: remove the extra comma", column
                )
            raise PortSyntaxError(
                f'"{item}" at column {column} is not a port N or a range A-B', column
            )
        lo = _check_port(m.group(1), item, column)
        hi = lo if m.group(2) is None else _check_port(m.group(2), item, column)
        if lo > hi:
            raise PortSyntaxError(
                f'range "{item}" at column {column} starts after it ends; write {hi}-{lo}',
                column,
            )
        items.append((lo, hi))
        columns.append(column)
    if len(items) == 1:
        return PortSet((items[0],), (items[0],))
    order = sorted(range(len(items)), key=items.__getitem__)
    for prev, cur in pairwise(order):
        if items[cur][0] <= items[prev][1]:
            later, earlier = max(prev, cur), min(prev, cur)
            shared = max(items[prev][0], items[cur][0])
            raise PortSyntaxError(
                f'item "{_fmt(items[later])}" at column {columns[later]} overlaps item'
                f' "{_fmt(items[earlier])}" (port {shared}); list each port once',
                columns[later],
            )
    return PortSet(_merge([items[i] for i in order]), tuple(items))


def _fmt(r: Range) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


def parse_ports(text: str | int | float) -> PortSet:
    """Parse a port expression (a whole number is taken as a single port).

    Raises PortSyntaxError naming the bad item and its column.
    """
    if isinstance(text, bool):
        raise PortSyntaxError(f"{str(text).lower()} is not a port expression", 1)
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    if isinstance(text, int):
        text = str(text)
    return _parse(text)


def parse_origin_ports(text: str | int | float) -> PortSet:
    """Parse an origin port: the same grammar, but one port or one range only (L4E005)."""
    ports = parse_ports(text)
    if len(ports.items) > 1:
        raise PortSyntaxError(
            f'"{text}" has {len(ports.items)} items; an origin port is a single port'
            " (8080) or a single range (8000-8010)",
            1,
        )
    return ports


def overlap(a: PortSet, b: PortSet) -> int | None:
    """The first port that both sets hold, or None."""
    i = j = 0
    ra, rb = a.ranges, b.ranges
    while i < len(ra) and j < len(rb):
        lo = max(ra[i][0], rb[j][0])
        if lo <= min(ra[i][1], rb[j][1]):
            return lo
        if ra[i][1] < rb[j][1]:
            i += 1
        else:
            j += 1
    return None


def mapping_problem(edge: PortSet, origin: PortSet) -> str | None:
    """Why `edge` cannot be mapped onto `origin` (L4E006), or None when it can.

    Single edge port: any origin. Contiguous edge ports A-B (however written): a
    single origin port or a range of the same length (offset mapping). Edge ports with
    a gap: a single origin port only.
    """
    if edge.is_single or origin.is_single:
        return None
    if edge.is_range:
        if origin.count == edge.count:
            return None
        return (
            f"edge range {edge} has {edge.count} ports but origin range {origin} has"
            f" {origin.count}; use an origin range of {edge.count} ports for offset"
            " mapping, or a single origin port"
        )
    return (
        f"edge ports {','.join(_fmt(r) for r in edge.items)} are a list; a list can only"
        f" forward to a single origin port, not the range {origin}"
    )
