"""SIGKILL of the agent at random points of Config.Apply (issue 16, item 2).

Each trial sends one Config.Apply that changes several applications at once (a
comment, a 60-port range moved to another block, an application created or
deleted) and kills the agent with SIGKILL after a random delay drawn over the
measured duration of such an apply, so kills land before, during and after the
bind, the fsync and the commit. After the restart the configuration must be the
old or the new one (every application's spec, compared by hash), never a mix,
never older than a revision the client saw acknowledged, and every listener of
it must forward to its origin.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from l4agent.spec import spec_hash as spec_hash_of

from l4plan.agents.errors import AgentError
from tests.agent.harness import Origins
from tests.reliability.figures import report_trials, trials
from tests.reliability.support import Agent, agent, app, forwards, free, free_range, rule

TRIALS = trials("L4PLAN_RELIABILITY_AGENT_KILL_TRIALS", 8, 100)
BLOCK = 60


@dataclass
class Variant:
    """One of the configurations the trials switch between."""

    apps: dict[str, dict[str, Any]]

    def hashes(self) -> dict[str, str]:
        return {name: spec_hash_of(spec) for name, spec in self.apps.items()}


@dataclass
class Observation:
    before: dict[str, str]  # app -> spec hash before the apply
    after: dict[str, str]  # what the apply would make it
    acked_revision: int | None  # the answer the client got, if any
    old_revision: int
    restored_revision: int
    restored: dict[str, str]  # what the restarted agent holds
    dead_ports: list[int] = field(default_factory=list)


def violations(o: Observation) -> list[str]:
    """What is wrong with one trial's outcome (empty: consistent)."""
    found = []
    if o.restored not in (o.before, o.after):
        mixed = sorted(
            n for n in set(o.before) | set(o.after) if o.restored.get(n) != o.after.get(n)
        )
        found.append(f"configuration is a mix of old and new (differs from new in {mixed})")
    if o.restored_revision not in (o.old_revision, o.old_revision + 1):
        found.append(f"revision {o.restored_revision} is neither {o.old_revision} nor +1")
    if o.acked_revision is not None and o.restored_revision < o.acked_revision:
        found.append(f"revision {o.restored_revision} is below acknowledged {o.acked_revision}")
    if o.acked_revision is not None and o.restored != o.after:
        found.append("an acknowledged apply was lost")
    if (o.restored == o.after) != (o.restored_revision == o.old_revision + 1):
        found.append("revision and configuration disagree")
    if o.dead_ports:
        found.append(f"listeners that do not forward: {o.dead_ports[:5]}")
    return found


def variants(origin_port: int, blocks: tuple[int, int], fixed: int) -> list[Variant]:
    """Two configurations differing in every way an apply can change things."""
    out = []
    for i, first in enumerate(blocks):
        carrying = rule("tcp", fixed, origin_port)
        carrying["comment"] = f"variant {i}"
        apps = {
            "fixed.example.com": app(carrying),
            "moving.example.com": app(rule("tcp", [[first, first + BLOCK - 1]], origin_port)),
        }
        apps[f"only-{i}.example.com"] = app(rule("tcp", first + BLOCK, origin_port))
        out.append(Variant(apps))
    return out


def listener_ports(apps: dict[str, dict[str, Any]]) -> list[int]:
    return sorted(
        port
        for spec in apps.values()
        for r in spec["rules"]
        for lo, hi in r["edge_ports"]
        for port in range(lo, hi + 1)
    )


class Trial:
    def __init__(self, agent: Agent, variants: list[Variant]) -> None:
        self.agent = agent
        self.variants = variants
        self.by_hashes = {tuple(sorted(v.hashes().items())): v for v in variants}

    def held(self) -> tuple[int, dict[str, str], dict[str, dict[str, Any]]]:
        listed = self.agent.client.list_apps()
        apps = {a["name"]: a["spec"] for a in listed["apps"]}
        return listed["revision"], {a["name"]: a["spec_hash"] for a in listed["apps"]}, apps

    def run(self, target: Variant, delay: float) -> Observation:
        revision, before, current = self.held()
        client = self.agent.new_client(timeout=60.0, retries=0)
        answer: dict[str, Any] = {}

        def send() -> None:
            try:
                answer["result"] = client.apply(
                    expected_revision=revision,
                    upsert=[{"name": n, "spec": s} for n, s in target.apps.items()],
                    delete=[n for n in current if n not in target.apps],
                    request_id=str(uuid.uuid4()),
                )
            except AgentError as e:
                answer["error"] = e

        thread = threading.Thread(target=send)
        thread.start()
        time.sleep(delay)
        self.agent.kill()
        thread.join(15)
        client.close()
        self.agent.client = self.agent.new_client(timeout=60.0)
        self.agent.start()
        restored_revision, restored, apps = self.held()
        dead = [p for p in listener_ports(apps) if not forwards(p)]
        acked = answer["result"]["revision"] if "result" in answer else None
        return Observation(
            before, target.hashes(), acked, revision, restored_revision, restored, dead
        )


