"""Which control connections may stay open, so that the operator always gets in.

A connection is *busy* while one of its requests is being handled and *idle*
otherwise — waiting for a request, or still receiving one (a slow client sending
its header a byte at a time is idle: it has asked for nothing yet). Caps: at most
`max_total` connections, at most `max_per_client` from one client address. A new
connection over a cap evicts the connection that has been idle longest (of that
client, for the per-client cap) instead of being refused; only when every
connection under the cap is busy is the new one refused. Trickling bytes does not
refresh a connection's place: its idle time counts from when it connected or last
got an answer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Protocol


class Evictable(Hashable, Protocol):
    def evict(self) -> None:
        """Close at once (the connection has asked for nothing being handled)."""


class Admission:
    def __init__(self, max_total: int, max_per_client: int) -> None:
        self.max_total = max_total
        self.max_per_client = max_per_client
        self._client: dict[Evictable, str] = {}
        self._per_client: dict[str, int] = {}
        self._idle: OrderedDict[Evictable, None] = OrderedDict()  # longest idle first

    def __len__(self) -> int:
        return len(self._client)

    def admit(self, connection: Evictable, client: str) -> bool:
        """Take `connection` (idle) in, evicting others as the caps require; False when
        it must be refused because every connection in its way is busy."""
        if self._per_client.get(client, 0) >= self.max_per_client and not self._evict(client):
            return False
        if len(self._client) >= self.max_total and not self._evict(None):
            return False
        self._client[connection] = client
        self._per_client[client] = self._per_client.get(client, 0) + 1
        self._idle[connection] = None
        return True

    def busy(self, connection: Evictable) -> None:
        self._idle.pop(connection, None)

    def idle(self, connection: Evictable) -> None:
        if connection in self._client:
            self._idle[connection] = None
            self._idle.move_to_end(connection)

    def release(self, connection: Evictable) -> None:
        client = self._client.pop(connection, None)
        if client is None:
            return
        self._idle.pop(connection, None)
        left = self._per_client[client] - 1
        if left:
            self._per_client[client] = left
        else:
            del self._per_client[client]

    def _evict(self, client: str | None) -> bool:
        for connection in self._idle:
            if client is None or self._client[connection] == client:
                self.release(connection)
                connection.evict()
                return True
        return False
