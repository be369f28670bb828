"""The kernel path inside the agent's event loop: applies, rebuilds, drains, ports.

`KernelForwarder` is blocking and knows nothing of pools or DNS. `KernelPath` is
what a data plane holds:

- `prepare(apps)` decides each rule's path (`eligible` with the hostnames' current
  answers), resolves, reads the pools' health, binds a *reserving* socket for every
  listener key of a kernel rule and checks the batch. Any failure closes what was
  bound and raises; nothing changed.
- `commit(prepared)` runs the batch and keeps the reserving sockets; `abort` closes
  the new ones.
- A background task (`start`/`close`) re-resolves hostnames and re-reads health
  every `refresh_interval`; when an answer or a target's health changed it rebuilds
  the table (same rules, new targets: one batch, open flows kept). It also ends
  drains when their timeout passes.

Reserving sockets: the kernel translates a flow before any socket sees it, so
nothing would stop another process from binding an edge port, and a port already
in use would go unnoticed. Holding the port (TCP bound but not listening, UDP
bound) makes a port in use fail the apply exactly as it fails for the relay, and
keeps the port ours while the rule exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from l4agent.dataplane.resolver import ResolveError, Resolver, ip_literal
from l4agent.dataplane.sockets import listener_socket
from l4agent.kernel.compiler import RuleKey
from l4agent.kernel.driver import KernelForwarder
from l4agent.kernel.driver import Prepared as TablePrepared
from l4agent.kernel.eligibility import eligible

log = logging.getLogger("l4agent.kernel")

ListenerKey = tuple[str, int, str]  # (protocol, port, family)
WILDCARD = {"ipv4": "0.0.0.0", "ipv6": "::"}


class HealthSource(Protocol):
    """What the kernel path reads of a rule's origin pool (`OriginPool.health`)."""

    def health(self) -> list[dict[str, Any]]: ...


class ReserveFailure(OSError):
    """A listener key of a kernel rule could not be reserved; nothing was changed."""

    def __init__(self, failures: list[tuple[ListenerKey, int, str]]) -> None:
        self.failures = failures  # (key, errno, message), like dataplane.BindFailure
        super().__init__("; ".join(message for _, _, message in failures))


@dataclass(slots=True)
class PathPrepared:
    apps: list[tuple[str, dict[str, Any]]]
    kernel: frozenset[RuleKey]
    skipped: dict[RuleKey, str]
    table: TablePrepared
    signature: tuple[Any, ...]
    pools: Mapping[RuleKey, HealthSource] | None = None
    sockets: dict[ListenerKey, socket.socket] = field(default_factory=dict)

    @property
    def rules(self) -> frozenset[RuleKey]:
        """The rules this step forwards (the data plane's `Prepared.rules`)."""
        return self.kernel


def reserve(key: ListenerKey, host: str) -> socket.socket:
    """Hold (protocol, port, family) on `host` without serving it."""
    sock = listener_socket(key)
    try:
        sock.bind((host, key[1]))
    except BaseException:
        sock.close()
        raise
    return sock