def measure_apply(agent: Agent, variants: list[Variant]) -> float:
    """Seconds one switching apply takes (the median of three)."""
    agent.client = agent.new_client(timeout=60.0)
    times = []
    for target in variants * 2:
        revision = agent.client.info()["revision"]
        current = {a["name"] for a in agent.client.list_apps()["apps"]}
        started = time.monotonic()
        agent.client.apply(
            expected_revision=revision,
            upsert=[{"name": n, "spec": s} for n, s in target.apps.items()],
            delete=[n for n in current if n not in target.apps],
            request_id=str(uuid.uuid4()),
        )
        times.append(time.monotonic() - started)
    return sorted(times)[len(times) // 2]


@pytest.fixture
def setup(tmp_path: Path, origins: Origins) -> Any:
    origin_port = free()
    origins.tcp(origin_port)
    blocks = (free_range(BLOCK + 1), free_range(BLOCK + 1))
    vs = variants(origin_port, blocks, free())
    node = agent(tmp_path, "agent", "--drain-timeout", "0s")
    try:
        node.start()
        yield node, vs
    finally:
        node.kill()


def test_sigkill_during_config_apply(setup: Any) -> None:
    node, vs = setup
    duration = measure_apply(node, vs)
    trial = Trial(node, vs)
    rnd = random.Random(16)
    bad: list[str] = []
    outcomes = {"old": 0, "new": 0}
    for i in range(TRIALS):
        _, held, _ = trial.held()
        target = vs[1] if held == vs[0].hashes() else vs[0]  # always a real change
        observation = trial.run(target, rnd.uniform(0, duration))
        outcomes["new" if observation.restored == observation.after else "old"] += 1
        bad += [f"trial {i}: {v}" for v in violations(observation)]
    line = report_trials(
        "agent-sigkill-apply", TRIALS - len({b.split(":")[0] for b in bad}), TRIALS
    )
    old, new = outcomes["old"], outcomes["new"]
    print(f"  one apply takes {duration * 1000:.0f} ms; restored: old {old}, new {new}")
    assert not bad, "\n".join([line, *bad])


# ---- the checker, shown to catch what it is for -------------------------------------


def test_checker_reports_a_mixed_configuration(tmp_path: Path, origins: Origins) -> None:
    """A hand-made config.json holding one application of the old configuration and one
    of the new (what a non-atomic write could leave) is reported as a mix."""
    import json

    origin_port = free()
    origins.tcp(origin_port)
    old, new = variants(origin_port, (free_range(BLOCK + 1), free_range(BLOCK + 1)), free())
    node = agent(tmp_path, "agent", "--drain-timeout", "0s")
    try:
        node.start()
        node.apply(old.apps)
        revision, before, _ = Trial(node, [old, new]).held()
        node.kill()
        path = node.state_dir / "config.json"
        data = json.loads(path.read_text())
        data["apps"]["moving.example.com"] = new.apps["moving.example.com"]
        path.write_text(json.dumps(data))
        node.client = node.new_client()
        node.start()
        restored_revision, restored, _ = Trial(node, [old, new]).held()
        found = violations(
            Observation(before, new.hashes(), revision + 1, revision, restored_revision, restored)
        )
    finally:
        node.kill()
    assert any("mix" in v for v in found), found
    assert any("below acknowledged" in v for v in found), found


def test_checker_reports_a_listener_that_does_not_forward() -> None:
    o = Observation({"a": "1"}, {"a": "2"}, None, 3, 3, {"a": "1"}, dead_ports=[4242])
    assert violations(o) == ["listeners that do not forward: [4242]"]
    assert violations(Observation({"a": "1"}, {"a": "2"}, None, 3, 4, {"a": "1"})) == [
        "revision and configuration disagree"
    ]
