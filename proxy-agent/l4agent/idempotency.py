"""Results of recent `Config.Apply` calls by `request_id`, for idempotent retries.

A bounded LRU; it is persisted with the configuration, so a retry after a crash
that happened right after the answer still returns the first result.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

DEFAULT_CAPACITY = 1024


class RequestLog:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()

    def get(self, request_id: str) -> tuple[str, dict[str, Any]] | None:
        """(params hash, result) recorded for `request_id`, or None."""
        entry = self._entries.get(request_id)
        if entry is not None:
            self._entries.move_to_end(request_id)
        return entry

    def put(self, request_id: str, params_hash: str, result: dict[str, Any]) -> None:
        self._entries[request_id] = (params_hash, result)
        self._entries.move_to_end(request_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def copy(self) -> RequestLog:
        other = RequestLog(self.capacity)
        other._entries = OrderedDict(self._entries)
        return other

    def to_json(self) -> list[list[Any]]:
        return [[rid, h, result] for rid, (h, result) in self._entries.items()]

    @classmethod
    def from_json(cls, data: list[list[Any]], capacity: int = DEFAULT_CAPACITY) -> RequestLog:
        log = cls(capacity)
        for rid, h, result in data:
            log.put(rid, h, result)
        return log
