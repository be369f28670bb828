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
import json
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

from l4agent.cluster.link import LinkOp, WorkerGone, WorkerLink
from l4agent.dataplane.plane import ForwardRefused
from l4agent.protocols.errors import RpcError
from l4agent.settings import RelaySettings
from l4agent.spec import ListenerKey

log = logging.getLogger("l4agent.workers")

START_TIMEOUT = 30.0
RESPAWN_DELAY = 1.0
CALL_TIMEOUT = 30.0

Config = tuple[dict[str, dict[str, Any]], int]  # (applications, revision)


class WorkerProcess:
    """One worker process and its link."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.link: WorkerLink | None = None
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


class WorkerProcesses:
    """Worker processes 1..N-1 of the agent."""

    def __init__(
        self,
        count: int,
        relay: RelaySettings,
        log_options: dict[str, str],
        current: Callable[[], Config],
        lock: asyncio.Lock,
    ) -> None:
        self.workers = [WorkerProcess(i) for i in range(1, count + 1)]
        self._relay = relay
        self._log_options = log_options
        self._current = current
        self._lock = lock
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(w) for w in self.workers))

    async def _spawn(self, worker: WorkerProcess) -> None:
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
        _, worker.link = await loop.create_unix_connection(
            lambda: WorkerLink(lambda: None), sock=parent
        )
        apps, revision = self._current()
        reply = await worker.link.call(LinkOp.RESTORE, START_TIMEOUT, apps=apps, revision=revision)
        if not _ok(reply):
            worker.process.kill()
            raise WorkerGone(f"worker {worker.index} could not restore: {_why(reply)}")
        worker.revision = revision
        log.info("worker %d started (pid %d)", worker.index, worker.pid)
        task = loop.create_task(self._supervise(worker))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _supervise(self, worker: WorkerProcess) -> None:
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
            *(self._call(w, LinkOp.PREPARE, timeout, apps=apps) for w in self.workers),
            return_exceptions=True,
        )
        prepared = [w for w, r in zip(self.workers, replies, strict=True) if _ok(r)]
        if len(prepared) == len(self.workers):
            return
        await asyncio.gather(
            *(self._call(w, LinkOp.ABORT, CALL_TIMEOUT) for w in prepared), return_exceptions=True
        )
        for reply in replies:
            if isinstance(reply, dict) and reply.get("failures"):
                raise ForwardRefused([(_key(k), e, m) for k, e, m in reply["failures"]])
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
            *(self._call(w, LinkOp.COMMIT, CALL_TIMEOUT, revision=revision) for w in self.workers),
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
            *(self._call(w, LinkOp.ABORT, CALL_TIMEOUT) for w in self.workers),
            return_exceptions=True,
        )

    async def stats(self) -> list[dict[str, Any] | None]:
        replies = await asyncio.gather(
            *(self._call(w, LinkOp.STATS, 5.0) for w in self.workers), return_exceptions=True
        )
        return [r if _ok(r) else None for r in replies]  # type: ignore[misc]

    async def shutdown(self, drain_timeout: float) -> None:
        self._stopping = True
        await asyncio.gather(
            *(self._call(w, LinkOp.SHUTDOWN, 5.0) for w in self.workers), return_exceptions=True
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
        self, worker: WorkerProcess, op: LinkOp, timeout: float, **payload: Any
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
