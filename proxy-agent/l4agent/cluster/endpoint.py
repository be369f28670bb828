"""The worker process's end of the link: runs the control process's requests in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any, cast

from l4agent.cluster.link import LinkOp
from l4agent.dataplane.plane import DataPlane, ForwardRefused, Prepared
from l4agent.dataplane.resolver import Resolver
from l4agent.dataplane.stats import Stats
from l4agent.kernel.forwarder import KernelShadow
from l4agent.protocols.frames import FrameDecoder, FrameError, encode_frame
from l4agent.settings import RelaySettings

log = logging.getLogger("l4agent.workers")


class WorkerEndpoint(asyncio.Protocol):
    """The link seen from the worker."""

    def __init__(self, plane: DataPlane, done: asyncio.Event) -> None:
        self._plane = plane
        self._done = done
        self._decoder = FrameDecoder()
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._transport: asyncio.Transport | None = None
        self._pending: Prepared | None = None
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        try:
            for message in self._decoder.feed(data):
                self._queue.put_nowait(message)
        except FrameError as e:
            log.error("control link: %s", e)
            self._done.set()

    def connection_lost(self, exc: Exception | None) -> None:
        log.info("control process gone: stopping")
        self._done.set()

    async def _serve(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                reply = await self._handle(message)
            except Exception as e:
                log.exception("worker request %s failed", message.get("op"))
                reply = {"ok": False, "error": str(e)}
            if self._transport is not None and not self._transport.is_closing():
                self._transport.write(encode_frame({"id": message.get("id"), **reply}))

    async def _handle(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        plane = self._plane
        if op == LinkOp.RESTORE:
            prepared = await plane.prepare(message["apps"], best_effort=True)
            await plane.commit(prepared, message["revision"])
            return {"ok": True}
        if op == LinkOp.PREPARE:
            if self._pending is not None:
                plane.abort(self._pending)
            try:
                self._pending = await plane.prepare(message["apps"])
            except ForwardRefused as e:
                return {"ok": False, "failures": [[list(k), n, m] for k, n, m in e.failures]}
            return {"ok": True}
        if op == LinkOp.COMMIT:
            if self._pending is None:
                return {"ok": False, "error": "nothing prepared"}
            prepared, self._pending = self._pending, None
            await plane.commit(prepared, message["revision"])
            return {"ok": True}
        if op == LinkOp.ABORT:
            if self._pending is not None:
                plane.abort(self._pending)
                self._pending = None
            return {"ok": True}
        if op == LinkOp.STATS:
            return {
                "ok": True,
                "stats": plane.stats.snapshot(),
                "revision": plane.revision,
                "connections_total": plane.connections_total(),
            }
        if op == LinkOp.SHUTDOWN:
            self._done.set()
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.close()


async def run_worker(fd: int, relay: RelaySettings, stop: asyncio.Event) -> None:
    """The body of a worker process: serve the link until told to stop, then drain."""
    plane = DataPlane(relay, Stats(), Resolver(), [KernelShadow()] if relay.kernel_shadow else [])
    loop = asyncio.get_running_loop()
    sock = socket.socket(fileno=fd)
    _, endpoint = await loop.create_unix_connection(lambda: WorkerEndpoint(plane, stop), sock=sock)
    await stop.wait()
    with contextlib.suppress(Exception):
        await plane.shutdown(relay.drain_timeout)
    endpoint.close()
