"""Origin pools: steering, health state and active TCP health checks.

One `OriginPool` per rule, built from the rule's ``origin`` spec::

    {"type": "load_balancer", "steering": "weighted",
     "targets": [{"host": "10.0.1.5", "weight": 3}, {"host": "game-2.example.net", "weight": 1}],
     "health_check": {"interval_ms": 5000, "timeout_ms": 2000, "healthy": 2, "unhealthy": 3}}

The decisions are sans-IO and take the time as an argument: `HealthTracker` (when a
target is up or down) and `Steering` (the order in which to try healthy targets).
`OriginPool` is the thin asyncio layer: it resolves hostnames, keeps one `Target`
per resolved address, and runs the periodic health-check task.

A pool of IP literals is static: no DNS, and no health-check task without a health
check. `candidates_now()` answers without awaiting whenever no DNS query is needed
(IP literals, the hosts file, fresh cache entries), so the relay's hot path needs no
task; `candidates()` is the same answer for callers that can await a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from l4agent.dataplane.health import HealthCheck, HealthTracker, OriginSpecError, tcp_connects
from l4agent.dataplane.resolver import ResolveError, Resolver, ip_literal

log = logging.getLogger("l4agent.origins")

STEERING_POLICIES = ("weighted", "failover", "least_connections")

# Without active checks, a target of a multi-target pool that fails to connect is
# taken out for PASSIVE_COOLDOWN_S and then tried again (nginx: max_fails=1,
# fail_timeout=10s). A single-target pool without checks is never taken out, as in
# nginx: there is nothing to fail over to.
PASSIVE_FALL = 1
PASSIVE_COOLDOWN_S = 10.0


class Target:
    """One resolved address of an origin host: what the relay connects to."""

    __slots__ = ("active", "address", "failures", "host", "tracker", "weight")

    def __init__(self, host: str, address: str, weight: float, tracker: HealthTracker) -> None:
        self.host = host
        self.address = address  # an IP literal
        self.weight = weight
        self.tracker = tracker
        self.active = 0  # open connections through this target
        self.failures = 0  # failed connects and failed checks, since the pool started

    def connected(self) -> None:
        """The relay's connect succeeded: one more active connection."""
        self.tracker.success(time.monotonic())
        self.active += 1

    def failed(self) -> None:
        """The relay's connect failed or timed out (passive failure detection)."""
        self.failures += 1
        self.tracker.failure(time.monotonic())

    def released(self) -> None:
        """A connection made through this target closed."""
        if self.active > 0:
            self.active -= 1

    def __repr__(self) -> str:
        return f"Target({self.host!r}, {self.address!r}, weight={self.weight:g})"


class Steering:
    """The order in which to try the healthy targets of a pool; sans-IO.

    - ``weighted``: smooth weighted round-robin (nginx) picks the first target, so over
      N connections each target gets N * weight / total (exactly, not statistically);
      the others follow, most due first, for retries. Weight 0 targets get no traffic.
    - ``failover``: spec order; the first healthy target takes all traffic.
    - ``least_connections``: fewest active connections per unit of weight first;
      ties rotate so equal targets share new connections.
    """

    def __init__(self, policy: str) -> None:
        if policy not in STEERING_POLICIES:
            raise OriginSpecError(
                f"origin.steering must be one of {', '.join(STEERING_POLICIES)}, got {policy!r}"
            )
        self.policy = policy
        self._current: dict[int, float] = {}  # smooth WRR state by id(target)
        self._turn = itertools.count()

    def order(self, healthy: Sequence[Target]) -> list[Target]:
        if self.policy == "failover":
            return list(healthy)
        if len(healthy) == 1:  # what every policy answers for one target, minus the work
            return [healthy[0]] if healthy[0].weight > 0 else []
        weighted = [t for t in healthy if t.weight > 0]
        if not weighted:
            return []
        if self.policy == "least_connections":
            turn = next(self._turn)
            n = len(weighted)
            rank = {id(t): (i - turn) % n for i, t in enumerate(weighted)}
            return sorted(weighted, key=lambda t: (t.active / t.weight, rank[id(t)]))
        return self._smooth_wrr(weighted)

    def _smooth_wrr(self, targets: list[Target]) -> list[Target]:
        current = self._current
        total = 0.0
        for t in targets:
            current[id(t)] = current.get(id(t), 0.0) + t.weight
            total += t.weight
        ordered = sorted(targets, key=lambda t: -current[id(t)])
        current[id(ordered[0])] -= total
        if len(current) > 4 * len(targets):  # forget targets that left the pool
            live = {id(t) for t in targets}
            self._current = {k: v for k, v in current.items() if k in live}
        return ordered


@dataclass(frozen=True, slots=True)
class _Member:
    host: str
    weight: float


