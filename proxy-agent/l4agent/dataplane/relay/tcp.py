"""TCP listeners and the relay between a client and an origin connection.

Event path: asyncio `BufferedProtocol`s (uvloop when installed). Each side reads into
the process's receive buffer (`readbuffer.py`) and writes what it read to the other
side's transport as a slice of it, so a read costs no bytes object and no copy;
back-pressure pauses reading on one side while the other side's write buffer is
above its high-water mark; half-close forwards EOF with `write_eof()`; the
connection is closed once both directions have ended, or after the idle timeout.

The connect path is callbacks, not a coroutine per connection: the origin pool
answers synchronously when no DNS query is needed (`candidates_now`), each connect
attempt is `loop.create_connection` run as a task with a done callback, and its
timeout is one timer handle. A coroutine runs only when a hostname must be resolved.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from l4agent.dataplane.relay.base import (
    IDLE_CHECKS,
    RelayListener,
    admitted,
    client_header,
    closed,
    connect_failed,
    no_target,
    origin_port,
    targets,
    targets_now,
)
from l4agent.dataplane.relay.readbuffer import READ
from l4agent.dataplane.sockets import LISTEN_BACKLOG, set_keepalive
from l4agent.spec import ListenerKey

if TYPE_CHECKING:
    from l4agent.dataplane.origins import Target
    from l4agent.dataplane.routes import Route
    from l4agent.settings import RelaySettings

log = logging.getLogger("l4agent.tcp")

# Write-buffer watermarks per transport: reading the other side pauses above HIGH and
# resumes below LOW. Large enough for full-size reads to flow without stalling.
HIGH_WATER = 1 << 20
LOW_WATER = 256 << 10


class TcpListener(RelayListener):
    """One listening socket (protocol tcp, one port, one family)."""

    def __init__(self, key: ListenerKey, sock: socket.socket, route: Route) -> None:
        super().__init__(key, sock, route)
        self.server: asyncio.AbstractServer | None = None
        self.connections: set[ClientSide] = set()
        self.settings: RelaySettings | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._sweep: asyncio.TimerHandle | None = None  # the idle check, while one is due

    async def start(self, settings: RelaySettings) -> None:
        self.settings = settings
        self.loop = loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: ClientSide(self), sock=self.sock, backlog=LISTEN_BACKLOG
        )

    def stop_accepting(self) -> None:
        """Close the listening socket; open connections are left alone."""
        if self.server is not None:
            self.server.close()
        else:
            self.sock.close()

    def forget(self, relay: ClientSide) -> None:
        self.connections.discard(relay)
        if not self.connections:
            if self._sweep is not None:
                self._sweep.cancel()
                self._sweep = None
            self.emptied()

    def watch_idle(self) -> None:
        """A connection is subject to the idle timeout: make sure the check runs."""
        if self._sweep is None:
            self._arm_sweep()

    def _arm_sweep(self) -> None:
        assert self.loop is not None and self.settings is not None
        interval = self.settings.idle_timeout / IDLE_CHECKS
        self._sweep = self.loop.call_later(interval, self._check_idle)

    def _check_idle(self) -> None:
        watched = False
        for relay in list(self.connections):
            watched = relay.idle_check() or watched
        self._sweep = None
        if watched:
            self._arm_sweep()


class ClientSide(asyncio.BufferedProtocol):
    """The client side of one relayed connection, and the relay's state; `OriginSide`
    is the other side."""

    __slots__ = (
        "_activity",
        "_checks",
        "_client_eof",
        "_connecting",
        "_done",
        "_early",
        "_idle_watch",
        "_origin_eof",
        "_peer",
        "_port",
        "_seen",
        "_targets",
        "_timer",
        "_why",
        "listener",
        "origin",
        "route",
        "stats",
        "target",
        "transport",
    )

    def __init__(self, listener: TcpListener) -> None:
        self.listener = listener
        self.route = listener.route
        self.stats = self.route.stats
        self.transport: asyncio.Transport | None = None
        self.origin: asyncio.Transport | None = None
        self.target: Target | None = None  # the target connected to, or being tried
        self._connecting: asyncio.Task[Any] | None = None  # resolving or connecting
        self._timer: asyncio.TimerHandle | None = None  # the connect timeout
        self._targets: Iterator[Target] = iter(())  # the targets left to try
        self._peer: tuple[str, int] = ("", 0)
        self._port = 0  # the origin port
        self._client_eof = False
        self._origin_eof = False
        self._done = False
        self._early: list[bytes] = []
        self._idle_watch = False  # subject to the idle timeout (connected, no keepalive)
        self._activity = 0  # bytes relayed either way
        self._seen = -1  # _activity at the last idle check (-1: none yet)
        self._checks = 0  # consecutive idle checks without activity
        self._why: str | None = None  # the close reason, when known before it closes

    # ---- client side -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        route = self.route
        stats = self.stats
        stats.connections_total += 1
        peer = transport.get_extra_info("peername")
        if not admitted(route, peer[0]):
            self._done = True
            closed(stats, "acl_denied")
            transport.abort()
            return
        stats.connections_active += 1
        self.listener.connections.add(self)
        self._peer = (peer[0], peer[1])
        self.transport.pause_reading()
        self.transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        if route.keepalive:
            set_keepalive(transport.get_extra_info("socket"))
        found = targets_now(route, self._peer)
        if found is None:  # a hostname must be resolved first
            loop = self.listener.loop
            assert loop is not None
            self._connecting = loop.create_task(self._resolve())
        else:
            self._start(found)

    async def _resolve(self) -> None:
        found = await targets(self.route, self._peer)
        self._connecting = None
        if not self._done:
            self._start(found)

    def _start(self, found: list[Target]) -> None:
        """Try the targets in order; close the client when there are none."""
        if not found:
            no_target(self.route)
            self._why = "no_healthy_origin"
            self.transport.close()  # type: ignore[union-attr]
            return
        # the listener's port is the local port: no address to convert
        self._port = origin_port(self.route, self.listener.key[1], self._peer[0])
        self._targets = iter(found)
        self._try_next()

    def _try_next(self, why: str = "connect_failed") -> None:
        """Connect to the next target, or close the client (`why`) when none is left."""
        target = next(self._targets, None)
        if target is None:
            self._why = why
            self.transport.close()  # type: ignore[union-attr]
            return
        self.target = target
        loop = self.listener.loop
        settings = self.listener.settings
        assert loop is not None and settings is not None
        task = loop.create_task(
            loop.create_connection(self._origin_side, target.address, self._port)
        )
        task.add_done_callback(self._connect_done)
        self._connecting = task
        self._timer = loop.call_later(settings.connect_timeout, task.cancel)

    def _origin_side(self) -> OriginSide:
        return OriginSide(self)

    def _connect_done(self, task: asyncio.Task[tuple[asyncio.BaseTransport, Any]]) -> None:
        self._connecting = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        target = self.target
        assert target is not None
        if task.cancelled():
            if self._done:  # cancelled by _finish: the client went away
                self.target = None
                return
            error: BaseException | None = TimeoutError("connect timeout")
        else:
            error = task.exception()
        if error is not None:
            self.target = None
            why = connect_failed(self.route, target, self._port, error)
            if not self._done:
                self._try_next(why)
            return
        origin = cast(asyncio.Transport, task.result()[0])
        if self._done:  # the client went away while we were connecting
            self.target = None
            origin.close()
            return
        self._connected(target, origin)

    def _connected(self, target: Target, origin: asyncio.Transport) -> None:
        route = self.route
        settings = self.listener.settings
        transport = self.transport
        assert settings is not None and transport is not None
        target.connected()
        self.origin = origin
        origin.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        if route.keepalive:
            set_keepalive(origin.get_extra_info("socket"))
        # the header and what the client sent meanwhile leave in one writev, not one
        # send each (the profile's largest cost after the event loop itself)
        first = self._early
        if route.passthrough != "off":
            local = transport.get_extra_info("sockname")  # cached by the transport
            first.insert(0, client_header(route, self._peer, (local[0], local[1]), dgram=False))
        if first:
            origin.writelines(first)
            first.clear()
        if self._client_eof:
            origin.write_eof()
        if not route.keepalive and settings.idle_timeout > 0:
            self._idle_watch = True
            self.listener.watch_idle()
        if not self._client_eof:
            transport.resume_reading()

    get_buffer = READ.get_buffer  # every read lands in the process's receive buffer

    def buffer_updated(self, n: int) -> None:
        origin = self.origin
        if origin is None:  # still connecting (uvloop starts reading after connection_made)
            self._early.append(READ.view[:n].tobytes())
            self.transport.pause_reading()  # type: ignore[union-attr]
        else:
            READ.forward(n, origin)
        self._activity += n
        self.stats.bytes_in += n

    def eof_received(self) -> bool:
        self._client_eof = True
        if self._origin_eof:  # both directions ended: closing sends the FIN (no shutdown)
            self._finish("origin")
            return True
        origin = self.origin
        if origin is not None and not origin.is_closing():
            origin.write_eof()
        return True

    def pause_writing(self) -> None:
        if self.origin is not None:
            self.origin.pause_reading()

    def resume_writing(self) -> None:
        if self.origin is not None and not self._origin_eof:
            self.origin.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.origin is not None:
            self.origin.abort()
        self._finish("client" if exc is None else "client_reset")

    # ---- origin side (called by OriginSide) --------------------------------------

    def origin_data(self, n: int) -> None:
        READ.forward(n, self.transport)  # type: ignore[arg-type]
        self._activity += n
        self.stats.bytes_out += n

    def origin_eof(self) -> bool:
        self._origin_eof = True
        if self._client_eof:  # both directions ended: closing sends the FIN (no shutdown)
            self._finish("client")
            return True
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write_eof()
        return True

    def origin_paused(self) -> None:
        self.transport.pause_reading()  # type: ignore[union-attr]

    def origin_resumed(self) -> None:
        if not self._client_eof:
            self.transport.resume_reading()  # type: ignore[union-attr]

    def origin_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.transport is not None:
            self.transport.abort()
        self._finish("origin" if exc is None else "origin_reset")

    # ---- lifetime ----------------------------------------------------------------

    def idle_check(self) -> bool:
        """One of the listener's idle checks; whether this connection still needs them."""
        if not self._idle_watch or self._done:
            return False
        if self._activity != self._seen:
            self._seen = self._activity
            self._checks = 0
            return True
        self._checks += 1
        if self._checks < IDLE_CHECKS:
            return True
        log.debug("%s rule %d: idle timeout", self.route.app, self.route.index)
        self._why = "idle_timeout"
        self.abort()
        return False

    def abort(self) -> None:
        """Drop both sides at once (idle timeout, end of a drain)."""
        if self.origin is not None:
            self.origin.abort()
        if self.transport is not None:
            self.transport.abort()
        self._finish("drain_timeout")

    def _finish(self, reason: str) -> None:
        """Close both sides (flushing what is buffered), release and count it, once."""
        if self._done:
            return
        self._done = True
        closed(self.stats, self._why or reason)
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.close()
        if self.origin is not None:
            self.origin.close()
        if self.target is not None and self.origin is not None:
            self.target.released()
        self.stats.connections_active -= 1
        self.listener.forget(self)


class OriginSide(asyncio.BufferedProtocol):
    """The origin connection's protocol: forwards everything to its `ClientSide`."""

    __slots__ = ("relay",)

    def __init__(self, relay: ClientSide) -> None:
        self.relay = relay

    get_buffer = READ.get_buffer  # every read lands in the process's receive buffer

    def buffer_updated(self, n: int) -> None:
        self.relay.origin_data(n)

    def eof_received(self) -> bool:
        return self.relay.origin_eof()

    def pause_writing(self) -> None:
        self.relay.origin_paused()

    def resume_writing(self) -> None:
        self.relay.origin_resumed()

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.origin_lost(exc)
