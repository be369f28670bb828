"""TCP listeners and the relay between a client and an origin connection.

Event path: asyncio `Protocol`s (uvloop when installed). Each side writes what it
reads straight into the other side's transport (no per-chunk copies in Python);
back-pressure pauses reading on one side while the other side's write buffer is
above its high-water mark; half-close forwards EOF with `write_eof()`; the
connection is closed once both directions have ended, or after the idle timeout.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from l4agent.proxyproto import encode_v1, encode_v2
from l4agent.resolver import ResolveError
from l4agent.sockets import LISTEN_BACKLOG, set_keepalive
from l4agent.spec import ListenerKey

if TYPE_CHECKING:
    from l4agent.origins import Target
    from l4agent.routes import Route
    from l4agent.settings import RelaySettings

log = logging.getLogger("l4agent.tcp")

# Write-buffer watermarks per transport: reading the other side pauses above HIGH and
# resumes below LOW. Large enough for full-size reads to flow without stalling.
HIGH_WATER = 1 << 20
LOW_WATER = 256 << 10
# The idle timer checks this many times per idle timeout, so an idle connection is
# closed between 1 and 1 + 1/IDLE_CHECKS idle timeouts after its last byte.
IDLE_CHECKS = 4


class TcpListener:
    """One listening socket (protocol tcp, one port, one family)."""

    def __init__(self, key: ListenerKey, sock: socket.socket, route: Route) -> None:
        self.key = key
        self.sock = sock
        self.route = route
        self.server: asyncio.AbstractServer | None = None
        self.connections: set[Relay] = set()
        self.settings: RelaySettings | None = None
        self.on_empty: Callable[[], None] | None = None  # set while draining

    async def start(self, settings: RelaySettings) -> None:
        self.settings = settings
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: Relay(self), sock=self.sock, backlog=LISTEN_BACKLOG
        )

    def stop_accepting(self) -> None:
        """Close the listening socket; open connections are left alone."""
        if self.server is not None:
            self.server.close()
        else:
            self.sock.close()

    def abort_connections(self) -> None:
        for relay in list(self.connections):
            relay.abort()

    def forget(self, relay: Relay) -> None:
        self.connections.discard(relay)
        if not self.connections and self.on_empty is not None:
            self.on_empty()


class Relay(asyncio.Protocol):
    """The client side of one relayed connection; `OriginSide` is the other side."""

    __slots__ = (
        "_activity",
        "_checks",
        "_client_eof",
        "_connecting",
        "_done",
        "_early",
        "_origin_eof",
        "_seen",
        "_timer",
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
        self.target: Target | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._client_eof = False
        self._origin_eof = False
        self._done = False
        self._early: list[bytes] = []
        self._activity = 0
        self._seen = 0
        self._checks = 0

    # ---- client side -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        route = self.route
        stats = self.stats
        stats.connections_total += 1
        peer = transport.get_extra_info("peername")
        if route.acl is not None and not route.acl.allows(peer[0]):
            stats.acl_denials += 1
            self._done = True
            transport.abort()
            return
        stats.connections_active += 1
        self.listener.connections.add(self)
        transport.pause_reading()
        transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        if route.keepalive:
            set_keepalive(transport.get_extra_info("socket"))
        self._connecting = asyncio.get_running_loop().create_task(self._connect(peer))

    async def _connect(self, peer: tuple[str, int]) -> None:
        route = self.route
        settings = self.listener.settings
        assert settings is not None and self.transport is not None
        try:
            targets = await route.pool.candidates((peer[0], peer[1]))
        except ResolveError as e:
            log.warning("%s rule %d: %s", route.app, route.index, e)
            targets = []
        except Exception:
            log.exception("%s rule %d: picking an origin failed", route.app, route.index)
            targets = []
        if not targets:
            self.stats.no_healthy_origin += 1
            self.transport.close()
            return
        local = self.transport.get_extra_info("sockname")
        port = route.ports.origin_port(local[1], peer[0])
        loop = asyncio.get_running_loop()
        for target in targets:
            try:
                async with asyncio.timeout(settings.connect_timeout):
                    origin, _ = await loop.create_connection(
                        lambda: OriginSide(self), target.address, port
                    )
            except (OSError, TimeoutError) as e:
                target.failed()
                self.stats.origin_connect_failures += 1
                log.debug("connect to %s:%d failed: %r", target.address, port, e)
                continue
            break
        else:
            self.transport.close()
            return
        origin = cast(asyncio.Transport, origin)
        if self._done:  # the client went away while we were connecting
            origin.close()
            return
        target.connected()
        self.target = target
        self.origin = origin
        origin.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        if route.keepalive:
            set_keepalive(origin.get_extra_info("socket"))
        if route.passthrough == "proxy_v1":
            origin.write(encode_v1((peer[0], peer[1]), (local[0], local[1])))
        elif route.passthrough == "proxy_v2":
            origin.write(encode_v2((peer[0], peer[1]), (local[0], local[1]), dgram=False))
        if self._early:
            origin.writelines(self._early)
            self._early.clear()
        if self._client_eof:
            origin.write_eof()
        if not route.keepalive and settings.idle_timeout > 0:
            self._arm_idle(settings.idle_timeout / IDLE_CHECKS)
        if not self._client_eof:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        origin = self.origin
        if origin is None:  # still connecting (uvloop may deliver before pause took effect)
            self._early.append(data)
            self.transport.pause_reading()  # type: ignore[union-attr]
        else:
            origin.write(data)
        n = len(data)
        self._activity += n
        self.stats.bytes_in += n

    def eof_received(self) -> bool:
        self._client_eof = True
        origin = self.origin
        if origin is not None and not origin.is_closing():
            origin.write_eof()
        if self._origin_eof:
            self._finish()
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
        self._finish()

    # ---- origin side (called by OriginSide) --------------------------------------

    def origin_data(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]
        n = len(data)
        self._activity += n
        self.stats.bytes_out += n

    def origin_eof(self) -> bool:
        self._origin_eof = True
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write_eof()
        if self._client_eof:
            self._finish()
        return True

    def origin_paused(self) -> None:
        self.transport.pause_reading()  # type: ignore[union-attr]

    def origin_resumed(self) -> None:
        if not self._client_eof:
            self.transport.resume_reading()  # type: ignore[union-attr]

    def origin_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.transport is not None:
            self.transport.abort()
        self._finish()

    # ---- lifetime ----------------------------------------------------------------

    def _arm_idle(self, interval: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(interval, self._idle_check, interval)

    def _idle_check(self, interval: float) -> None:
        if self._activity != self._seen:
            self._seen = self._activity
            self._checks = 0
        else:
            self._checks += 1
            if self._checks >= IDLE_CHECKS:
                log.debug("%s rule %d: idle timeout", self.route.app, self.route.index)
                self._timer = None
                self.abort()
                return
        self._arm_idle(interval)

    def abort(self) -> None:
        """Drop both sides at once (idle timeout, end of a drain)."""
        if self.origin is not None:
            self.origin.abort()
        if self.transport is not None:
            self.transport.abort()
        self._finish()

    def _finish(self) -> None:
        """Close both sides (flushing what is buffered) and release everything, once."""
        if self._done:
            return
        self._done = True
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.close()
        if self.origin is not None:
            self.origin.close()
        if self.target is not None:
            self.target.released()
        self.stats.connections_active -= 1
        self.listener.forget(self)


class OriginSide(asyncio.Protocol):
    """The origin connection's protocol: forwards everything to its `Relay`."""

    __slots__ = ("relay",)

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def data_received(self, data: bytes) -> None:
        self.relay.origin_data(data)

    def eof_received(self) -> bool:
        return self.relay.origin_eof()

    def pause_writing(self) -> None:
        self.relay.origin_paused()

    def resume_writing(self) -> None:
        self.relay.origin_resumed()

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.origin_lost(exc)
