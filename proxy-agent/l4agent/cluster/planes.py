"""Every data plane that must agree on the configuration, driven as one."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from l4agent.cluster.pool import WorkerProcesses
from l4agent.dataplane.plane import DataPlane, Prepared


class DataPlanes:
    """This process's data plane and the worker processes'. `lock` serialises applies
    and worker restarts."""

    def __init__(self, local: DataPlane) -> None:
        self.local = local
        self.pool: WorkerProcesses | None = None
        self.lock = asyncio.Lock()

    async def prepare(self, apps: dict[str, dict[str, Any]], timeout: float) -> Prepared:
        prepared = await self.local.prepare(apps)
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
