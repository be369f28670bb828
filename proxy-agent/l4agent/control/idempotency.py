"""Recent `Config.Apply` answers by `request_id`, for idempotent retries.

A retry carries the same params as the first call (its params hash says so), so the
names and spec hashes of the answer's `results` can be taken from the retry itself:
what must be remembered is only what the params do not say — the revision, whether
anything changed, the listener counts and each entry's action. Actions are stored
run-length encoded ("n10000" for ten thousand no-op deletes), so an entry costs about
the size of its `request_id` whatever the size of the request.

The log is an LRU bounded by entry count and by bytes; it is persisted with the
configuration, so a retry after a crash right after the answer still gets the first
result.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_CAPACITY = 1024
DEFAULT_MAX_BYTES = 1 << 20
_ENTRY_OVERHEAD = 64  # JSON punctuation, revision and counts of one persisted entry
_ACTIONS = {"create": "c", "update": "u", "delete": "d", "none": "n"}
_NAMES = {letter: action for action, letter in _ACTIONS.items()}
_RUN = re.compile(r"([cudn])(\d+)")


def encode_actions(actions: Iterable[str]) -> str:
    """['none', 'none', 'create'] -> 'n2c1'."""
    out: list[str] = []
    last, count = "", 0
    for action in actions:
        letter = _ACTIONS[action]
        if letter == last:
            count += 1
            continue
        if count:
            out.append(f"{last}{count}")
        last, count = letter, 1
    if count:
        out.append(f"{last}{count}")
    return "".join(out)


def decode_actions(encoded: str) -> Iterator[str]:
    position = 0
    for match in _RUN.finditer(encoded):
        if match.start() != position:
            break
        position = match.end()
        yield from [_NAMES[match.group(1)]] * int(match.group(2))
    if position != len(encoded):
        raise ValueError(f"malformed actions {encoded[:40]!r}")


@dataclass(slots=True, frozen=True)
class Recorded:
    """What a retry of one request needs besides its own params."""

    params_hash: str
    revision: int
    changed: bool
    listeners: dict[str, int]  # added, removed, kept
    actions: str  # run-length encoded, one action per upsert then per delete

    @classmethod
    def of(cls, params_hash: str, result: dict[str, Any]) -> Recorded:
        return cls(
            params_hash,
            result["revision"],
            result["changed"],
            dict(result["listeners"]),
            encode_actions(r["action"] for r in result["results"]),
        )

    def result(self, upserts: list[dict[str, Any]], hashes: list[str], deletes: list[str]) -> dict:
        """The first answer, rebuilt from the retry's params (upserts with their spec
        hashes, then deletes, as `Config.Apply` lists them)."""
        entries = [(u["name"], h) for u, h in zip(upserts, hashes, strict=True)]
        entries += [(name, None) for name in deletes]
        actions = list(decode_actions(self.actions))
        if len(actions) != len(entries):
            raise ValueError("recorded actions do not match the request")
        return {
            "revision": self.revision,
            "changed": self.changed,
            "dry_run": False,
            "results": [
                {"name": name, "action": action, "spec_hash": h}
                for (name, h), action in zip(entries, actions, strict=True)
            ],
            "listeners": dict(self.listeners),
        }

    def size(self, request_id: str) -> int:
        return len(request_id) + len(self.params_hash) + len(self.actions) + _ENTRY_OVERHEAD

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "changed": self.changed,
            "listeners": self.listeners,
            "actions": self.actions,
        }

    @classmethod
    def from_json(cls, params_hash: str, data: dict[str, Any]) -> Recorded:
        if "results" in data:  # written by an agent that stored whole answers
            return cls.of(params_hash, data)
        listeners = {k: int(data["listeners"][k]) for k in ("added", "removed", "kept")}
        actions = str(data["actions"])
        for _ in decode_actions(actions):  # raises when malformed
            pass
        return cls(params_hash, int(data["revision"]), bool(data["changed"]), listeners, actions)


class RequestLog:
    def __init__(self, capacity: int = DEFAULT_CAPACITY, max_bytes: int = DEFAULT_MAX_BYTES):
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, Recorded] = OrderedDict()

    def get(self, request_id: str) -> Recorded | None:
        entry = self._entries.get(request_id)
        if entry is not None:
            self._entries.move_to_end(request_id)
        return entry

    def put(self, request_id: str, params_hash: str, result: dict[str, Any]) -> None:
        self._add(request_id, Recorded.of(params_hash, result))

    def _add(self, request_id: str, entry: Recorded) -> None:
        old = self._entries.pop(request_id, None)
        if old is not None:
            self.bytes -= old.size(request_id)
        self._entries[request_id] = entry
        self.bytes += entry.size(request_id)
        while len(self._entries) > 1 and (
            len(self._entries) > self.capacity or self.bytes > self.max_bytes
        ):
            rid, dropped = self._entries.popitem(last=False)
            self.bytes -= dropped.size(rid)

    def __len__(self) -> int:
        return len(self._entries)

    def copy(self) -> RequestLog:
        other = RequestLog(self.capacity, self.max_bytes)
        other._entries = OrderedDict(self._entries)
        other.bytes = self.bytes
        return other

    def to_json(self) -> list[list[Any]]:
        return [[rid, e.params_hash, e.to_json()] for rid, e in self._entries.items()]

    @classmethod
    def from_json(
        cls,
        data: list[list[Any]],
        capacity: int = DEFAULT_CAPACITY,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> RequestLog:
        log = cls(capacity, max_bytes)
        for rid, params_hash, recorded in data:
            log._add(str(rid), Recorded.from_json(str(params_hash), recorded))
        return log
