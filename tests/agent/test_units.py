"""Sans-IO pieces of the agent: port mapping, spec checks and hashing, worker framing,
the request-id log, settings syntax, and the durable store (real files)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from l4agent.control.admission import Admission
from l4agent.control.idempotency import RequestLog
from l4agent.control.store import ConfigStore, Snapshot, StateDirError
from l4agent.protocols.frames import FrameDecoder, FrameError, encode_frame
from l4agent.settings import parse_duration, parse_size
from l4agent.spec import check_spec, listener_keys, spec_hash
from l4agent.spec.mapping import PortMap, client_hash, mapping_problem

from tests.agent.harness import app, rule


def test_mapping_kinds() -> None:
    assert PortMap([[80, 80]], None).origin_port(80, "1.2.3.4") == 80
    assert PortMap([[80, 90]], [8080, 8080]).origin_port(85, "1.2.3.4") == 8080
    offset = PortMap([[3000, 3010]], [5000, 5010])
    assert offset.kind == "offset"
    assert offset.origin_port(3005, "1.2.3.4") == 5005
    assert PortMap([[80, 80], [90, 95]], [7, 7]).origin_port(93, "::1") == 7
    hashed = PortMap([[53, 53]], [6000, 6009])
    assert hashed.kind == "hash"
    assert hashed.origin_port(53, "10.0.0.1") == 6000 + client_hash("10.0.0.1") % 10


@given(st.ip_addresses())
def test_hash_is_stable_and_in_range(ip: object) -> None:
    text = str(ip)
    port = PortMap([[53, 53]], [6000, 6009]).origin_port(53, text)
    assert 6000 <= port <= 6009
    assert port == PortMap([[53, 53]], [6000, 6009]).origin_port(53, text)


def test_client_hash_ignores_the_ipv6_scope() -> None:
    assert client_hash("fe80::1%eth0") == client_hash("fe80::1")


@pytest.mark.parametrize(
    ("edge", "origin", "ok"),
    [
        ([[1, 10]], [21, 30], True),
        ([[1, 10]], [21, 31], False),
        ([[1, 1], [5, 6]], [21, 22], False),
        ([[1, 1], [5, 6]], [21, 21], True),
        ([[1, 1]], [21, 40], True),
        ([[1, 10]], None, True),
    ],
)
def test_mapping_problems(edge: list[list[int]], origin: list[int] | None, ok: bool) -> None:
    assert (mapping_problem(edge, origin) is None) == ok
    if not ok:
        with pytest.raises(ValueError):
            PortMap(edge, origin)


def test_spec_hash_is_the_contract() -> None:
    spec = app(rule("tcp", 80, 8080))
    spec["rules"][0]["comment"] = "ünïcode"
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    assert spec_hash(spec) == hashlib.sha256(canonical).hexdigest()


def test_check_spec() -> None:
    good = app(rule("tcp", [[80, 81], [90, 90]], 8080), rule("udp", 80, 8080))
    assert check_spec(good, "s") == []
    overlap = app(rule("tcp", [[80, 85]], 1), rule("tcp", [[85, 90]], 2))
    [problem] = check_spec(overlap, "s")
    assert problem["field"] == "s.rules[1].edge_ports" and problem["port"] == 85
    unsorted = app(rule("tcp", [[90, 90], [80, 80]], 1))
    assert check_spec(unsorted, "s")[0]["field"] == "s.rules[0].edge_ports[1]"
    two_targets = app(rule("tcp", 80, 1))
    two_targets["rules"][0]["origin"]["targets"].append({"host": "10.0.0.2"})
    assert check_spec(two_targets, "s")[0]["field"] == "s.rules[0].origin.targets"
    bad_acl = app(rule("tcp", 80, 1))
    bad_acl["acl"] = [{"action": "block", "sources": ["10.0.0.0/33"]}]
    assert check_spec(bad_acl, "s")[0]["field"] == "s.acl[0].sources[0]"
    v1_udp = app(rule("udp", 80, 1, passthrough="proxy_v1"))
    assert check_spec(v1_udp, "s")[0]["field"] == "s.rules[0].passthrough"


def test_listener_keys() -> None:
    spec = app(rule("tcp", [[80, 81]], 1), rule("udp", 53, 1), ipv6=True)
    assert sorted(listener_keys(spec)) == [
        (("tcp", 80, "ipv4"), 0),
        (("tcp", 80, "ipv6"), 0),
        (("tcp", 81, "ipv4"), 0),
        (("tcp", 81, "ipv6"), 0),
        (("udp", 53, "ipv4"), 1),
        (("udp", 53, "ipv6"), 1),
    ]


@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers()), max_size=5), st.data())
def test_frames_survive_any_split(messages: list[dict[str, int]], data: st.DataObject) -> None:
    stream = b"".join(encode_frame({"m": m}) for m in messages)
    cut = data.draw(st.integers(min_value=0, max_value=len(stream)))
    decoder = FrameDecoder()
    got = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
    assert got == [{"m": m} for m in messages]


def test_bad_frames() -> None:
    with pytest.raises(FrameError):
        FrameDecoder().feed(b"\xff\xff\xff\xff")
    with pytest.raises(FrameError):
        FrameDecoder().feed(b"\x00\x00\x00\x02[]")
    with pytest.raises(FrameError):
        FrameDecoder().feed(b"\x00\x00\x00\x01{")


def answer(revision: int, *actions: str) -> dict:  # type: ignore[type-arg]
    results = [{"name": f"n{i}", "action": a, "spec_hash": None} for i, a in enumerate(actions)]
    listeners = {"added": 0, "removed": 0, "kept": 0}
    return {
        "revision": revision,
        "changed": True,
        "dry_run": False,
        "results": results,
        "listeners": listeners,
    }


def test_request_log_is_a_bounded_lru() -> None:
    log = RequestLog(capacity=2)
    log.put("a", "h", answer(1, "delete"))
    log.put("b", "h", answer(2, "delete"))
    recorded = log.get("a")  # a is now the most recent
    assert recorded is not None and recorded.result([], [], ["n0"]) == answer(1, "delete")
    log.put("c", "h", answer(3, "delete"))
    assert log.get("b") is None and len(log) == 2
    assert RequestLog.from_json(log.to_json(), 2).to_json() == log.to_json()


def test_request_log_is_bounded_in_bytes() -> None:
    alternating = ["create", "none"] * 5000  # does not run-length encode
    log = RequestLog(capacity=1024, max_bytes=200_000)
    for i in range(100):
        log.put(f"r{i}", "h" * 64, answer(i, *alternating))
    assert log.bytes <= 200_000 and 1 < len(log) < 100
    assert log.get("r99") is not None and log.get("r0") is None


def test_request_log_reads_whole_answers_of_earlier_agents() -> None:
    old = [["r1", "h", answer(4, "none", "none", "create")]]
    recorded = RequestLog.from_json(old).get("r1")
    assert recorded is not None and recorded.actions == "n2c1"
    assert recorded.result([], [], ["n0", "n1", "n2"]) == answer(4, "none", "none", "create")


def test_settings_syntax() -> None:
    assert parse_duration("250ms") == 0.25
    assert parse_duration("2m") == 120
    assert parse_duration("3") == 3
    assert parse_size("8MiB") == 8 << 20
    with pytest.raises(ValueError):
        parse_duration("soon")
    with pytest.raises(ValueError):
        parse_size("-1")


def test_store_roundtrip_and_atomic_files(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "state")
    store.open()
    assert store.load(10).revision == 0
    requests = RequestLog(10)
    requests.put("r1", "h", answer(3, "create"))
    store.save(Snapshot(3, {"a.example.com": app(rule("tcp", 80, 1))}, requests))
    loaded = store.load(10)
    assert loaded.revision == 3 and list(loaded.apps) == ["a.example.com"]
    assert loaded.requests.to_json() == requests.to_json()
    assert os.stat(store.path).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in store.dir.iterdir()) == ["config.json", "lock", "node_id"]
    node_id = store.node_id
    store.close()
    again = ConfigStore(tmp_path / "state")
    again.open()
    assert again.node_id == node_id
    again.close()


def test_store_is_locked_against_a_second_agent(tmp_path: Path) -> None:
    first = ConfigStore(tmp_path)
    first.open()
    with pytest.raises(StateDirError, match="in use by another l4plan-agent"):
        ConfigStore(tmp_path).open()
    first.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"format": 9}', "unknown format"),
        ('{"format": 1, "revision": -1, "apps": {}}', "revision"),
        ('{"format": 1, "revision": 1, "apps": {"x": {"rules": []}}}', "apps['x'].rules"),
    ],
)
def test_corrupt_store_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    store = ConfigStore(tmp_path)
    store.open()
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(StateDirError, match=message.replace("[", r"\[")):
        store.load(10)
    store.close()


class Conn:
    def __init__(self, name: str) -> None:
        self.name = name
        self.evicted = False

    def evict(self) -> None:
        self.evicted = True


def test_admission_evicts_the_longest_idle_connection() -> None:
    admission = Admission(max_total=3, max_per_client=2)
    a, b, c, d, e = (Conn(n) for n in "abcde")
    assert admission.admit(a, "10.0.0.1") and admission.admit(b, "10.0.0.1")
    admission.busy(a)
    assert admission.admit(c, "10.0.0.1")  # per-client cap: b (idle) goes, a is busy
    assert b.evicted and not a.evicted
    assert admission.admit(d, "10.0.0.2")
    admission.idle(a)  # a got its answer: now the most recently idle
    assert admission.admit(e, "10.0.0.3")  # total cap: c has been idle longest
    assert c.evicted and not a.evicted and len(admission) == 3


def test_admission_refuses_when_everything_is_busy() -> None:
    admission = Admission(max_total=2, max_per_client=2)
    a, b, c = Conn("a"), Conn("b"), Conn("c")
    assert admission.admit(a, "x") and admission.admit(b, "y")
    admission.busy(a)
    admission.busy(b)
    assert not admission.admit(c, "z")
    admission.release(a)
    assert admission.admit(c, "z") and len(admission) == 2
