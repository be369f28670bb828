"""The error raised by the agent client: the agent's gRPC-style status, or UNAVAILABLE /
DEADLINE_EXCEEDED when the agent could not be reached in time."""

from __future__ import annotations

from typing import Any


class AgentError(Exception):
    """A failed call to a proxy-agent.

    `status` is a gRPC status name (SPEC §5); `details` the agent's field-level
    problems (`[{"field", "description", ...}]`); `endpoint` the agent's address.
    """

    def __init__(
        self,
        status: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        endpoint: str = "",
        *,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.details = details or []
        self.endpoint = endpoint
        self.data = data or {}
        super().__init__(f"{endpoint}: {status}: {message}" if endpoint else f"{status}: {message}")

    @property
    def retryable(self) -> bool:
        """True when trying again later may succeed (the agent was unreachable or busy)."""
        return self.status == "UNAVAILABLE"
