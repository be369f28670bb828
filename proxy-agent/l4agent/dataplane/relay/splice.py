"""The zero-copy TCP relay (`--splice`): os.splice() socket → pipe → socket.

Listeners accept raw non-blocking sockets (no asyncio transports); once the origin
connection is established and the PROXY header (if any) is written, each direction
moves bytes through its own pipe with `os.splice`, so payload bytes never enter
Python. Readiness comes from the event loop (`add_reader`/`add_writer`). Behaviour is
the same as `tcp_relay`: ACL check at accept, origin candidates tried in order with
the connect timeout, half-close, back-pressure (a direction stops reading while its
destination cannot take more), idle timeout, keep-alive protection, draining.

Each connection costs 6 file descriptors (2 sockets, 2 pipes) instead of 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import socket
from typing import TYPE_CHECKING

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
)
from l4agent.dataplane.sockets import EXHAUSTION, set_keepalive
from l4agent.spec import ListenerKey

if TYPE_CHECKING:
    from l4agent.dataplane.origins import Target
    from l4agent.dataplane.routes import Route
    from l4agent.settings import RelaySettings

log = logging.getLogger("l4agent.splice")

PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = 1031
SPLICE_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
ACCEPTS_PER_WAKEUP = 64


class SpliceListener(RelayListener):
    """A listening TCP socket whose connections are relayed with splice."""

    def __init__(self, key: ListenerKey, sock: socket.socket, route: Route) -> None:
        super().__init__(key, sock, route)
        self.connections: set[SplicedConnection] = set()
        self.settings: RelaySettings | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, settings: RelaySettings) -> None:
        self.settings = settings
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                conn, peer = self.sock.accept()
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in EXHAUSTION:
                    log.error("accept on %s port %d: %s", self.key[0], self.key[1], e.strerror)
                return
            conn.setblocking(False)
            SplicedConnection(self, conn, peer).start()

    def stop_accepting(self) -> None:
        if self._loop is not None and self.sock.fileno() >= 0:
            self._loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def forget(self, relay: SplicedConnection) -> None:
        self.connections.discard(relay)
        if not self.connections:
            self.emptied()


class SplicedConnection:
    """One client connection and its origin connection."""

    def __init__(self, listener: SpliceListener, client: socket.socket, peer: tuple) -> None:  # type: ignore[type-arg]
        self.listener = listener
        self.route = listener.route
        self.stats = self.route.stats
        self.loop = asyncio.get_running_loop()
        self.client = client
        self.peer = (peer[0], peer[1])
        self.origin: socket.socket | None = None
        self.target: Target | None = None
        self.pumps: list[Pump] = []
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.activity = 0
        self._seen = 0
        self._checks = 0
        self.closed = False
        self.ended_first: str | None = None  # the side whose EOF came first

    def start(self) -> None:
        route = self.route
        self.stats.connections_total += 1
        if not admitted(route, self.peer[0]):
            self.closed = True
            closed(self.stats, "acl_denied")
            self.client.close()
            return
        self.stats.connections_active += 1
        self.listener.connections.add(self)
        if route.keepalive:
            set_keepalive(self.client)
        self.task = self.loop.create_task(self._connect())

    async def _connect(self) -> None:
        route = self.route
        settings = self.listener.settings
        assert settings is not None
        found = await targets(route, self.peer)
        if not found:
            no_target(route)
            self.close("no_healthy_origin")
            return
        local = self.client.getsockname()
        port = origin_port(route, local[1], self.peer[0])
        why = "connect_failed"
        for target in found:
            family = socket.AF_INET6 if ":" in target.address else socket.AF_INET
            origin = socket.socket(family, socket.SOCK_STREAM)
            origin.setblocking(False)
            try:
                async with asyncio.timeout(settings.connect_timeout):
                    await self.loop.sock_connect(origin, (target.address, port))
            except (OSError, TimeoutError) as e:
                origin.close()
                why = connect_failed(route, target, port, e)
                continue
            except asyncio.CancelledError:
                origin.close()
                raise
            break
        else:
            self.close(why)
            return
        target.connected()
        self.target = target
        self.origin = origin
        if route.keepalive:
            set_keepalive(origin)
        header = client_header(route, self.peer, (local[0], local[1]), dgram=False)
        try:
            self.pumps = [
                Pump(self, self.client, origin, "client", header),
                Pump(self, origin, self.client, "origin", b""),
            ]
        except OSError as e:  # out of file descriptors for the pipes
            log.error("splice pipes: %s", e.strerror)
            self.close("error")
            return
        for pump in self.pumps:
            pump.start()
        if not route.keepalive and settings.idle_timeout > 0:
            self._arm_idle(settings.idle_timeout / IDLE_CHECKS)

    def pump_done(self, pump: Pump) -> None:
        if self.ended_first is None:
            self.ended_first = pump.side
        if all(p.done for p in self.pumps):
            self.close(self.ended_first)

    def _arm_idle(self, interval: float) -> None:
        self.timer = self.loop.call_later(interval, self._idle_check, interval)

    def _idle_check(self, interval: float) -> None:
        self.timer = None
        if self.activity != self._seen:
            self._seen = self.activity
            self._checks = 0
        else:
            self._checks += 1
            if self._checks >= IDLE_CHECKS:
                self.close("idle_timeout")
                return
        self._arm_idle(interval)

    def abort(self) -> None:
        self.close("drain_timeout")

    def close(self, reason: str) -> None:
        """Close both sides and release everything, once; counts why (`reason`)."""
        if self.closed:
            return
        self.closed = True
        closed(self.stats, reason)
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.timer is not None:
            self.timer.cancel()
        for pump in self.pumps:
            pump.close()
        for sock in (self.client, self.origin):
            if sock is not None:
                sock.close()
        if self.target is not None:
            self.target.released()
        self.stats.connections_active -= 1
        self.listener.forget(self)


class Pump:
    """One direction: src → pipe → dst, with back-pressure and half-close."""

    def __init__(
        self,
        relay: SplicedConnection,
        src: socket.socket,
        dst: socket.socket,
        side: str,
        prefix: bytes,
    ) -> None:
        """`side` is "client" or "origin": the side `src` is (what its EOF ends, which
        counter its bytes go to); `dst` is the other."""
        self.relay = relay
        self.loop = relay.loop
        self.src = src.fileno()
        self.dst_sock = dst
        self.dst = dst.fileno()
        self.side = side
        self.counter = "bytes_in" if side == "client" else "bytes_out"
        self.peer_side = "origin" if side == "client" else "client"
        self.prefix = prefix
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        with contextlib.suppress(OSError):  # else the default size (see fs.pipe-max-size)
            fcntl.fcntl(self.w, F_SETPIPE_SZ, PIPE_SIZE)
        self.in_pipe = 0
        self.eof = False
        self.done = False
        self.reading = False
        self.writing = False

    def start(self) -> None:
        if self.prefix:
            self._flush()
        else:
            self._read_on()

    def _read_on(self) -> None:
        if not self.reading:
            self.reading = True
            self.loop.add_reader(self.src, self._readable)

    def _read_off(self) -> None:
        if self.reading:
            self.reading = False
            self.loop.remove_reader(self.src)

    def _readable(self) -> None:
        try:
            n = os.splice(self.src, self.w, PIPE_SIZE, flags=SPLICE_FLAGS)
        except BlockingIOError:
            return
        except OSError as e:
            self._fail(e, self.side)
            return
        if n == 0:
            self.eof = True
            self._read_off()
        else:
            self.in_pipe += n
            relay = self.relay
            relay.activity += n
            stats = relay.stats
            setattr(stats, self.counter, getattr(stats, self.counter) + n)
        self._flush()

    def _flush(self) -> None:
        try:
            while self.prefix:
                sent = self.dst_sock.send(self.prefix)
                self.prefix = self.prefix[sent:]
            while self.in_pipe:
                self.in_pipe -= os.splice(self.r, self.dst, self.in_pipe, flags=SPLICE_FLAGS)
        except BlockingIOError:
            self._read_off()
            if not self.writing:
                self.writing = True
                self.loop.add_writer(self.dst, self._writable)
            return
        except OSError as e:
            self._fail(e, self.peer_side)
            return
        if self.eof:
            self._finish()
        else:
            self._read_on()

    def _writable(self) -> None:
        self.writing = False
        self.loop.remove_writer(self.dst)
        self._flush()

    def _finish(self) -> None:
        """The source ended and everything was written: forward the EOF."""
        try:
            self.dst_sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            if e.errno != errno.ENOTCONN:
                log.debug("shutdown: %r", e)
        self.done = True
        self.relay.pump_done(self)

    def _fail(self, error: OSError, side: str) -> None:
        """Reading from or writing to `side` failed (a reset, mostly)."""
        log.debug("splice: %r", error)
        self.relay.close(f"{side}_reset")

    def close(self) -> None:
        self._read_off()
        if self.writing:
            self.writing = False
            self.loop.remove_writer(self.dst)
        for fd in (self.r, self.w):
            os.close(fd)
        self.r = self.w = -1
        self.done = True
