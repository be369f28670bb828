"""The error model of the control API (docs/agent.md, "Errors"), a part of its wire
protocol: every layer may raise it, and `protocols.jsonrpc` encodes it.

Every failure a caller sees is an `RpcError`: a JSON-RPC code, a gRPC status name and
field-level details. `RpcError.to_json()` is the `error` member of a JSON-RPC response
and follows `schemas/rpc/error.schema.json`.
"""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
APPLICATION_ERROR = -32000

STATUSES = frozenset(
    {
        "INVALID_ARGUMENT",
        "FAILED_PRECONDITION",
        "ABORTED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "RESOURCE_EXHAUSTED",
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
        "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
        "INTERNAL",
    }
)

Detail = dict[str, Any]


def detail(field: str, description: str, **extra: Any) -> Detail:
    """One field-level problem: `field` is a path such as 'upsert[0].spec.rules[1]'."""
    return {"field": field, "description": description, **extra}


class RpcError(Exception):
    """A failure reported to the caller as a JSON-RPC error object."""

    def __init__(
        self,
        status: str,
        message: str,
        details: list[Detail] | None = None,
        *,
        code: int = APPLICATION_ERROR,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.code = code
        self.extra = extra or {}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "details": self.details, **self.extra}
        return {"code": self.code, "message": self.message, "data": data}

    def __repr__(self) -> str:
        return f"RpcError({self.status}, {self.message!r})"


def invalid_argument(message: str, details: list[Detail] | None = None) -> RpcError:
    """Bad params: JSON-RPC -32602 with status INVALID_ARGUMENT."""
    return RpcError("INVALID_ARGUMENT", message, details, code=INVALID_PARAMS)
