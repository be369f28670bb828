"""Sans-IO JSON-RPC 2.0: parse a request body, dispatch calls, encode the answer.

`parse` never raises: problems become ready-made error replies. `dispatch` runs the
calls of one body in order (a batch is applied sequentially, so a `Config.Apply`
later in a batch sees the effect of an earlier one) and returns the bytes to send,
or None when every call was a notification (HTTP 204).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from l4agent.protocols import strictjson
from l4agent.protocols.errors import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
)

log = logging.getLogger("l4agent.rpc")

# A method handler gets the params and a per-request context object (the caller's
# deadline, for the agent) that the transport layer passes through `dispatch`.
Handler = Callable[[dict[str, Any], Any], Awaitable[Any]]


@dataclass(slots=True)
class Call:
    method: str
    params: dict[str, Any]
    id: Any  # str | int | float | None
    notification: bool


@dataclass(slots=True)
class Parsed:
    batch: bool
    entries: list[Call | dict[str, Any]]  # a dict is an error reply decided at parse time


def parse(body: bytes, *, max_batch: int) -> Parsed:
    """The calls of one body. Non-finite numbers (`1e400`) are a parse error: they have
    no JSON representation, so neither an id nor a param may hold one."""
    try:
        message = strictjson.loads(body)
    except UnicodeDecodeError as e:
        return _single(RpcError("INVALID_ARGUMENT", f"body is not UTF-8: {e}", code=PARSE_ERROR))
    except ValueError as e:
        return _single(RpcError("INVALID_ARGUMENT", f"invalid JSON: {e}", code=PARSE_ERROR))
    if isinstance(message, list):
        if not message:
            return _single(_invalid("empty batch"))
        if len(message) > max_batch:
            too_many = f"batch of {len(message)} calls exceeds the limit of {max_batch}"
            return _single(_invalid(too_many))
        return Parsed(True, [_call(m) for m in message])
    return Parsed(False, [_call(message)])


def _single(error: RpcError) -> Parsed:
    return Parsed(False, [reply_error(None, error)])


def _invalid(message: str) -> RpcError:
    return RpcError("INVALID_ARGUMENT", message, code=INVALID_REQUEST)


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def _call(message: Any) -> Call | dict[str, Any]:
    if not isinstance(message, dict):
        return reply_error(None, _invalid("a request must be a JSON object"))
    has_id = "id" in message
    id_ = message.get("id")
    if has_id and not _valid_id(id_):
        return reply_error(None, _invalid("id must be a string, a number or null"))
    if message.get("jsonrpc") != "2.0":
        return reply_error(id_, _invalid('"jsonrpc" must be "2.0"'))
    method = message.get("method")
    if not isinstance(method, str) or not method:
        return reply_error(id_, _invalid('"method" must be a non-empty string'))
    params = message.get("params", {})
    if not isinstance(params, dict):
        error = RpcError(
            "INVALID_ARGUMENT",
            "params must be an object (named parameters)",
            code=INVALID_PARAMS,
        )
        return reply_error(id_, error)
    return Call(method, params, id_, not has_id)


def reply_result(id_: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def reply_error(id_: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": error.to_json()}


def encode(parsed: Parsed, replies: list[dict[str, Any]]) -> bytes | None:
    """The body to send; a reply that cannot be strict JSON becomes an INTERNAL error."""
    if not replies:
        return None
    try:
        return strictjson.dumps(replies if parsed.batch else replies[0])
    except ValueError:
        replies = [_encodable(reply) for reply in replies]
        return strictjson.dumps(replies if parsed.batch else replies[0])


def _encodable(reply: dict[str, Any]) -> dict[str, Any]:
    try:
        strictjson.dumps(reply)
    except ValueError:
        log.error("a reply to id %r holds a non-finite number; answering INTERNAL", reply["id"])
        return reply_error(reply["id"], RpcError("INTERNAL", "the result is not valid JSON"))
    return reply


async def dispatch(
    parsed: Parsed, methods: Mapping[str, Handler], context: Any = None
) -> bytes | None:
    return encode(parsed, await run_calls(parsed, methods, context))


async def run_calls(
    parsed: Parsed, methods: Mapping[str, Handler], context: Any = None
) -> list[dict[str, Any]]:
    """The replies to send, in order (notifications have none)."""
    replies: list[dict[str, Any]] = []
    for entry in parsed.entries:
        if isinstance(entry, dict):
            replies.append(entry)
            continue
        reply = await _run(entry, methods, context)
        if not entry.notification:
            replies.append(reply)
    return replies


async def _run(call: Call, methods: Mapping[str, Handler], context: Any) -> dict[str, Any]:
    handler = methods.get(call.method)
    if handler is None:
        error = RpcError("NOT_FOUND", f"method {call.method!r} not found", code=METHOD_NOT_FOUND)
        return reply_error(call.id, error)
    try:
        return reply_result(call.id, await handler(call.params, context))
    except RpcError as e:
        return reply_error(call.id, e)
    except Exception:
        log.exception("internal error in %s", call.method)
        return reply_error(call.id, RpcError("INTERNAL", f"internal error in {call.method}"))
