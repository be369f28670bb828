"""The control process's end of one worker's socketpair: request/reply by id.

Frames are length-prefixed JSON (`l4agent.protocols.frames`); every request names
one of the `LinkOp` operations and carries an `id` that its reply repeats.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any, cast

from l4agent.protocols.frames import FrameDecoder, FrameError, encode_frame

log = logging.getLogger("l4agent.workers")


class LinkOp(StrEnum):
    """What the control process asks of a worker."""

    RESTORE = "restore"  # bind the given configuration, best effort (worker start)
    PREPARE = "prepare"  # bind the new listeners of a configuration; answer failures
    COMMIT = "commit"  # swap to the prepared configuration
    ABORT = "abort"  # drop what was prepared
    STATS = "stats"  # counters, revision and connection total
    SHUTDOWN = "shutdown"  # stop accepting, drain, exit


class WorkerGone(Exception):
    """The worker process exited or its link broke."""


class WorkerLink(asyncio.Protocol):
    """One worker's link, seen from the control process."""

    def __init__(self, on_lost: Callable[[], None]) -> None:
        self._decoder = FrameDecoder()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._transport: asyncio.Transport | None = None
        self._on_lost = on_lost
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._decoder.feed(data)
        except FrameError as e:
            log.error("worker link: %s", e)
            self.close()
            return
        for message in messages:
            future = self._waiting.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(WorkerGone("worker link closed"))
        self._waiting.clear()
        self._on_lost()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def call(self, op: LinkOp, timeout: float, **payload: Any) -> dict[str, Any]:
        if self.closed or self._transport is None:
            raise WorkerGone("worker link closed")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._transport.write(encode_frame({"id": request_id, "op": str(op), **payload}))
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._waiting.pop(request_id, None)