class OriginPool:
    """The targets of one rule's origin. `start()` before use, `await close()` after."""

    def __init__(self, spec: dict[str, Any], resolver: Resolver, *, health_port: int) -> None:
        self._resolver = resolver
        self._health_port = health_port
        self._members = _parse_members(spec)
        self._steering = Steering(spec.get("steering") or "weighted")
        raw_check = spec.get("health_check")
        self._check = HealthCheck.from_spec(raw_check) if raw_check is not None else None
        self._targets: dict[tuple[str, str], Target] = {}
        self._errors: dict[str, str] = {}  # host -> why it did not resolve
        self._task: asyncio.Task[None] | None = None
        self._static: list[Target] | None = None
        if all(ip_literal(m.host) for m in self._members):
            self._static = [self._target(m, ip_literal(m.host) or m.host, 1) for m in self._members]

    def start(self) -> None:
        if self._check is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._check_forever())

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def candidates_now(self, client: tuple[str, int]) -> list[Target] | None:
        """Healthy targets in the order to try (empty when none is healthy), or None
        when a hostname's addresses are not cached and `candidates()` must query DNS.

        `client` is the client's address; steering does not depend on it today
        (affinity is left to the port mapping's client hash).
        """
        if self._static is not None:
            return self._order(self._static)
        results = self._peek_all()
        if None in results:
            return None
        return self._order(self._targets_from(results))

    async def candidates(self, client: tuple[str, int]) -> list[Target]:
        """`candidates_now()`, resolving the names whose cache entries expired."""
        ready = self.candidates_now(client)
        if ready is not None:
            return ready
        return self._order(await self._resolve_all())

    def _order(self, targets: list[Target]) -> list[Target]:
        now = time.monotonic()
        return self._steering.order([t for t in targets if t.tracker.available(now)])

    def health(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        rows: list[dict[str, Any]] = [
            {
                "host": t.host,
                "address": t.address,
                "healthy": t.tracker.available(now),
                "active_connections": t.active,
                "failures": t.failures,
            }
            for t in self._targets.values()
        ]
        for host, error in self._errors.items():
            rows.append(
                {
                    "host": host,
                    "address": None,
                    "healthy": False,
                    "active_connections": 0,
                    "failures": 0,
                    "error": error,
                }
            )
        return rows

    def _target(self, member: _Member, address: str, share: int) -> Target:
        key = (member.host, address)
        target = self._targets.get(key)
        if target is None:
            target = Target(member.host, address, member.weight / share, self._new_tracker())
            self._targets[key] = target
        else:
            target.weight = member.weight / share
        return target

    def _new_tracker(self) -> HealthTracker:
        if self._check is not None:
            return HealthTracker(rise=self._check.healthy, fall=self._check.unhealthy)
        if len(self._members) == 1:
            return HealthTracker(rise=1, fall=None)
        return HealthTracker(rise=1, fall=PASSIVE_FALL, cooldown=PASSIVE_COOLDOWN_S)

    def _peek_all(self) -> list[list[str] | BaseException | None]:
        """Per member: its cached addresses, its resolution error, or None (must query)."""
        results: list[list[str] | BaseException | None] = []
        for member in self._members:
            try:
                results.append(self._resolver.peek(member.host))
            except ResolveError as e:
                results.append(e)
        return results

    async def _resolve_all(self) -> list[Target]:
        """Targets for the members' current addresses (cached by the resolver's TTLs)."""
        if self._static is not None:
            return self._static
        results = self._peek_all()
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:  # only names whose cache expired cost a task
            fresh = await asyncio.gather(
                *(self._resolver.resolve(self._members[i].host) for i in missing),
                return_exceptions=True,
            )
            for i, result in zip(missing, fresh, strict=True):
                results[i] = result
        return self._targets_from(results)

    def _targets_from(self, results: list[list[str] | BaseException | None]) -> list[Target]:
        """Targets for the members' resolution results (none of them None).

        A hostname that resolves to several addresses shares its weight among them.
        """
        targets: list[Target] = []
        for member, result in zip(self._members, results, strict=True):
            if isinstance(result, ResolveError):
                if self._errors.get(member.host) != str(result):
                    log.warning("origin %s: %s", member.host, result)
                self._errors[member.host] = str(result)
                continue
            if isinstance(result, BaseException):
                raise result
            assert result is not None
            self._errors.pop(member.host, None)
            targets.extend(self._target(member, address, len(result)) for address in result)
        self._forget_gone(targets)
        return targets

    def _forget_gone(self, current: list[Target]) -> None:
        """Drop targets whose address left DNS and that carry no connection."""
        if len(current) == len(self._targets):
            return
        keep = {(t.host, t.address) for t in current}
        for key, target in list(self._targets.items()):
            if key not in keep and target.active == 0:
                del self._targets[key]

    async def _check_forever(self) -> None:
        check = self._check
        assert check is not None
        while True:
            started = time.monotonic()
            targets = await self._resolve_all()
            await asyncio.gather(*(self._check_one(t, check.timeout) for t in targets))
            await asyncio.sleep(max(0.0, check.interval - (time.monotonic() - started)))

    async def _check_one(self, target: Target, timeout: float) -> None:
        """One active check: a TCP connect to the target's health port, closed at once."""
        ok = await tcp_connects(target.address, self._health_port, timeout)
        was_up = target.tracker.available(time.monotonic())
        if ok:
            target.tracker.success(time.monotonic())
        else:
            target.failures += 1
            target.tracker.failure(time.monotonic())
        is_up = target.tracker.available(time.monotonic())
        if was_up != is_up:
            log.warning(
                "origin %s (%s) is %s",
                target.host,
                target.address,
                "up" if is_up else "down",
            )


def _parse_members(spec: dict[str, Any]) -> tuple[_Member, ...]:
    targets = spec.get("targets")
    if not isinstance(targets, list) or not targets:
        raise OriginSpecError("origin.targets must be a non-empty list")
    members = []
    for i, raw in enumerate(targets):
        host = raw.get("host") if isinstance(raw, dict) else None
        if not isinstance(host, str) or not host:
            raise OriginSpecError(f"origin.targets[{i}].host must be a hostname or IP address")
        weight = raw.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise OriginSpecError(
                f"origin.targets[{i}].weight must be a number >= 0, got {weight!r}"
            )
        members.append(_Member(host, float(weight)))
    return tuple(members)
