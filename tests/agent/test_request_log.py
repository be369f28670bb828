"""The persisted request log keeps what an idempotent retry needs, bounded in bytes:
large no-op applies do not bloat config.json, and their retries (also after a
restart) still get the first answer in full."""

from __future__ import annotations

from tests.agent.harness import Agent, app, port, rule

NAMES = [f"absent-{i}.example.com" for i in range(10000)]


def test_no_op_deletes_are_stored_compactly_and_replayed_in_full(agent_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state"
    agent: Agent = agent_factory(state_dir=state)
    kept = {"kept.example": app(rule("tcp", port(), 9))}
    agent.apply(kept, request_id="first")
    before = (state / "config.json").stat().st_size
    answers = [agent.apply(delete=NAMES, request_id=f"noop-{i}") for i in range(8)]
    grown = (state / "config.json").stat().st_size - before
    # before: the 10,000 results of each apply were stored whole (600 KB each)
    assert grown < 8 * 1024, f"config.json grew {grown} bytes for 8 no-op applies"
    assert all(a["results"] == answers[0]["results"] for a in answers)
    assert len(answers[0]["results"]) == 10000
    assert {r["action"] for r in answers[0]["results"]} == {"none"}

    retry = agent.apply(delete=NAMES, request_id="noop-3")
    assert retry == answers[3]
    agent.kill()
    again: Agent = agent_factory(state_dir=state)
    assert again.apply(delete=NAMES, request_id="noop-5") == answers[5]
    first = again.apply(kept, request_id="first")
    assert first["results"][0]["action"] == "create" and first["revision"] == 1
