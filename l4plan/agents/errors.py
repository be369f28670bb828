"""The error raised by the agent client: the agent's gRPC-style status, or UNAVAILABLE /
DEADLINE_EXCEEDED when the agent could not be reached in time."""

from __future__ import annotations

from typing import Any


class AgentError(Exception):
    """A failed call to a proxy-agent.

    `status` is a gRPC status name (docs/agent.md, "Errors"); `details` the agent's field-level
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


def token_hint(agent: str) -> str:
    return (
        f'check the token of agent "{agent}": `token` in its agent block must be the'
        " token the agent was started with (its --token-file)"
    )


def refresh_hint(status: str, agent: str) -> str:
    """What to do about an agent that could not be read (refresh, drift, import)."""
    if status == "UNAUTHENTICATED":
        return token_hint(agent)
    if status == "DEADLINE_EXCEEDED":
        return (
            "the agent did not answer in time (--timeout); check that it runs and is not overloaded"
        )
    return "check that the agent runs and is reachable"


# What to do about an agent whose Config.Apply failed, by status.
_APPLY_HINTS = {
    "UNAVAILABLE": "check that the agent runs and is reachable",
    "DEADLINE_EXCEEDED": "the agent did not answer in time, also when asked again; it may"
    " still have applied the change: `l4plan plan` shows what it runs",
    "ABORTED": "the agent's configuration changed since l4plan read it; run apply again",
    "FAILED_PRECONDITION": "nothing changed on that agent",
    "RESOURCE_EXHAUSTED": "nothing changed on that agent",
    "CANCELLED": "interrupted before this agent was called",
}


def apply_hint(status: str, agent: str) -> str | None:
    """What to do about an agent whose apply failed; None when the message says it."""
    if status == "UNAUTHENTICATED":
        return token_hint(agent)
    return _APPLY_HINTS.get(status)
