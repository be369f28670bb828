"""The control endpoint: HTTP/1.1 over TCP (TLS when configured), `POST /rpc` and
`GET /metrics`. This layer routes requests; framing is `protocols.http11`, JSON-RPC
is `protocols.jsonrpc`, the connections and their timeouts are `connection`, who may
connect is `admission`, and the methods come as a table (`api.Api.methods`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from l4agent.control.admission import Admission
from l4agent.control.connection import (
    HEADER_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_CLIENT,
    ControlConnection,
    error_body,
)
from l4agent.protocols import jsonrpc
from l4agent.protocols.errors import INVALID_REQUEST, RpcError
from l4agent.protocols.http11 import Request

log = logging.getLogger("l4agent.control")

MAX_TIMEOUT_MS = 24 * 3600 * 1000
# Bodies up to this size are decoded on the event loop (well under a millisecond);
# larger ones in a thread, so that decoding never holds up the relay.
INLINE_BODY = 64 << 10

Response = tuple[int, bytes, str, list[tuple[str, str]]]


@dataclass(slots=True)
class CallContext:
    """What the server hands every method besides its params."""

    deadline: float | None  # event-loop time by which the caller wants the answer


MetricsSource = Callable[[], Awaitable[tuple[bytes, str]]]


class ControlServer:
    """The endpoint, given its method table: it knows nothing of what the methods do."""

    def __init__(
        self,
        methods: Mapping[str, jsonrpc.Handler],
        *,
        token: str | None,
        max_body: int,
        max_batch: int,
        metrics: MetricsSource,
    ) -> None:
        self.methods = methods
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
            replies = await jsonrpc.run_calls(parsed, self.methods, CallContext(deadline))
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


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
