"""Origin pools: the sans-IO health and steering decisions, then pools over real sockets."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from pathlib import Path

import pytest
from l4agent.dataplane.health import HealthTracker, OriginSpecError, tcp_connects
from l4agent.dataplane.origins import OriginPool, Steering, Target
from l4agent.dataplane.resolver import Resolver

from tests.ports import AGENT_FEATURES, free_port

CLIENT = ("127.0.0.1", 40000)


# -- HealthTracker ---------------------------------------------------------------------


def test_tracker_goes_down_after_fall_failures_and_up_after_rise_successes() -> None:
    t = HealthTracker(rise=2, fall=3)
    assert t.available(0)
    t.failure(1)
    t.failure(2)
    assert t.available(2)
    t.success(3)  # a success resets the failure run
    t.failure(4)
    t.failure(5)
    assert t.available(5)
    t.failure(6)
    assert not t.available(6)
    assert not t.available(10_000)  # active checks only: no cooldown
    t.success(7)
    t.failure(8)  # a failure resets the success run
    t.success(9)
    assert not t.available(9)
    t.success(10)
    assert t.available(10)


def test_tracker_passive_cooldown_and_probation() -> None:
    t = HealthTracker(rise=1, fall=2, cooldown=10)
    t.failure(0)
    t.failure(1)
    assert not t.available(5)
    assert t.available(11)  # back after the cooldown
    t.failure(12)  # on probation: one failure is enough
    assert not t.available(12)
    assert t.available(22.5)
    t.success(23)
    t.failure(24)
    assert t.available(24)  # a success ended the probation


def test_tracker_without_fall_never_goes_down() -> None:
    t = HealthTracker(rise=1, fall=None)
    for now in range(100):
        t.failure(now)
    assert t.available(100)


# -- Steering ----------------------------------------------------------------------------


def targets(*weights: float) -> list[Target]:
    return [
        Target(f"t{i}", f"127.0.0.{i + 2}", w, HealthTracker(rise=1, fall=1))
        for i, w in enumerate(weights)
    ]


def test_weighted_is_exact_over_a_cycle_and_smooth() -> None:
    ts = targets(3, 1)
    s = Steering("weighted")
    firsts = [s.order(ts)[0].host for _ in range(400)]
    assert Counter(firsts) == {"t0": 300, "t1": 100}
    # smooth: never more than 3 in a row for the heavy one, the light one spread out
    assert "t1t1" not in "".join(firsts)


def test_weighted_retry_order_lists_every_target_once() -> None:
    ts = targets(5, 2, 1)
    s = Steering("weighted")
    for _ in range(20):
        order = s.order(ts)
        assert sorted(t.host for t in order) == ["t0", "t1", "t2"]


def test_weighted_zero_weight_gets_nothing() -> None:
    ts = targets(1, 0)
    s = Steering("weighted")
    assert {s.order(ts)[0].host for _ in range(10)} == {"t0"}
    assert s.order(targets(0, 0)) == []


def test_failover_keeps_spec_order() -> None:
    ts = targets(1, 5, 1)
    assert [t.host for t in Steering("failover").order(ts)] == ["t0", "t1", "t2"]


def test_least_connections_prefers_fewest_per_weight_and_rotates_ties() -> None:
    ts = targets(1, 1, 2)
    s = Steering("least_connections")
    ts[0].active, ts[1].active, ts[2].active = 3, 1, 4  # per weight: 3, 1, 2
    assert [t.host for t in s.order(ts)] == ["t1", "t2", "t0"]
    for t in ts:
        t.active = 0
    assert {s.order(ts)[0].host for _ in range(6)} == {"t0", "t1", "t2"}


def test_least_connections_follows_connection_counts() -> None:
    ts = targets(1, 1)
    s = Steering("least_connections")
    for _ in range(10):
        s.order(ts)[0].connected()
    assert [t.active for t in ts] == [5, 5]
    ts[0].released()
    assert s.order(ts)[0] is ts[0]


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(OriginSpecError, match=r"origin\.steering must be one of"):
        Steering("random")


# -- OriginPool ----------------------------------------------------------------------------


def spec(*hosts: str, steering: str = "weighted", check: dict | None = None, **w: int) -> dict:
    return {
        "type": "load_balancer",
        "steering": steering,
        "targets": [{"host": h, "weight": w.get(f"w{i}", 1)} for i, h in enumerate(hosts)],
        "health_check": check,
    }


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"targets": []}, "origin.targets must be a non-empty list"),
        ({"targets": [{"weight": 1}]}, r"origin.targets\[0\].host"),
        ({"targets": [{"host": "a", "weight": -1}]}, r"origin.targets\[0\].weight"),
        (
            {"targets": [{"host": "a"}], "health_check": {"interval_ms": 0}},
            "origin.health_check.interval_ms must be a positive integer",
        ),
        ({"targets": [{"host": "a"}], "steering": "hash"}, "origin.steering"),
    ],
)
def test_bad_specs_name_the_field(bad: dict, message: str) -> None:
    with pytest.raises(OriginSpecError, match=message):
        OriginPool(bad, Resolver(), health_port=1)


def test_static_ip_pool_needs_no_task_and_no_resolver_call() -> None:
    # an unreachable name server: any DNS query would time out the test
    resolver = Resolver(nameservers=["127.0.0.1"], port=free_port(AGENT_FEATURES), timeout=60)

    async def go() -> None:
        pool = OriginPool(spec("10.0.1.5"), resolver, health_port=80)
        pool.start()
        assert pool._task is None
        started = time.monotonic()
        for _ in range(1000):
            [target] = await pool.candidates(CLIENT)
        assert time.monotonic() - started < 30  # one query alone would take 60 s
        assert target.address == "10.0.1.5"
        target.connected()
        assert pool.health() == [
            {
                "host": "10.0.1.5",
                "address": "10.0.1.5",
                "healthy": True,
                "active_connections": 1,
                "failures": 0,
            }
        ]
        await pool.close()

    asyncio.run(go())


def test_single_target_without_check_is_never_taken_out() -> None:
    async def go() -> None:
        pool = OriginPool(spec("127.0.0.1"), Resolver(), health_port=1)
        for _ in range(5):
            [target] = await pool.candidates(CLIENT)
            target.failed()
        assert len(await pool.candidates(CLIENT)) == 1
        assert pool.health()[0]["failures"] == 5

    asyncio.run(go())


def test_passive_failure_takes_a_target_out_of_a_multi_target_pool() -> None:
    async def go() -> None:
        pool = OriginPool(spec("127.0.0.2", "127.0.0.3"), Resolver(), health_port=1)
        first = (await pool.candidates(CLIENT))[0]
        first.failed()
        for _ in range(10):
            assert [t.address for t in await pool.candidates(CLIENT)] == ["127.0.0.3"]
        rows = {r["address"]: r for r in pool.health()}
        assert rows["127.0.0.2"]["healthy"] is False
        assert rows["127.0.0.2"]["failures"] == 1

    asyncio.run(go())


def test_hostname_members_resolve_and_share_weight(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.2 a.test\n127.0.0.3 b.test\n127.0.0.4 b.test\n")
    resolver = Resolver(hosts_file=hosts, nameservers=["127.0.0.1"], port=1, timeout=0.2)

    async def go() -> None:
        pool = OriginPool(spec("a.test", "b.test", "nx.test"), resolver, health_port=1)
        firsts = Counter([(await pool.candidates(CLIENT))[0].address for _ in range(400)])
        assert firsts == {"127.0.0.2": 200, "127.0.0.3": 100, "127.0.0.4": 100}
        errors = [r for r in pool.health() if r["address"] is None]
        assert errors[0]["host"] == "nx.test"
        assert "cannot resolve 'nx.test'" in errors[0]["error"]

    asyncio.run(go())


class Listener:
    """A TCP listener that accepts and closes, started and stopped on demand."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None

    def start(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)

    def stop(self) -> None:
        assert self.sock is not None
        self.sock.close()
        self.sock = None


