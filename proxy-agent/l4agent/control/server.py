"""The control endpoint: HTTP/1.1 over TCP (TLS when configured), `POST /rpc` and
`GET /metrics`. This layer only moves bytes; framing is `http11`, JSON-RPC is
`jsonrpc`, the methods are `api`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from typing import cast

from l4agent.control.admission import Admission
from l4agent.control.api import Api, CallContext
from l4agent.control.errors import INVALID_REQUEST, RpcError
from l4agent.protocols import jsonrpc, strictjson
from l4agent.protocols.http11 import CONTINUE, ExpectContinue, HttpError, Request, RequestParser
from l4agent.protocols.http11 import render_response as render

log = logging.getLogger("l4agent.control")

HEADER_TIMEOUT = 10.0  # from connecting (or a request's first byte) to its last header byte
REQUEST_TIMEOUT = 30.0  # from the first byte of a request to its last
KEEPALIVE_TIMEOUT = 75.0  # idle keep-alive connection (nginx's default)
LINGER = 2.0  # after refusing a request, read and discard for this long before closing
MAX_CONNECTIONS = 256
MAX_CONNECTIONS_PER_CLIENT = 32  # per client address; over it, its longest idle one goes
MAX_PIPELINED = 8
MAX_TIMEOUT_MS = 24 * 3600 * 1000
# Bodies up to this size are decoded on the event loop (well under a millisecond);
# larger ones in a thread, so that decoding never holds up the relay.
INLINE_BODY = 64 << 10

Response = tuple[int, bytes, str, list[tuple[str, str]]]
MetricsSource = Callable[[], Awaitable[tuple[bytes, str]]]


def error_body(error: RpcError) -> bytes:
    return strictjson.dumps(jsonrpc.reply_error(None, error))


class ControlServer:
    def __init__(
        self,
        api: Api,
        *,
        token: str | None,
        max_body: int,
        max_batch: int,
        metrics: MetricsSource,
    ) -> None:
        self.api = api
        self._token = token.encode() if token is not None else None
        self.max_body = max_body
        self.max_batch = max_batch
        self._metrics = metrics
        self._server: asyncio.AbstractServer | None = None
        self.connections: set[ControlConnection] = set()
        self.admission = Admission(MAX_CONNECTIONS, MAX_CONNECTIONS_PER_CLIENT)
        self._refused_logged = 0.0

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ControlConnection(self),
            host,
            port,
            ssl=tls,
            reuse_address=True,
            ssl_handshake_timeout=HEADER_TIMEOUT if tls is not None else None,
        )

    def refused(self, client: str) -> None:
        """A connection was refused: every one in its way was busy (logged once a minute)."""
        now = asyncio.get_running_loop().time()
        if now - self._refused_logged >= 60.0:
            self._refused_logged = now
            log.warning(
                "control: refusing connections from %s: %d open, all busy (at most %d, "
                "%d per client)",
                client,
                len(self.admission),
                MAX_CONNECTIONS,
                MAX_CONNECTIONS_PER_CLIENT,
            )

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close()

    def _authorized(self, request: Request) -> bool:
        if self._token is None:
            return True
        scheme, _, given = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)

    async def handle(self, request: Request) -> Response:
        path = request.target.partition("?")[0]
        if path == "/rpc":
            if request.method != "POST":
                return _refuse(405, "use POST /rpc", [("Allow", "POST")])
            if not self._authorized(request):
                error = RpcError("UNAUTHENTICATED", "missing or wrong bearer token")
                return 401, error_body(error), "application/json", [("WWW-Authenticate", "Bearer")]
            try:
                deadline = _deadline(request.header("l4-timeout-ms"))
            except RpcError as e:
                return 400, error_body(e), "application/json", []
            if len(request.body) > INLINE_BODY:  # decoded beside the loop, not on it
                parsed = await asyncio.to_thread(
                    jsonrpc.parse, request.body, max_batch=self.max_batch
                )
            else:
                parsed = jsonrpc.parse(request.body, max_batch=self.max_batch)
            replies = await jsonrpc.run_calls(parsed, self.api.methods, CallContext(deadline))
            # a reply can be large (Apps.List, an apply of many applications)
            body = await asyncio.to_thread(jsonrpc.encode, parsed, replies)
            if body is None:
                return 204, b"", "application/json", []
            return 200, body, "application/json", []
        if path == "/metrics":
            if request.method not in ("GET", "HEAD"):
                return _refuse(405, "use GET /metrics", [("Allow", "GET, HEAD")])
            if not self._authorized(request):
                error = RpcError("UNAUTHENTICATED", "missing or wrong bearer token")
                return 401, error_body(error), "application/json", [("WWW-Authenticate", "Bearer")]
            body, content_type = await self._metrics()
            return 200, body if request.method == "GET" else b"", content_type, []
        return _refuse(404, f"no such endpoint {path!r}; the API is POST /rpc", [])


def _refuse(status: int, message: str, headers: list[tuple[str, str]]) -> Response:
    code = "NOT_FOUND" if status == 404 else "INVALID_ARGUMENT"
    error = RpcError(code, message, code=INVALID_REQUEST)
    return status, error_body(error), "application/json", headers


def _deadline(header: str) -> float | None:
    """The event-loop time by which the caller wants the answer (header L4-Timeout-Ms)."""
    if not header:
        return None
    value = header.strip()
    if not value.isdigit() or int(value) > MAX_TIMEOUT_MS:
        raise RpcError(
            "INVALID_ARGUMENT",
            f"L4-Timeout-Ms must be a whole number of milliseconds up to {MAX_TIMEOUT_MS}",
            [{"field": "L4-Timeout-Ms", "description": f"got {value[:40]!r}"}],
            code=INVALID_REQUEST,
        )
    return asyncio.get_running_loop().time() + int(value) / 1000


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
        if self.discarding or self.closing:
            return
        parser = self.parser
        had_head = parser.awaiting_body
        try:
            events = parser.feed(data)
        except HttpError as e:
            self._refuse(e)
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
            self._cancel_timer()
            self.server.admission.busy(self)
            self.task = asyncio.get_running_loop().create_task(self._process())

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
                keep = request.keep_alive and not self.closing
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
        if self.closing:
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


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
