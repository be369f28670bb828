"""The agent process: start-up, the control endpoint, restore, and clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl

from l4agent.cluster.link import WorkerGone
from l4agent.cluster.planes import DataPlanes
from l4agent.cluster.pool import WorkerProcesses
from l4agent.control.api import CAPABILITIES, Api, Identity
from l4agent.control.applier import Applier
from l4agent.control.metrics import exposition
from l4agent.control.server import ControlServer
from l4agent.control.store import ConfigStore, Snapshot
from l4agent.dataplane.plane import DataPlane
from l4agent.dataplane.resolver import Resolver
from l4agent.dataplane.stats import Stats
from l4agent.kernel import forwarder as kernel
from l4agent.settings import Settings

log = logging.getLogger("l4agent")


class StartupError(Exception):
    """The agent cannot start; the message says why."""


def limits(settings: Settings) -> dict[str, int]:
    """The limits `Agent.Info` reports."""
    return {
        "max_rules_per_app": 30,
        "max_listeners": settings.max_listeners,
        "max_request_bytes": settings.max_request_bytes,
        "max_batch": settings.max_batch,
        "udp_max_flows": settings.relay.udp_max_flows,
        "request_id_cache": settings.request_id_cache,
        "workers": settings.workers,
    }


class Agent:
    def __init__(
        self,
        settings: Settings,
        store: ConfigStore,
        snapshot: Snapshot,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.tls = tls
        self.store = store
        self.stats = Stats()
        self.resolver = Resolver()
        self.kernel, self.kernel_unavailable = kernel.build(
            settings.fast_path,
            store.node_id,
            self.resolver,
            bind=settings.relay.bind,
            drain_timeout=settings.relay.drain_timeout,
            deferrable=lambda key: key in self.plane.relay.desired,  # a port moving to it
        )
        settings.relay.kernel_shadow = self.kernel is not None
        forwarders = [self.kernel] if self.kernel is not None else []
        self.plane = DataPlane(settings.relay, self.stats, self.resolver, forwarders)
        self.planes = DataPlanes(self.plane)
        self.applier = Applier(store, snapshot, self.planes, max_listeners=settings.max_listeners)
        self.applier.accepting = False
        self.serving = False
        self.api = Api(
            identity=Identity(
                store.node_id,
                limits(settings),
                [*CAPABILITIES, kernel.CAPABILITY] if self.kernel else CAPABILITIES,
            ),
            applier=self.applier,
            planes=self.planes,
            serving=lambda: self.serving,
        )
        self.control = ControlServer(
            self.api.methods,
            token=settings.token,
            max_body=settings.max_request_bytes,
            max_batch=settings.max_batch,
            metrics=self.metrics,
        )

    async def run(self) -> None:
        settings = self.settings
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self._kernel_start()
        tls = self.tls
        host, port = settings.control
        await self.control.start(host, port, tls)
        log.info(
            "control API on %s://%s:%d/rpc",
            "https" if tls else "http",
            host,
            port,
            extra={"fields": {"control": f"{host}:{port}", "tls": tls is not None}},
        )
        await self.applier.restore()
        if settings.workers > 1:
            self.planes.pool = WorkerProcesses(
                settings.workers - 1,
                settings.relay,
                {"log_format": settings.log_format, "log_level": settings.log_level},
                lambda: (self.applier.apps, self.applier.revision),
                self.planes.lock,
            )
            try:
                await self.planes.pool.start()
            except (OSError, WorkerGone, TimeoutError) as e:
                raise StartupError(f"cannot start the worker processes: {e}") from e
        self.applier.accepting = True
        self.serving = True
        log.info(
            "serving revision %d (%d applications, %d listeners, %d worker processes)",
            self.applier.revision,
            len(self.applier.apps),
            len(self.plane.relay.listeners),
            settings.workers,
            extra={"fields": {"revision": self.applier.revision}},
        )
        await stop.wait()
        await self.shutdown()

    async def _kernel_start(self) -> None:
        """--fast-path: refuse to start (on), say once why the relay does it all (auto),
        or remove a table an earlier run left (off). The restore that follows rebuilds
        the table from the persisted configuration (reconcile)."""
        mode, reason = self.settings.fast_path, self.kernel_unavailable
        if self.kernel is None and mode == "on":
            raise StartupError(f"--fast-path on: {reason}")
        if self.kernel is None and mode == "auto":
            log.warning("kernel fast path not used (%s): every rule goes through the relay", reason)
        if mode == "off":
            await asyncio.to_thread(kernel.remove_leftover, self.store.node_id)
        if self.kernel is not None:
            forwarder = self.kernel.kpath.forwarder
            log.info("kernel fast path: table inet %s", forwarder.table)
            for problem in await asyncio.to_thread(forwarder.forwarding_problems):
                log.warning("kernel fast path: %s", problem)

    async def shutdown(self) -> None:
        """Stop accepting, let connections drain (up to --drain-timeout), then return."""
        log.info("shutting down: draining for up to %.1fs", self.settings.relay.drain_timeout)
        self.serving = False
        self.applier.accepting = False
        async with self.planes.lock:  # let a running apply finish
            pass
        drain = self.settings.relay.drain_timeout
        tasks = [self.plane.shutdown(drain)]
        if self.planes.pool is not None:
            tasks.append(self.planes.pool.shutdown(drain))
        await asyncio.gather(*tasks)
        self.control.close()
        self.store.close()
        log.info("stopped")

    async def metrics(self) -> tuple[bytes, str]:
        _, snapshots = await self.planes.worker_rows()
        stats = Stats.merged([self.stats.snapshot(), *snapshots])
        health = {owner: route.pool.health() for owner, route in self.plane.routes.items()}
        return exposition(stats, health=health)
