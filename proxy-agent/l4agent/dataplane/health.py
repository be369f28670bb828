"""Health of origin targets, sans-IO: the check settings and the up/down state machine,
and the one probe the agent runs (a TCP connect)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any


class OriginSpecError(ValueError):
    """An origin spec that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class HealthCheck:
    interval: float  # seconds between the starts of two rounds of checks
    timeout: float  # seconds allowed for one TCP connect
    healthy: int  # consecutive successes that bring a down target up
    unhealthy: int  # consecutive failures that take an up target down

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> HealthCheck:
        values: dict[str, int] = {}
        for key in ("interval_ms", "timeout_ms", "healthy", "unhealthy"):
            value = spec.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OriginSpecError(
                    f"origin.health_check.{key} must be a positive integer, got {value!r}"
                )
            values[key] = value
        return cls(
            interval=values["interval_ms"] / 1000,
            timeout=values["timeout_ms"] / 1000,
            healthy=values["healthy"],
            unhealthy=values["unhealthy"],
        )


class HealthTracker:
    """When a target is up: a small state machine fed with check and connect outcomes.

    Starts up (as HAProxy servers do), so traffic flows before the first check.
    `fall` consecutive failures take it down. It comes back after `rise` consecutive
    successes (active checks), or, when `cooldown` is set (passive detection only), by
    itself once the cooldown has passed, on probation: one more failure takes it down
    again at once. `fall=None` means the target is never taken down.
    """

    __slots__ = ("_cooldown", "_down_until", "_failing", "_fall", "_rise", "_rising", "up")

    def __init__(self, *, rise: int, fall: int | None, cooldown: float | None = None) -> None:
        self._rise = rise
        self._fall = fall
        self._cooldown = cooldown
        self.up = True
        self._failing = 0  # consecutive failures while up
        self._rising = 0  # consecutive successes while down
        self._down_until = float("inf")

    def available(self, now: float) -> bool:
        if not self.up and now >= self._down_until:
            self.up = True
            self._failing = (self._fall or 1) - 1  # probation
        return self.up

    def success(self, now: float) -> None:
        if self.available(now):
            self._failing = 0
            return
        self._rising += 1
        if self._rising >= self._rise:
            self.up, self._failing = True, 0

    def failure(self, now: float) -> None:
        if not self.available(now):
            self._rising = 0
            return
        self._failing += 1
        if self._fall is not None and self._failing >= self._fall:
            self.up, self._rising = False, 0
            self._down_until = now + self._cooldown if self._cooldown else float("inf")


async def tcp_connects(address: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to (address, port) opens within `timeout` seconds."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(
            asyncio.get_running_loop().sock_connect(sock, (address, port)), timeout
        )
        return True
    except (OSError, TimeoutError):
        return False
    finally:
        sock.close()
