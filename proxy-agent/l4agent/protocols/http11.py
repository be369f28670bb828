"""Sans-IO HTTP/1.1 server-side framing for the control API.

`RequestParser.feed(data)` turns bytes into `Request`s (and an `ExpectContinue` event
when the client waits for "100 Continue"); it raises `HttpError` for input it refuses,
after which the connection must be closed. The body limit is checked against the
Content-Length header before any body byte is buffered, so an oversized request is
refused without reading it. Only Content-Length bodies are supported: a request with
a Transfer-Encoding is refused with 501. `render_response` builds the answer bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus

MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 100

_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_VERSION = re.compile(rb"^HTTP/(\d)\.(\d)$")
_CONTENT_LENGTH = re.compile(rb"^[0-9]{1,15}$")


class HttpError(Exception):
    """A request the server refuses; `status` is the HTTP status to answer with.

    `events` are what the same `feed` call decoded before the refused request: a
    client may pipeline good requests ahead of a bad one, and those are answered
    before the refusal."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.events: list[Event] = []


@dataclass(slots=True)
class Request:
    method: str
    target: str
    version: tuple[int, int]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    keep_alive: bool

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


@dataclass(slots=True)
class ExpectContinue:
    """The client sent `Expect: 100-continue` for an acceptable body: answer 100 first."""


Event = Request | ExpectContinue


class RequestParser:
    """Incremental request parser for one connection (pipelining supported)."""

    def __init__(self, *, max_body: int, max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self._max_body = max_body
        self._max_header_bytes = max_header_bytes
        self._buf = bytearray()
        self._head: Request | None = None  # headers parsed, waiting for the body
        self._need = 0

    @property
    def in_progress(self) -> bool:
        """True while part of a request has been received."""
        return self._head is not None or bool(self._buf.strip(b"\r\n"))

    @property
    def awaiting_body(self) -> bool:
        """True once a request's header section is in and its body is not."""
        return self._head is not None

    def feed(self, data: bytes) -> list[Event]:
        """The events `data` completes; raises HttpError (carrying the events decoded
        before the refused request) for a request the server refuses."""
        self._buf += data
        events: list[Event] = []
        try:
            self._decode(events)
        except HttpError as e:
            e.events = events
            raise
        return events

    def _decode(self, events: list[Event]) -> None:
        while True:
            if self._head is None:
                # RFC 9112 2.2: ignore empty lines before the request line
                while self._buf[:2] == b"\r\n":
                    del self._buf[:2]
                end = self._buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buf) > self._max_header_bytes:
                        raise HttpError(431, "request header section too large")
                    return
                if end > self._max_header_bytes:
                    raise HttpError(431, "request header section too large")
                head = bytes(self._buf[:end])
                del self._buf[: end + 4]
                self._head, self._need, expect = self._parse_head(head)
                if expect and self._need > len(self._buf):
                    events.append(ExpectContinue())
            if len(self._buf) < self._need:
                return
            request = self._head
            request.body = bytes(self._buf[: self._need])
            del self._buf[: self._need]
            self._head, self._need = None, 0
            events.append(request)

    def _parse_head(self, head: bytes) -> tuple[Request, int, bool]:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[1]:
            raise HttpError(400, "malformed request line")
        method, target, version = parts
        if not _TOKEN.match(method):
            raise HttpError(400, "malformed request method")
        m = _VERSION.match(version)
        if not m:
            raise HttpError(400, "malformed HTTP version")
        ver = (int(m.group(1)), int(m.group(2)))
        if ver[0] != 1:
            raise HttpError(505, f"HTTP version {version.decode()} is not supported")
        if len(lines) - 1 > MAX_HEADERS:
            raise HttpError(431, f"more than {MAX_HEADERS} header fields")
        headers: dict[str, str] = {}
        lengths: set[bytes] = set()
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not _TOKEN.match(name):
                raise HttpError(400, "malformed header field")
            value = value.strip(b" \t")
            key = name.decode("ascii").lower()
            if key == "content-length":
                lengths.update(v.strip(b" \t") for v in value.split(b","))
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        if "transfer-encoding" in headers:
            raise HttpError(501, "Transfer-Encoding is not supported; send Content-Length")
        need = 0
        if lengths:
            if len(lengths) != 1 or not _CONTENT_LENGTH.match(next(iter(lengths))):
                raise HttpError(400, "malformed Content-Length")
            need = int(next(iter(lengths)))
            if need > self._max_body:
                raise HttpError(
                    413, f"request body of {need} bytes exceeds the limit of {self._max_body}"
                )
        connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        keep_alive = "keep-alive" in connection if ver == (1, 0) else "close" not in connection
        expect = headers.get("expect", "").lower()
        if expect and expect != "100-continue":
            raise HttpError(417, f"unsupported expectation {expect!r}")
        request = Request(
            method.decode("ascii"),
            target.decode("latin-1"),
            ver,
            headers,
            b"",
            keep_alive,
        )
        return request, need, bool(expect) and ver >= (1, 1)


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def render_response(
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    keep_alive: bool = True,
    headers: list[tuple[str, str]] | None = None,
) -> bytes:
    """The bytes of one HTTP/1.1 response with a Content-Length body."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    if body or status not in (204, 304):
        lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    lines.extend(f"{k}: {v}" for k, v in headers or ())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
