"""Sans-IO JSON-RPC 2.0: parsing, batches, dispatch and the error objects."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from l4agent.protocols import jsonrpc
from l4agent.protocols.errors import RpcError, invalid_argument


async def ok(params: dict[str, Any], ctx: Any) -> Any:
    return {"params": params, "ctx": ctx}


async def fails(params: dict[str, Any], ctx: Any) -> Any:
    raise invalid_argument("bad", [{"field": "a.b[0]", "description": "no"}])


async def crashes(params: dict[str, Any], ctx: Any) -> Any:
    raise RuntimeError("boom")


METHODS = {"Ok": ok, "Fails": fails, "Crashes": crashes}


def run(body: bytes) -> Any:
    parsed = jsonrpc.parse(body, max_batch=3)
    out = asyncio.run(jsonrpc.dispatch(parsed, METHODS, "ctx"))
    return None if out is None else json.loads(out)


def test_call_and_context() -> None:
    reply = run(b'{"jsonrpc":"2.0","id":"x","method":"Ok","params":{"a":1}}')
    assert reply == {"jsonrpc": "2.0", "id": "x", "result": {"params": {"a": 1}, "ctx": "ctx"}}


def test_missing_params_are_an_empty_object() -> None:
    assert run(b'{"jsonrpc":"2.0","id":1,"method":"Ok"}')["result"]["params"] == {}


def test_application_error_carries_status_and_details() -> None:
    error = run(b'{"jsonrpc":"2.0","id":1,"method":"Fails"}')["error"]
    assert error == {
        "code": -32602,
        "message": "bad",
        "data": {
            "status": "INVALID_ARGUMENT",
            "details": [{"field": "a.b[0]", "description": "no"}],
        },
    }


def test_unexpected_exception_is_internal() -> None:
    error = run(b'{"jsonrpc":"2.0","id":1,"method":"Crashes"}')["error"]
    assert (error["code"], error["data"]["status"]) == (-32000, "INTERNAL")
    assert "boom" not in error["message"]  # no internals leak to the caller


def test_notifications_get_no_reply() -> None:
    assert run(b'{"jsonrpc":"2.0","method":"Ok"}') is None
    assert run(b'[{"jsonrpc":"2.0","method":"Ok"},{"jsonrpc":"2.0","method":"Fails"}]') is None


def test_batch_order_and_limit() -> None:
    replies = run(
        b'[{"jsonrpc":"2.0","id":1,"method":"Ok"},{"jsonrpc":"2.0","id":2,"method":"Nope"},'
        b'{"jsonrpc":"2.0","id":3,"method":"Fails"}]'
    )
    assert [r["id"] for r in replies] == [1, 2, 3]
    assert replies[1]["error"]["code"] == -32601
    too_big = run(b"[" + b",".join([b'{"jsonrpc":"2.0","id":1,"method":"Ok"}'] * 4) + b"]")
    assert too_big["error"]["code"] == -32600


@pytest.mark.parametrize(
    ("body", "code", "id_"),
    [
        (b"{", -32700, None),
        (b'{"a": NaN}', -32700, None),
        (b"\xc3\x28", -32700, None),
        (b"[" * 50000, -32700, None),
        (b"[]", -32600, None),
        (b'"x"', -32600, None),
        (b'{"id": 4, "method": "Ok"}', -32600, 4),
        (b'{"jsonrpc": "2.0", "id": {}, "method": "Ok"}', -32600, None),
        (b'{"jsonrpc": "2.0", "id": 4, "method": ""}', -32600, 4),
        (b'{"jsonrpc": "2.0", "id": 4, "method": "Ok", "params": 3}', -32602, 4),
    ],
)
def test_malformed(body: bytes, code: int, id_: Any) -> None:
    reply = run(body)
    assert reply["error"]["code"] == code
    assert reply["id"] == id_


def test_unknown_status_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        RpcError("TEAPOT", "x")


async def infinite(params: dict[str, Any], ctx: Any) -> Any:
    return {"ratio": float("inf")}


def test_a_non_finite_result_becomes_an_internal_error() -> None:
    parsed = jsonrpc.parse(
        b'[{"jsonrpc":"2.0","id":1,"method":"Inf"},{"jsonrpc":"2.0","id":2,"method":"Ok"}]',
        max_batch=3,
    )
    out = asyncio.run(jsonrpc.dispatch(parsed, {"Inf": infinite, "Ok": ok}))
    assert out is not None and b"Infinity" not in out
    first, second = json.loads(out)
    assert first["error"]["data"]["status"] == "INTERNAL"
    assert second["result"]["params"] == {}


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1E999", b"Infinity", b"NaN"])
def test_non_finite_numbers_do_not_parse(number: bytes) -> None:
    reply = run(b'{"jsonrpc":"2.0","id":' + number + b',"method":"Ok"}')
    assert reply["error"]["code"] == -32700 and reply["id"] is None
