"""`--workers N`: data-plane processes that share every listener with SO_REUSEPORT.

The control process is worker 0: it serves the control API and relays traffic. It
starts N-1 worker processes (`python -m l4agent.worker`), each with its own
`DataPlane`, connected by a socketpair carrying length-prefixed JSON frames
(`l4agent.protocols.frames`). A configuration change reaches every process atomically with a
two-phase commit driven by `Cluster`:

1. prepare: every process binds its new sockets (a worker that cannot bind answers
   with the failed ports); if one fails, all abort and nothing changed;
2. the control process persists the configuration;
3. commit: every process swaps to the new configuration.

A worker that exits unexpectedly is started again with the current configuration.
A worker whose control process dies (the link reaches EOF) stops accepting and
drains, so a restarted agent owns its ports alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import Any, cast

from l4agent.control.errors import RpcError
from l4agent.dataplane.plane import BindFailure, DataPlane, Prepared
from l4agent.dataplane.resolver import Resolver
from l4agent.dataplane.stats import Stats
from l4agent.protocols.frames import FrameDecoder, FrameError, encode_frame
from l4agent.settings import RelaySettings
from l4agent.spec import ListenerKey

log = logging.getLogger("l4agent.workers")

START_TIMEOUT = 30.0
RESPAWN_DELAY = 1.0
CALL_TIMEOUT = 30.0

Config = tuple[dict[str, dict[str, Any]], int]  # (applications, revision)


class WorkerGone(Exception):
    """The worker process exited or its link broke."""


class Link(asyncio.Protocol):
    """The control process's end of one worker's socketpair: request/reply by id."""

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

    async def call(self, op: str, timeout: float, **payload: Any) -> dict[str, Any]:
        if self.closed or self._transport is None:
            raise WorkerGone("worker link closed")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._transport.write(encode_frame({"id": request_id, "op": op, **payload}))
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._waiting.pop(request_id, None)


class Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.link: Link | None = None
        self.revision: int | None = None

    @property
    def alive(self) -> bool:
        return (
            self.process is not None
            and self.process.returncode is None
            and self.link is not None
            and not self.link.closed
        )

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0


class WorkerPool:
    """Worker processes 1..N-1 of the agent."""

    def __init__(
        self,
        count: int,
        relay: RelaySettings,
        log_options: dict[str, str],
        current: Callable[[], Config],
        lock: asyncio.Lock,
    ) -> None:
        self.workers = [Worker(i) for i in range(1, count + 1)]
        self._relay = relay
        self._log_options = log_options
        self._current = current
        self._lock = lock
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(w) for w in self.workers))

    async def _spawn(self, worker: Worker) -> None:
        parent, child = socket.socketpair()
        options = {"relay": self._relay.to_json(), **self._log_options}
        try:
            worker.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "l4agent.cluster.worker_main",
                "--fd",
                str(child.fileno()),
                "--index",
                str(worker.index),
                "--options",
                json.dumps(options),
                pass_fds=(child.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
            )
        finally:
            child.close()
        loop = asyncio.get_running_loop()
        _, worker.link = await loop.create_unix_connection(lambda: Link(lambda: None), sock=parent)
        apps, revision = self._current()
        reply = await worker.link.call("restore", START_TIMEOUT, apps=apps, revision=revision)
        if not _ok(reply):
            worker.process.kill()
            raise WorkerGone(f"worker {worker.index} could not restore: {_why(reply)}")
        worker.revision = revision
        log.info("worker %d started (pid %d)", worker.index, worker.pid)
        task = loop.create_task(self._supervise(worker))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _supervise(self, worker: Worker) -> None:
        assert worker.process is not None
        code = await worker.process.wait()
        if worker.link is not None:
            worker.link.close()
        if self._stopping:
            return
        log.error(
            "worker %d (pid %d) exited with %s; restarting it", worker.index, worker.pid, code
        )
        await asyncio.sleep(RESPAWN_DELAY)
        async with self._lock:  # no apply while it joins with the current configuration
            if self._stopping:
                return
            try:
                await self._spawn(worker)
            except (OSError, WorkerGone, TimeoutError) as e:
                log.error("worker %d could not be restarted: %s", worker.index, e)

    # ---- two-phase apply ---------------------------------------------------------

    async def prepare(self, apps: dict[str, dict[str, Any]], timeout: float) -> None:
        """Every worker binds its new sockets, or none keeps them (raises)."""
        replies = await asyncio.gather(
            *(self._call(w, "prepare", timeout, apps=apps) for w in self.workers),
            return_exceptions=True,
        )
        prepared = [w for w, r in zip(self.workers, replies, strict=True) if _ok(r)]
        if len(prepared) == len(self.workers):
            return
        await asyncio.gather(
            *(self._call(w, "abort", CALL_TIMEOUT) for w in prepared), return_exceptions=True
        )
        for reply in replies:
            if isinstance(reply, dict) and reply.get("failures"):
                raise BindFailure([(_key(k), e, m) for k, e, m in reply["failures"]])
        for worker, reply in zip(self.workers, replies, strict=True):
            if isinstance(reply, TimeoutError):
                raise reply
            if not _ok(reply):
                raise RpcError(
                    "UNAVAILABLE",
                    f"worker {worker.index} did not prepare the configuration: {_why(reply)}",
                )

    async def commit(self, revision: int) -> None:
        replies = await asyncio.gather(
            *(self._call(w, "commit", CALL_TIMEOUT, revision=revision) for w in self.workers),
            return_exceptions=True,
        )
        for worker, reply in zip(self.workers, replies, strict=True):
            if _ok(reply):
                worker.revision = revision
            else:
                # it restarts with the persisted configuration; stop it if it still runs
                log.error(
                    "worker %d did not commit revision %d: %s", worker.index, revision, _why(reply)
                )
                if worker.process is not None and worker.process.returncode is None:
                    worker.process.kill()

    async def abort(self) -> None:
        """Drop what the workers prepared."""
        await asyncio.gather(
            *(self._call(w, "abort", CALL_TIMEOUT) for w in self.workers), return_exceptions=True
        )

    async def stats(self) -> list[dict[str, Any] | None]:
        replies = await asyncio.gather(
            *(self._call(w, "stats", 5.0) for w in self.workers), return_exceptions=True
        )
        return [r if _ok(r) else None for r in replies]  # type: ignore[misc]

    async def shutdown(self, drain_timeout: float) -> None:
        self._stopping = True
        await asyncio.gather(
            *(self._call(w, "shutdown", 5.0) for w in self.workers), return_exceptions=True
        )
        for worker in self.workers:
            if worker.process is None:
                continue
            try:
                async with asyncio.timeout(drain_timeout + 5.0):
                    await worker.process.wait()
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
        for task in list(self._tasks):
            task.cancel()

    async def _call(
        self, worker: Worker, op: str, timeout: float, **payload: Any
    ) -> dict[str, Any]:
        if not worker.alive or worker.link is None:
            raise WorkerGone(f"worker {worker.index} is not running")
        return await worker.link.call(op, timeout, **payload)


def _ok(reply: object) -> bool:
    return isinstance(reply, dict) and bool(reply.get("ok"))


def _why(reply: object) -> str:
    if isinstance(reply, BaseException):
        return str(reply) or type(reply).__name__
    if isinstance(reply, dict):
        return str(reply.get("error", "no reason given"))
    return repr(reply)


def _key(raw: list[Any]) -> ListenerKey:
    return (str(raw[0]), int(raw[1]), str(raw[2]))


class Cluster:
    """Every data plane that must agree on the configuration: this process's and the
    workers'. `lock` serialises applies and worker restarts."""

    def __init__(self, local: DataPlane) -> None:
        self.local = local
        self.pool: WorkerPool | None = None
        self.lock = asyncio.Lock()

    async def prepare(self, apps: dict[str, dict[str, Any]], timeout: float) -> Prepared:
        prepared = self.local.prepare(apps)
        if self.pool is not None:
            try:
                await self.pool.prepare(apps, timeout)
            except BaseException:
                self.local.abort(prepared)
                raise
        return prepared

    async def abort(self, prepared: Prepared) -> None:
        self.local.abort(prepared)
        if self.pool is not None:
            await self.pool.abort()

    async def commit(self, prepared: Prepared, revision: int) -> None:
        await self.local.commit(prepared, revision)
        if self.pool is not None:
            await self.pool.commit(revision)

    async def worker_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(one row per process for Status.Get, the workers' stats snapshots)."""
        rows = [
            {
                "index": 0,
                "pid": os.getpid(),
                "alive": True,
                "revision": self.local.revision,
                "connections_total": self.local.connections_total(),
            }
        ]
        snapshots: list[dict[str, Any]] = []
        if self.pool is None:
            return rows, snapshots
        for worker, reply in zip(self.pool.workers, await self.pool.stats(), strict=True):
            row = {
                "index": worker.index,
                "pid": worker.pid,
                "alive": reply is not None,
                "revision": worker.revision,
                "connections_total": 0,
            }
            if reply is not None:
                row["revision"] = reply["revision"]
                row["connections_total"] = reply["connections_total"]
                snapshots.append(reply["stats"])
            rows.append(row)
        return rows, snapshots


# ---- the worker process ------------------------------------------------------------


class Endpoint(asyncio.Protocol):
    """The worker's end of the link: runs the control process's requests in order."""

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
        if op == "restore":
            prepared = plane.prepare(message["apps"], best_effort=True)
            await plane.commit(prepared, message["revision"])
            return {"ok": True}
        if op == "prepare":
            if self._pending is not None:
                plane.abort(self._pending)
            try:
                self._pending = plane.prepare(message["apps"])
            except BindFailure as e:
                return {"ok": False, "failures": [[list(k), n, m] for k, n, m in e.failures]}
            return {"ok": True}
        if op == "commit":
            if self._pending is None:
                return {"ok": False, "error": "nothing prepared"}
            prepared, self._pending = self._pending, None
            await plane.commit(prepared, message["revision"])
            return {"ok": True}
        if op == "abort":
            if self._pending is not None:
                plane.abort(self._pending)
                self._pending = None
            return {"ok": True}
        if op == "stats":
            return {
                "ok": True,
                "stats": plane.stats.snapshot(),
                "revision": plane.revision,
                "connections_total": plane.connections_total(),
            }
        if op == "shutdown":
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
    plane = DataPlane(relay, Stats(), Resolver())
    loop = asyncio.get_running_loop()
    sock = socket.socket(fileno=fd)
    _, endpoint = await loop.create_unix_connection(lambda: Endpoint(plane, stop), sock=sock)
    await stop.wait()
    with contextlib.suppress(Exception):
        await plane.shutdown(relay.drain_timeout)
    endpoint.close()
