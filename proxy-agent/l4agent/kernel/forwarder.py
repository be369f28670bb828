"""The kernel path as a data-plane forwarder (`l4agent.dataplane.forwarder.Forwarder`).

`KernelRuleForwarder` is offered the rules first; it takes those `kernel_rules`
accepts and the relay gets the rest. Its statistics land in the rules' own
`RuleStats` (the same objects the relay counts into), refreshed every
`stats_interval`, so Status.Get and /metrics need nothing of their own.

`KernelShadow` is what worker processes hold: it takes the same rules (the choice
depends on the specs only) and does nothing, so a worker never binds a relay
listener for a rule the kernel forwards.

`build()` makes the forwarder for ``--fast-path``: (forwarder or None, the reason
the kernel path is not used or None).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from l4agent.dataplane.forwarder import Change, ForwardRefused, Owner
from l4agent.dataplane.resolver import Resolver
from l4agent.kernel.compiler import table_name
from l4agent.kernel.driver import KernelForwarder, as_rule_counters
from l4agent.kernel.nft import NftError
from l4agent.kernel.path import KernelPath, PathPrepared, ReserveFailure, kernel_rules

log = logging.getLogger("l4agent.kernel")

FAST_PATH_MODES = ("auto", "on", "off")
CAPABILITY = "kernel_path"


@dataclass(slots=True)
class ShadowPrepared:
    rules: frozenset[Owner]


class KernelShadow:
    """Takes the kernel's rules in a worker process, which forwards none of them."""

    path = "kernel"

    async def prepare(self, change: Change) -> ShadowPrepared:
        kernel, _ = kernel_rules(sorted(change.apps.items()), change.offered)
        return ShadowPrepared(frozenset(kernel))

    async def commit(self, prepared: ShadowPrepared, routes: Mapping[Owner, Any]) -> None:
        return None

    def abort(self, prepared: ShadowPrepared) -> None:
        return None

    def draining(self) -> tuple[int, int]:
        return 0, 0

    async def shutdown(self, drain_timeout: float) -> None:
        return None


class KernelRuleForwarder:
    path = "kernel"

    def __init__(self, kpath: KernelPath, *, stats_interval: float = 2.0) -> None:
        self.kpath = kpath
        self.stats_interval = stats_interval
        self.routes: Mapping[Owner, Any] = {}
        self._draining = (0, 0)
        self._task: asyncio.Task[None] | None = None

    async def prepare(self, change: Change) -> PathPrepared:
        try:
            prepared = await self.kpath.prepare(
                sorted(change.apps.items()), offered=change.offered, best_effort=change.best_effort
            )
        except ReserveFailure as e:
            raise ForwardRefused(e.failures) from None
        except NftError as e:
            if change.best_effort:  # restore: keep the old table rather than nothing
                log.error("kernel path: nft refused the table (%s); rules stay on the relay", e)
                return _nothing(self.kpath)
            key = ("tcp", 0, "ipv4")
            raise ForwardRefused([(key, errno.EINVAL, f"nft refused the table: {e}")]) from None
        return prepared

    async def commit(self, prepared: PathPrepared, routes: Mapping[Owner, Any]) -> None:
        self.kpath.set_pools({owner: route.pool for owner, route in routes.items()})
        await self.kpath.commit(prepared)
        self.routes = routes
        self.kpath.start()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._count_forever())

    def abort(self, prepared: PathPrepared) -> None:
        self.kpath.abort(prepared)

    def draining(self) -> tuple[int, int]:
        return self._draining

    async def shutdown(self, drain_timeout: float) -> None:
        """Stop refreshing and release the ports; the table stays, so open flows (and
        new ones) keep being forwarded by the kernel until the next agent reconciles."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.kpath.close()

    async def update_stats(self) -> None:
        forwarder = self.kpath.forwarder
        async with self.kpath.lock:  # not while a rebuild moves counters into the totals
            stats = await asyncio.to_thread(forwarder.stats)
            self._draining = await asyncio.to_thread(forwarder.draining)
        for owner, values in stats.items():
            route = self.routes.get(owner)
            if route is None:
                continue
            for name, value in as_rule_counters(values, route.protocol).items():
                setattr(route.stats, name, value)
            route.stats.listeners_bound = 0

    async def _count_forever(self) -> None:
        while True:
            await asyncio.sleep(self.stats_interval)
            try:
                await self.update_stats()
            except Exception:  # the next round may succeed
                log.exception("kernel path: reading counters failed")


def _nothing(kpath: KernelPath) -> PathPrepared:
    """A prepared step that takes no rule and leaves the table as it is."""
    from l4agent.kernel.driver import Prepared as TablePrepared

    current = kpath.forwarder.compiled
    if current is None:
        from l4agent.kernel.compiler import compile_table

        current = compile_table(kpath.forwarder.table, [])
    return PathPrepared([], frozenset(), {}, TablePrepared(current), ({}, {}), None)


def build(
    mode: str,
    node_id: str,
    resolver: Resolver,
    *,
    bind: Mapping[str, str],
    drain_timeout: float,
    deferrable: Callable[[tuple[str, int, str]], bool] | None = None,
) -> tuple[KernelRuleForwarder | None, str | None]:
    """The kernel forwarder for ``--fast-path MODE``, or None and why not."""
    if mode == "off":
        return None, "--fast-path off"
    driver = KernelForwarder(table_name(node_id), drain_timeout=drain_timeout, bind=bind)
    reason = driver.unavailable()
    if reason is not None:
        return None, reason
    kpath = KernelPath(driver, resolver, bind=bind)
    if deferrable is not None:
        kpath.deferrable = deferrable
    return KernelRuleForwarder(kpath), None


def remove_leftover(node_id: str) -> bool:
    """With ``--fast-path off``: delete the table an earlier run left (its rules would
    otherwise keep taking traffic before the relay sees it). True if there was one."""
    driver = KernelForwarder(table_name(node_id))
    if driver.unavailable() is not None:
        return False
    with contextlib.suppress(NftError, OSError):
        return driver.remove()
    return False