def test_tcp_connects() -> None:
    port = free_port(AGENT_FEATURES)
    listener = Listener(port)

    async def go() -> tuple[bool, bool]:
        listener.start()
        up = await tcp_connects("127.0.0.1", port, 1.0)
        listener.stop()
        return up, await tcp_connects("127.0.0.1", port, 1.0)

    assert asyncio.run(go()) == (True, False)


def test_active_checks_take_a_target_down_and_bring_it_back() -> None:
    port = free_port(AGENT_FEATURES)
    listener = Listener(port)  # on 127.0.0.1 only: 127.0.0.2 is refused throughout
    check = {"interval_ms": 50, "timeout_ms": 200, "healthy": 2, "unhealthy": 3}

    async def wait_for(pool: OriginPool, expected: set[str], limit: float = 3.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < limit:
            if {t.address for t in await pool.candidates(CLIENT)} == expected:
                return time.monotonic() - started
            await asyncio.sleep(0.01)
        raise AssertionError(f"candidates never became {expected}: {pool.health()}")

    async def go() -> None:
        listener.start()
        pool = OriginPool(spec("127.0.0.1", "127.0.0.2", check=check), Resolver(), health_port=port)
        assert len(await pool.candidates(CLIENT)) == 2  # up until checks say otherwise
        pool.start()
        await wait_for(pool, {"127.0.0.1"})
        listener.stop()
        took = await wait_for(pool, set())
        assert took >= 0.09  # three failed checks at 50 ms intervals, the first at once
        listener.start()
        await wait_for(pool, {"127.0.0.1"})
        await pool.close()
        listener.stop()

    asyncio.run(go())
