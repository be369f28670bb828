"""Sans-IO HTTP/1.1 request framing: no sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from l4agent.protocols.http11 import (
    ExpectContinue,
    HttpError,
    Request,
    RequestParser,
    render_response,
)

BODY = b'{"jsonrpc":"2.0","id":1,"method":"Agent.Info"}'
REQUEST = (
    b"POST /rpc HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nAuthorization: Bearer t\r\n\r\n%s"
    % (len(BODY), BODY)
)


def requests(events: list[object]) -> list[Request]:
    return [e for e in events if isinstance(e, Request)]


def test_one_request() -> None:
    (request,) = RequestParser(max_body=1000).feed(REQUEST)
    assert isinstance(request, Request)
    assert (request.method, request.target, request.version) == ("POST", "/rpc", (1, 1))
    assert request.header("authorization") == "Bearer t"
    assert request.body == BODY
    assert request.keep_alive


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=60))
def test_any_split_gives_the_same_requests(cuts: list[int]) -> None:
    stream = REQUEST * 3
    parser = RequestParser(max_body=1000)
    got: list[Request] = []
    position = 0
    for size in cuts:
        got += requests(parser.feed(stream[position : position + size]))
        position += size
    got += requests(parser.feed(stream[position:]))
    assert [r.body for r in got] == [BODY] * 3
    assert not parser.in_progress


def test_keep_alive_rules() -> None:
    def keep(head: bytes) -> bool:
        (request,) = RequestParser(max_body=10).feed(head + b"\r\n\r\n")
        assert isinstance(request, Request)
        return request.keep_alive

    assert keep(b"GET / HTTP/1.1")
    assert not keep(b"GET / HTTP/1.1\r\nConnection: close")
    assert not keep(b"GET / HTTP/1.0")
    assert keep(b"GET / HTTP/1.0\r\nConnection: Keep-Alive")


def test_body_limit_is_checked_from_the_header() -> None:
    parser = RequestParser(max_body=100)
    with pytest.raises(HttpError) as info:
        parser.feed(b"POST /rpc HTTP/1.1\r\nContent-Length: 101\r\n\r\n")
    assert info.value.status == 413


def test_expect_continue() -> None:
    parser = RequestParser(max_body=100)
    events = parser.feed(b"POST /rpc HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert events == [ExpectContinue()]
    (request,) = parser.feed(b"{}")
    assert isinstance(request, Request) and request.body == b"{}"


def test_leading_empty_lines_are_ignored() -> None:
    (request,) = RequestParser(max_body=10).feed(b"\r\n\r\nGET /x HTTP/1.1\r\n\r\n")
    assert isinstance(request, Request) and request.target == "/x"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / FTP/1.1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nbad name: x\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nExpect: tea\r\n\r\n", 417),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
    ],
)
def test_refusals(data: bytes, status: int) -> None:
    with pytest.raises(HttpError) as info:
        RequestParser(max_body=100).feed(data)
    assert info.value.status == status


def test_header_section_limit_without_terminator() -> None:
    parser = RequestParser(max_body=100, max_header_bytes=1024)
    parser.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 1000)
    with pytest.raises(HttpError) as info:
        parser.feed(b"a" * 100)
    assert info.value.status == 431


def test_repeated_content_length_with_the_same_value_is_accepted() -> None:
    (request,) = RequestParser(max_body=10).feed(
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"
    )
    assert isinstance(request, Request) and request.body == b"ab"


def test_render_response() -> None:
    out = render_response(200, b"{}", keep_alive=False, headers=[("X-A", "1")])
    assert out == (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        b"Connection: close\r\nX-A: 1\r\n\r\n{}"
    )
    assert render_response(204, b"").startswith(b"HTTP/1.1 204 No Content\r\n\r\n")
