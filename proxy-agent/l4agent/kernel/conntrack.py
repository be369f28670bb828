"""Conntrack entries of the kernel path: read (to count flows) and delete (to end a drain).

The entries come from the ``conntrack`` tool (Debian's ``conntrack`` package) when it
is installed, else from ``/proc/net/nf_conntrack``. Both print one entry a line as
``key=value`` tokens, the original tuple first and the reply tuple second; parsing
is a pure function. A flow belongs to the kernel path when it was translated
(its reply source is not its original destination) and its original destination
port is one of a rule's edge ports.

Deleting needs the tool: without it a drained flow ends by conntrack's own timeout.

The statistics read the table every few seconds, and a busy edge's table is mostly
entries of flows that already ended (TCP in TIME_WAIT for two minutes after each
short connection): the tool lists only translated entries (`--dst-nat`), a line in an
ended state is dropped by one regular-expression search before it is parsed, and
`RulePorts` finds an entry's rule by bisection, so a poll costs one pass over the
open flows however many rules there are.
"""

from __future__ import annotations

import bisect
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from l4agent.kernel.nft import Runner

ENDED_STATES = {"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "FIN_WAIT"}
# the state token of an ended entry as it stands in a line (no value of a key=value
# token has spaces, so it matches nothing else)
_ENDED = re.compile(" (?:" + "|".join(sorted(ENDED_STATES)) + ") ")
MAX_CALLS = 10000  # ports whose flows one drain deletes; the rest end by their timeouts


@dataclass(frozen=True, slots=True)
class Entry:
    family: str  # ipv4 | ipv6
    protocol: str  # tcp | udp | …
    state: str | None  # TCP state, None for UDP
    src: str
    dst: str
    sport: int
    dport: int
    reply_src: str
    reply_sport: int

    @property
    def translated(self) -> bool:
        return self.reply_src != self.dst or self.reply_sport != self.dport


def parse_line(line: str) -> Entry | None:
    """One entry of ``conntrack -L`` or ``/proc/net/nf_conntrack``; None if unusable."""
    tokens = line.split()
    if not tokens:
        return None
    family = "ipv4"
    if tokens[0] in ("ipv4", "ipv6"):  # /proc format: "ipv4 2 tcp 6 …"
        family, tokens = tokens[0], tokens[2:]
    if len(tokens) < 3:
        return None
    protocol = tokens[0]
    state = None
    pairs: list[tuple[str, str]] = []
    for token in tokens[3:]:
        key, eq, value = token.partition("=")
        if eq:
            pairs.append((key, value))
        elif token.isupper() and not token.startswith("[") and not pairs:
            state = token
    original: dict[str, str] = {}
    reply: dict[str, str] = {}
    for key, value in pairs:
        target = original if key not in original else reply
        if key in ("src", "dst", "sport", "dport"):
            target.setdefault(key, value)
    try:
        src, dst = original["src"], original["dst"]
        sport, dport = int(original["sport"]), int(original["dport"])
        reply_src, reply_sport = reply["src"], int(reply["sport"])
    except (KeyError, ValueError):
        return None
    if ":" in src:
        family = "ipv6"
    return Entry(family, protocol, state, src, dst, sport, dport, reply_src, reply_sport)


def parse(text: str, *, active_only: bool = False) -> list[Entry]:
    """The entries of `text`; with `active_only`, those not in an ended state."""
    lines = text.splitlines()
    if active_only:
        lines = [line for line in lines if _ENDED.search(line) is None]
    return [e for e in map(parse_line, lines) if e is not None]


def for_ports(
    entries: Iterable[Entry], protocol: str, ports: Sequence[tuple[int, int]]
) -> list[Entry]:
    """The translated entries of one rule (or drain): `RulePorts` for a single owner."""
    return [e for _, e in RulePorts([(protocol, protocol, ports)]).owners(entries)]


class RulePorts:
    """Which rule a translated entry belongs to, by its protocol and original
    destination port: each rule's edge-port ranges, sorted per protocol and searched
    by bisection (the edge ports of one agent never overlap)."""

    def __init__(self, rules: Iterable[tuple[Hashable, str, Sequence[tuple[int, int]]]]) -> None:
        ranges: dict[str, list[tuple[int, int, Hashable]]] = {}
        for key, protocol, ports in rules:
            ranges.setdefault(protocol, []).extend((lo, hi, key) for lo, hi in ports)
        self._ranges = {p: sorted(r, key=lambda x: x[0]) for p, r in ranges.items()}

    def owner(self, protocol: str, port: int) -> Hashable | None:
        ranges = self._ranges.get(protocol, [])
        i = bisect.bisect_right(ranges, port, key=lambda r: r[0]) - 1
        if i < 0:
            return None
        _, hi, key = ranges[i]
        return key if port <= hi else None

    def owners(self, entries: Iterable[Entry]) -> Iterator[tuple[Hashable, Entry]]:
        """(owner, entry) for every translated entry that has an owner."""
        for e in entries:
            if e.translated and (key := self.owner(e.protocol, e.dport)) is not None:
                yield key, e

    def count(self, entries: Iterable[Entry]) -> Counter[Hashable]:
        """Translated entries per owner."""
        return Counter(key for key, _ in self.owners(entries))


class Conntrack:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.tool = shutil.which("conntrack") is not None

    @property
    def source(self) -> str:
        return "conntrack" if self.tool else "/proc/net/nf_conntrack"

    def open_entries(self) -> list[Entry]:
        """The entries of flows that have not ended (the tool lists translated ones
        only; /proc lists every one, and `translated` tells them apart)."""
        if self.tool:
            out: list[Entry] = []
            for family in ("ipv4", "ipv6"):
                args = ["conntrack", "-L", "-f", family, "--dst-nat"]
                out += parse(self.runner.run(args, check=False).stdout, active_only=True)
            return out
        proc = self.runner.run(["cat", "/proc/net/nf_conntrack"], check=False)
        return parse(proc.stdout, active_only=True) if proc.returncode == 0 else []

    def delete(self, entries: Sequence[Entry]) -> int:
        """End these flows (the tool is needed); the number ended. One call per
        (family, protocol, original destination port) deletes every translated entry of
        that port at once, instead of one process per flow."""
        if not self.tool:
            return 0
        groups = Counter((e.family, e.protocol, e.dport) for e in entries)
        ended = 0
        for (family, protocol, port), flows in sorted(groups.items())[:MAX_CALLS]:
            args = ["conntrack", "-D", "-f", family, "-p", protocol,
                    "--orig-port-dst", str(port), "--dst-nat"]  # fmt: skip
            try:
                proc = self.runner.run(args, check=False)
            except subprocess.TimeoutExpired:
                continue
            ended += flows if proc.returncode == 0 else 0
        return ended
