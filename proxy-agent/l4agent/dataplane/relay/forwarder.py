"""The userspace relay as a `Forwarder`: listening sockets, their diff and drains.

It takes every rule it is offered. prepare computes the listener diff keyed by
(protocol, port, family) and binds every *new* socket; if one bind fails,
everything just bound is closed and `ForwardRefused` names the ports. commit swaps:
kept listeners get their new route (new connections see the changed rule, open
ones keep theirs), new listeners start serving, removed listeners stop accepting at
once and their connections drain for up to the drain timeout. abort closes what
prepare bound. A restore after a restart is best effort: ports that cannot be bound
are reported and retried in the background.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from l4agent.dataplane.forwarder import Change, ForwardRefused, Owner
from l4agent.dataplane.relay.base import RelayListener
from l4agent.dataplane.relay.flowtable import FlowTable
from l4agent.dataplane.relay.splice import SpliceListener
from l4agent.dataplane.relay.tcp import TcpListener
from l4agent.dataplane.relay.udp import UdpListener
from l4agent.dataplane.sockets import bind_listener
from l4agent.protocols.errors import Detail, detail
from l4agent.spec import ListenerKey, listener_keys

if TYPE_CHECKING:
    from l4agent.dataplane.routes import Route
    from l4agent.settings import RelaySettings

log = logging.getLogger("l4agent.dataplane")

MAX_REPORTED_FAILURES = 20
RETRY_BIND_INTERVAL = 2.0


def describe(key: ListenerKey, host: str) -> str:
    protocol, port, family = key
    return f"{protocol} port {port} ({family} {host})"


def desired_listeners(
    apps: Mapping[str, dict[str, Any]], rules: frozenset[Owner] | None = None
) -> dict[ListenerKey, Owner]:
    """Every listener the applications need (only those of `rules` when given), with
    the rule that owns it (the caller has checked that no two rules claim one key)."""
    desired: dict[ListenerKey, Owner] = {}
    for name, spec in apps.items():
        for key, index in listener_keys(spec):
            if rules is None or (name, index) in rules:
                desired[key] = (name, index)
    return desired


@dataclass(slots=True)
class RelayPrepared:
    rules: frozenset[Owner]
    desired: dict[ListenerKey, Owner]
    sockets: dict[ListenerKey, socket.socket] = field(default_factory=dict)
    revive: dict[ListenerKey, UdpListener] = field(default_factory=dict)
    removed: set[ListenerKey] = field(default_factory=set)
    failed: dict[ListenerKey, str] = field(default_factory=dict)  # best-effort only


class RelayForwarder:
    path = "relay"

    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self.desired: dict[ListenerKey, Owner] = {}
        self.listeners: dict[ListenerKey, RelayListener] = {}
        self.failed: dict[ListenerKey, str] = {}  # desired but not bound; retried
        self.routes: Mapping[Owner, Route] = {}
        self.table = FlowTable(settings.udp_max_flows, settings.udp_idle_timeout)
        self._draining: dict[RelayListener, asyncio.TimerHandle] = {}
        self._retry: asyncio.Task[None] | None = None

    # ---- the two-step apply --------------------------------------------------------

    def diff(
        self, desired: Mapping[ListenerKey, Owner]
    ) -> tuple[set[ListenerKey], set[ListenerKey]]:
        """(added, removed) listener keys; `failed` keys count as present."""
        current = self.desired.keys()
        return {k for k in desired if k not in current}, {k for k in current if k not in desired}

    async def prepare(self, change: Change) -> RelayPrepared:
        desired = desired_listeners(change.apps, change.offered)
        added, removed = self.diff(desired)
        prepared = RelayPrepared(change.offered, desired, removed=removed)
        draining_udp = {x.key: x for x in self._draining if isinstance(x, UdpListener)}
        failures: list[tuple[ListenerKey, int, str]] = []
        for key in sorted(added):
            if key in draining_udp:
                # a UDP socket still draining keeps its port: take it back instead of
                # binding (held open until commit or abort)
                udp = draining_udp[key]
                self._draining.pop(udp).cancel()
                udp.on_empty = None
                prepared.revive[key] = udp
                continue
            host = self.settings.bind[key[2]]
            try:
                prepared.sockets[key] = bind_listener(
                    key, host, reuse_port=self.settings.reuse_port
                )
            except OSError as e:
                message = f"cannot bind {describe(key, host)}: {e.strerror or e}"
                if change.best_effort:
                    prepared.failed[key] = message
                    continue
                failures.append((key, e.errno or 0, message))
                if len(failures) == MAX_REPORTED_FAILURES:
                    break
        if failures:
            self.abort(prepared)
            raise ForwardRefused(failures)
        return prepared

    def abort(self, prepared: RelayPrepared) -> None:
        for sock in prepared.sockets.values():
            sock.close()
        prepared.sockets.clear()
        for udp in prepared.revive.values():  # back to draining, with a fresh drain timeout
            self._drain(udp)
        prepared.revive.clear()

    async def commit(self, prepared: RelayPrepared, routes: Mapping[Owner, Route]) -> None:
        for key, owner in prepared.desired.items():
            listener = self.listeners.get(key)
            if listener is not None:
                listener.route = routes[owner]
        for key in prepared.removed:
            if self.failed.pop(key, None) is None:
                self._drain(self.listeners.pop(key))
        for key, udp in prepared.revive.items():
            udp.revive(routes[prepared.desired[key]])
            self.listeners[key] = udp
        self.failed.update(prepared.failed)
        sockets, prepared.sockets = prepared.sockets, {}
        for key, sock in sockets.items():
            await self._serve(key, sock, routes[prepared.desired[key]])
        self.desired = prepared.desired
        self.routes = routes
        self._count_bound()
        if self.failed and self._retry is None:
            self._retry = asyncio.get_running_loop().create_task(self._retry_failed())

    async def _serve(self, key: ListenerKey, sock: socket.socket, route: Route) -> None:
        listener: RelayListener
        if key[0] == "tcp" and self.settings.splice:
            listener = SpliceListener(key, sock, route)
        elif key[0] == "tcp":
            listener = TcpListener(key, sock, route)
        else:
            listener = UdpListener(key, sock, route, self.table)
        await listener.start(self.settings)
        self.listeners[key] = listener

    def _count_bound(self) -> None:
        for route in self.routes.values():
            route.stats.listeners_bound = 0
        for listener in self.listeners.values():
            listener.route.stats.listeners_bound += 1

    # ---- draining ----------------------------------------------------------------

    def _drain(self, listener: RelayListener) -> None:
        """Stop accepting at once; drop what is still open after the drain timeout."""
        listener.stop_accepting()
        if not listener.connections:
            return
        loop = asyncio.get_running_loop()
        self._draining[listener] = loop.call_later(
            self.settings.drain_timeout, self._end_drain, listener
        )
        listener.on_empty = lambda: self._drained(listener)

    def _drained(self, listener: RelayListener) -> None:
        """The last connection of a draining listener ended."""
        timer = self._draining.pop(listener, None)
        if timer is not None:
            timer.cancel()
        listener.on_empty = None
        listener.close()

    def _end_drain(self, listener: RelayListener) -> None:
        self._draining.pop(listener, None)
        if listener.connections:
            log.info(
                "drain timeout: closing %d connection(s) of removed %s listener on port %d",
                len(listener.connections),
                listener.key[0],
                listener.key[1],
            )
        listener.on_empty = None
        listener.abort_connections()
        listener.close()

    def draining(self) -> tuple[int, int]:
        return len(self._draining), sum(len(x.connections) for x in self._draining)

    # ---- restore failures --------------------------------------------------------

    async def _retry_failed(self) -> None:
        try:
            while self.failed:
                await asyncio.sleep(RETRY_BIND_INTERVAL)
                for key in sorted(self.failed):
                    host = self.settings.bind[key[2]]
                    try:
                        sock = bind_listener(key, host, reuse_port=self.settings.reuse_port)
                    except OSError as e:
                        self.failed[key] = f"cannot bind {describe(key, host)}: {e.strerror}"
                        continue
                    del self.failed[key]
                    log.info("bound %s after an earlier failure", describe(key, host))
                    await self._serve(key, sock, self.routes[self.desired[key]])
                self._count_bound()
        finally:
            self._retry = None

    # ---- reporting ---------------------------------------------------------------

    def rule_listeners(self, owners: Mapping[Owner, Any]) -> dict[Owner, dict[str, Any]]:
        """Per rule of `owners`: listeners expected, bound and failed (as error details)."""
        out: dict[Owner, dict[str, Any]] = {
            owner: {"expected": 0, "bound": 0, "failed": []} for owner in owners
        }
        for key, owner in self.desired.items():
            entry = out.setdefault(owner, {"expected": 0, "bound": 0, "failed": []})
            entry["expected"] += 1
            if key in self.listeners:
                entry["bound"] += 1
            elif key in self.failed and len(entry["failed"]) < MAX_REPORTED_FAILURES:
                entry["failed"].append(self.failure_detail(key, owner))
        return out

    def bind_errors(self, app: str) -> list[Detail]:
        return [
            self.failure_detail(key, self.desired[key])
            for key in sorted(self.failed)
            if self.desired[key][0] == app
        ][:MAX_REPORTED_FAILURES]

    def failure_detail(self, key: ListenerKey, owner: Owner) -> Detail:
        protocol, port, family = key
        return detail(
            f"rules[{owner[1]}].edge_ports",
            self.failed[key],
            protocol=protocol,
            port=port,
            family=family,
            app=owner[0],
        )

    # ---- shutdown ----------------------------------------------------------------

    async def shutdown(self, drain_timeout: float) -> None:
        """Stop accepting everywhere, let connections finish for up to `drain_timeout`."""
        if self._retry is not None:
            self._retry.cancel()
        for listener in self.listeners.values():
            listener.stop_accepting()
        listeners = [*self.listeners.values(), *self._draining]
        for timer in self._draining.values():
            timer.cancel()
        self._draining.clear()
        self.listeners.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        while any(x.connections for x in listeners) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for listener in listeners:
            listener.abort_connections()
            listener.close()