class KernelPath:
    def __init__(
        self,
        forwarder: KernelForwarder,
        resolver: Resolver,
        *,
        bind: Mapping[str, str] | None = None,
        refresh_interval: float = 1.0,
    ) -> None:
        self.forwarder = forwarder
        self.resolver = resolver
        self.bind = dict(bind or WILDCARD)
        self.refresh_interval = refresh_interval
        self.pools: Mapping[RuleKey, HealthSource] = {}
        self.current: PathPrepared | None = None
        self.reserved: dict[ListenerKey, socket.socket] = {}
        self.deferred: set[ListenerKey] = set()  # ports to reserve once they are free
        self.deferrable: Callable[[ListenerKey], bool] = lambda key: False
        self.lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # ---- apply -------------------------------------------------------------------

    async def prepare(
        self,
        apps: Sequence[tuple[str, dict[str, Any]]],
        pools: Mapping[RuleKey, HealthSource] | None = None,
        *,
        offered: Collection[RuleKey] | None = None,
        best_effort: bool = False,
    ) -> PathPrepared:
        """Take every rule of `offered` (default: all) that `kernel_rules` accepts.

        The path of a rule depends on its spec alone (never on a DNS answer), so every
        process of the agent agrees on it. A port that cannot be reserved fails the
        prepare, unless `best_effort` (restore) or `deferrable` says the port is ours
        already (a relay listener of this agent still holding it): then the
        reservation is retried at each refresh."""
        apps = sorted(apps, key=lambda a: a[0])
        kernel, skipped = kernel_rules(apps, offered)
        resolved = await self._resolve(apps, kernel)
        health = _health(pools if pools is not None else self.pools)
        table = await asyncio.to_thread(self.forwarder.prepare, apps, resolved, health, kernel)
        prepared = PathPrepared(apps, frozenset(kernel), skipped, table, (resolved, health), pools)
        prepared.sockets = self._reserve(apps, kernel, best_effort)
        return prepared

    async def commit(self, prepared: PathPrepared) -> None:
        async with self.lock:
            await asyncio.to_thread(self.forwarder.commit, prepared.table)
            wanted = set(_keys(prepared.apps, prepared.kernel))
            for key in [k for k in self.reserved if k not in wanted]:
                self.reserved.pop(key).close()
            self.reserved.update(prepared.sockets)
            prepared.sockets = {}
            self.current = prepared
            if prepared.pools is not None:
                self.pools = prepared.pools

    def set_pools(self, pools: Mapping[RuleKey, HealthSource]) -> None:
        """The origin pools of the rules (the data plane builds them at commit): their
        health is read at every refresh."""
        self.pools = pools

    def abort(self, prepared: PathPrepared) -> None:
        for sock in prepared.sockets.values():
            sock.close()
        prepared.sockets = {}
        self.forwarder.abort(prepared.table)

    def path_of(self, app: str, index: int) -> str:
        return self.forwarder.path_of(app, index)

    def _reserve(
        self, apps: list[tuple[str, dict[str, Any]]], kernel: set[RuleKey], best_effort: bool
    ) -> dict[ListenerKey, socket.socket]:
        got: dict[ListenerKey, socket.socket] = {}
        failures: list[tuple[ListenerKey, int, str]] = []
        for key in _keys(apps, kernel):
            if key in self.reserved:
                continue
            host = self.bind[key[2]]
            try:
                got[key] = reserve(key, host)
            except OSError as e:
                if best_effort or self.deferrable(key):
                    self.deferred.add(key)
                    continue
                failures.append((key, e.errno or 0, f"cannot bind {key[0]} port {key[1]} "
                                 f"({key[2]} {host}): {e.strerror or e}"))  # fmt: skip
        if failures:
            for sock in got.values():
                sock.close()
            raise ReserveFailure(failures)
        return got

    def _retry_deferred(self) -> None:
        wanted = set(_keys(self.current.apps, self.current.kernel)) if self.current else set()
        for key in sorted(self.deferred):
            if key not in wanted or key in self.reserved:
                self.deferred.discard(key)
                continue
            with contextlib.suppress(OSError):
                self.reserved[key] = reserve(key, self.bind[key[2]])
                self.deferred.discard(key)

    # ---- refresh -----------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def close(self, *, remove_table: bool = False) -> None:
        """Stop the background task and release the ports. The table stays (the
        kernel keeps forwarding) unless `remove_table`."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sock in self.reserved.values():
            sock.close()
        self.reserved.clear()
        if remove_table:
            await asyncio.to_thread(self.forwarder.remove)

    async def refresh(self) -> bool:
        """Rebuild when a hostname's answer or a target's health changed; True if it did."""
        async with self.lock:
            current = self.current
            if current is None:
                return False
            resolved = await self._resolve(current.apps, current.kernel)
            health = _health(self.pools)
            if (resolved, health) == current.signature:
                return False
            table = await asyncio.to_thread(self.forwarder.prepare, current.apps, resolved,
                                            health, current.kernel)  # fmt: skip
            await asyncio.to_thread(self.forwarder.commit, table)
            self.current = PathPrepared(current.apps, current.kernel, current.skipped, table,
                                        (resolved, health), self.pools)  # fmt: skip
            log.info("kernel path: origins changed, table rebuilt")
            return True

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval)
            try:
                self._retry_deferred()
                await self.refresh()
                deadline = self.forwarder.next_drain_deadline()
                if deadline is not None and deadline <= time.monotonic():
                    await asyncio.to_thread(self.forwarder.expire_drains)
            except Exception:  # keep refreshing; the next round may succeed
                log.exception("kernel path: refresh failed")

    async def _resolve(
        self, apps: Sequence[tuple[str, dict[str, Any]]], kernel: Collection[RuleKey]
    ) -> dict[str, list[str]]:
        """Current addresses of the hostnames of the kernel rules (unresolvable: absent)."""
        hosts = sorted({
            t["host"]
            for name, spec in apps
            for index, rule in enumerate(spec["rules"])
            if (name, index) in kernel
            for t in rule["origin"]["targets"]
            if ip_literal(t["host"]) is None
        })  # fmt: skip
        answers = await asyncio.gather(
            *(self.resolver.resolve(h) for h in hosts), return_exceptions=True
        )
        out: dict[str, list[str]] = {}
        for host, answer in zip(hosts, answers, strict=True):
            if isinstance(answer, ResolveError):
                continue
            if isinstance(answer, BaseException):
                raise answer
            out[host] = sorted(answer)
        return out


def kernel_rules(
    apps: Sequence[tuple[str, dict[str, Any]]], offered: Collection[RuleKey] | None = None
) -> tuple[set[RuleKey], dict[RuleKey, str]]:
    """(rules the kernel takes, why each other offered rule stays on the relay), from
    the specs alone (IP literals are checked for address families, hostnames pass)."""
    kernel: set[RuleKey] = set()
    skipped: dict[RuleKey, str] = {}
    for name, spec in apps:
        for index, rule in enumerate(spec["rules"]):
            if offered is not None and (name, index) not in offered:
                continue
            why = eligible(rule, ipv6=spec.get("ipv6", False))
            if why is None:
                kernel.add((name, index))
            else:
                skipped[(name, index)] = why
    return kernel, skipped


def _keys(
    apps: Sequence[tuple[str, dict[str, Any]]], kernel: set[RuleKey] | frozenset[RuleKey]
) -> Iterator[ListenerKey]:
    for name, spec in apps:
        fams = ("ipv4", "ipv6") if spec.get("ipv6", False) else ("ipv4",)
        for index, rule in enumerate(spec["rules"]):
            if (name, index) not in kernel:
                continue
            for lo, hi in rule["edge_ports"]:
                for port in range(lo, hi + 1):
                    for family in fams:
                        yield (rule["protocol"], port, family)


def _health(pools: Mapping[RuleKey, HealthSource]) -> dict[tuple[str, int, str], bool]:
    """(app, rule, address) → healthy, for the addresses a pool knows."""
    out: dict[tuple[str, int, str], bool] = {}
    for (app, index), pool in pools.items():
        for row in pool.health():
            if row.get("address"):
                out[(app, index, row["address"])] = bool(row["healthy"])
    return out
