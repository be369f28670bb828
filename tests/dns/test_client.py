"""The update/query layer against a real BIND 9: each failure is a `DnsError` of its
kind whose message names the server, and a refused update changes nothing."""

from __future__ import annotations

import pytest

from l4plan.dns.client import DnsClient, DnsError
from l4plan.dns.records import RecordSet
from l4plan.dns.settings import DnsSettings
from tests.dns.bind import ALGORITHM, KEY_NAME, ZONE, Bind
from tests.ports import DNS, free_port

NAME = f"api.{ZONE}"


def client(bind: Bind, *, zone: str = ZONE, port: int = 0, key: str = KEY_NAME) -> DnsClient:
    settings = DnsSettings(zone, "127.0.0.1", port or bind.port, key, ALGORITHM, bind.secret, 120)
    return DnsClient(settings, timeout=10)


def test_write_then_read_then_delete(bind: Bind) -> None:
    dns = client(bind)
    assert dns.read(NAME, "A") is None
    two = RecordSet.of(120, ["192.0.2.2", "192.0.2.1"])
    dns.write(NAME, "A", None, two)
    assert dns.read(NAME, "A") == RecordSet(120, ("192.0.2.1", "192.0.2.2"))
    assert bind.records(NAME, "A") == (120, ["192.0.2.1", "192.0.2.2"])
    dns.write(NAME, "A", two, None)
    assert bind.records(NAME, "A") is None


def test_a_stale_prerequisite_is_a_conflict_and_changes_nothing(bind: Bind) -> None:
    dns = client(bind)
    bind.nsupdate(f"update add {NAME} 300 A 203.0.113.5")
    with pytest.raises(DnsError) as created:
        dns.write(NAME, "A", None, RecordSet.of(120, ["192.0.2.1"]))
    with pytest.raises(DnsError) as updated:
        dns.write(NAME, "A", RecordSet.of(120, ["192.0.2.9"]), None)
    assert created.value.kind == updated.value.kind == "conflict"
    assert f"DNS server {bind.server} did not change {NAME} A" in str(created.value)
    assert bind.records(NAME, "A") == (300, ["203.0.113.5"])


def test_an_unknown_key_a_foreign_zone_and_a_silent_port(bind: Bind) -> None:
    with pytest.raises(DnsError) as unknown:
        client(bind, key="nobody").read(NAME, "A")
    assert unknown.value.kind == "key" and "BADKEY" in unknown.value.message
    with pytest.raises(DnsError) as foreign:
        client(bind, zone="example.org").write(
            "api.example.org", "A", None, RecordSet.of(60, ["192.0.2.1"])
        )
    assert foreign.value.kind == "refused" and "NOTAUTH" in foreign.value.message
    closed = free_port(DNS)  # nothing listens there
    with pytest.raises(DnsError) as silent:
        client(bind, port=closed).read(NAME, "A")
    assert silent.value.kind == "unreachable"
    assert f"DNS server 127.0.0.1:{closed} cannot be reached" in silent.value.message
    assert bind.secret not in unknown.value.message + foreign.value.message


def test_after_a_server_is_down_its_other_updates_are_not_sent(bind: Bind) -> None:
    """One wait per dead server, not one per record set; Ctrl-C sends nothing more.
    Each update left unsent is a failure, so the state keeps what it recorded."""
    import threading

    from l4plan.apply.dns import send_dns
    from l4plan.dns.records import DnsOperation

    dead = client(bind, port=free_port(DNS)).settings  # nothing listens there
    live = client(bind).settings
    desired = RecordSet.of(120, ["192.0.2.1"])
    ops = [
        DnsOperation("l4_application.a", f"a.{ZONE} A", dead.server, dead, None, desired),
        DnsOperation("l4_application.b", f"b.{ZONE} A", dead.server, dead, None, desired),
        DnsOperation("l4_application.c", f"c.{ZONE} A", live.server, live, None, desired),
    ]
    first, second, third = send_dns(ops, timeout=5)
    assert first.error is not None and first.error.kind == "unreachable"
    assert second.error is first.error  # not tried again
    assert third.ok and bind.records(f"c.{ZONE}", "A") == (120, ["192.0.2.1"])

    cancel = threading.Event()
    cancel.set()
    [late] = send_dns(ops[2:], timeout=5, cancel=cancel)
    assert late.error is not None and late.error.kind == "cancelled"
