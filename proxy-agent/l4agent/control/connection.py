"""One control connection: HTTP/1.1 framing, pipelining, timeouts and refusals.

Timeouts: a request's header section is due `HEADER_TIMEOUT` after connecting (for
the first request) or after its first byte (for later ones), however slowly its
bytes come; the whole request `REQUEST_TIMEOUT` after its first byte; an idle
keep-alive connection is closed after `KEEPALIVE_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, cast

from l4agent.protocols import jsonrpc, strictjson
from l4agent.protocols.errors import INVALID_REQUEST, RpcError
from l4agent.protocols.http11 import CONTINUE, ExpectContinue, HttpError, Request, RequestParser
from l4agent.protocols.http11 import render_response as render

if TYPE_CHECKING:
    from l4agent.control.server import ControlServer

log = logging.getLogger("l4agent.control")

HEADER_TIMEOUT = 10.0  # from connecting (or a request's first byte) to its last header byte
REQUEST_TIMEOUT = 30.0  # from the first byte of a request to its last
KEEPALIVE_TIMEOUT = 75.0  # idle keep-alive connection (nginx's default)
LINGER = 2.0  # after refusing a request, read and discard for this long before closing
MAX_CONNECTIONS = 256
MAX_CONNECTIONS_PER_CLIENT = 32  # per client address; over it, its longest idle one goes
MAX_PIPELINED = 8


def error_body(error: RpcError) -> bytes:
    """A JSON-RPC error reply with `id: null` (for refusals before any call is read)."""
    return strictjson.dumps(jsonrpc.reply_error(None, error))


class ControlConnection(asyncio.Protocol):
    def __init__(self, server: ControlServer) -> None:
        self.server = server
        self.parser = RequestParser(max_body=server.max_body)
        self.transport: asyncio.Transport | None = None
        self.queue: deque[Request] = deque()
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.discarding = False
        self.closing = False
        self.refusal: HttpError | None = None  # answered once the requests before it are
        self.since = 0.0  # when the request being received started (or the connection)
        self.waiting = True  # no request begun since connecting or the last answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        client = str(peer[0]) if peer else ""
        if not self.server.admission.admit(self, client):
            self.server.refused(client)
            self.closing = True
            transport.abort()
            return
        self.server.connections.add(self)
        # the first request's header is due HEADER_TIMEOUT after connecting, however
        # slowly its bytes come
        self.since = asyncio.get_running_loop().time()
        self.waiting = False
        self._arm(HEADER_TIMEOUT)

    def evict(self) -> None:
        """Over a connection cap, this idle connection makes room for a new one."""
        self.closing = True
        self.close()
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.discarding or self.closing or self.refusal is not None:
            return
        parser = self.parser
        had_head = parser.awaiting_body
        try:
            events = parser.feed(data)
        except HttpError as e:
            self._refuse_after_queue(e)
            return
        for event in events:
            if isinstance(event, ExpectContinue):
                self.transport.write(CONTINUE)  # type: ignore[union-attr]
            else:
                self.queue.append(event)
        if self.waiting and parser.in_progress:  # the first byte of a request
            self.waiting = False
            self.since = asyncio.get_running_loop().time()
            self._arm(HEADER_TIMEOUT)
        if parser.awaiting_body and not had_head:
            self._arm_at(self.since + REQUEST_TIMEOUT)
        if len(self.queue) >= MAX_PIPELINED:
            self.transport.pause_reading()  # type: ignore[union-attr]
        if self.queue and self.task is None:
            self._start()

    def _start(self) -> None:
        self._cancel_timer()
        self.server.admission.busy(self)
        self.task = asyncio.get_running_loop().create_task(self._process())

    def _refuse_after_queue(self, error: HttpError) -> None:
        """A malformed request: the requests pipelined before it are answered first,
        then the refusal; nothing after it is read."""
        self.queue.extend(e for e in error.events if isinstance(e, Request))
        if self.task is None and not self.queue:
            self._refuse(error)
            return
        self.refusal = error
        self.transport.pause_reading()  # type: ignore[union-attr]
        if self.task is None:
            self._start()

    def eof_received(self) -> bool:
        if self.discarding or (self.task is None and not self.queue):
            self.close()
            return False
        self.closing = True  # answer what was received, then close
        return True

    async def _process(self) -> None:
        transport = self.transport
        assert transport is not None
        try:
            while self.queue:
                request = self.queue.popleft()
                try:
                    status, body, content_type, headers = await self.server.handle(request)
                except Exception:
                    log.exception("control: %s %s failed", request.method, request.target)
                    error = RpcError("INTERNAL", "internal error")
                    status, body, content_type, headers = (
                        500,
                        error_body(error),
                        "application/json",
                        [],
                    )
                # a client that half-closed gets every answer; the last one closes
                last = not self.queue
                keep = request.keep_alive and not (self.closing and last)
                if transport.is_closing() or self.discarding:
                    return
                transport.write(
                    render(
                        status, body, content_type=content_type, keep_alive=keep, headers=headers
                    )
                )
                if not keep:
                    self.close()
                    return
                transport.resume_reading()
        finally:
            self.task = None
        if self.refusal is not None:
            self._refuse(self.refusal)
        elif self.closing:
            self.close()
        elif not transport.is_closing():
            self.server.admission.idle(self)
            self.since = asyncio.get_running_loop().time()
            if self.parser.awaiting_body:
                self._arm(REQUEST_TIMEOUT)
            elif self.parser.in_progress:
                self._arm(HEADER_TIMEOUT)
            else:
                self.waiting = True
                self._arm(KEEPALIVE_TIMEOUT)

    def _refuse(self, error: HttpError) -> None:
        """Answer a request we will not read, then linger so the client sees the answer."""
        status = "RESOURCE_EXHAUSTED" if error.status in (413, 431) else "INVALID_ARGUMENT"
        body = error_body(RpcError(status, error.message, code=INVALID_REQUEST))
        transport = self.transport
        assert transport is not None
        # a request already being handled runs to completion (an apply is never cut
        # short half-way); its answer is dropped
        self.queue.clear()
        transport.write(render(error.status, body, keep_alive=False))
        self.discarding = True
        if transport.can_write_eof():
            transport.write_eof()
            self._arm(LINGER)
        else:
            self.close()

    def _arm(self, seconds: float) -> None:
        self._arm_at(asyncio.get_running_loop().time() + seconds)

    def _arm_at(self, when: float) -> None:
        self._cancel_timer()
        self.timer = asyncio.get_running_loop().call_at(when, self._timeout)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _timeout(self) -> None:
        self.timer = None
        if self.discarding or not self.parser.in_progress:
            self.close()
            return
        self._refuse(HttpError(408, "request not received in time"))

    def close(self) -> None:
        self._cancel_timer()
        if self.transport is not None:
            self.transport.close()
        self.server.connections.discard(self)
        self.server.admission.release(self)

    def connection_lost(self, exc: Exception | None) -> None:
        # a running handler is not cancelled: an apply completes even if its caller left
        self._cancel_timer()
        self.queue.clear()
        self.server.connections.discard(self)
        self.server.admission.release(self)
