"""The operations behind the commands, called directly: no click, no terminal.

The agents of these configurations do not run, so every agent call fails with
UNAVAILABLE; what the operations do with that is what is tested here (the real
agents are in tests/e2e).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from l4plan.apply.engine import ProgressCallback
from l4plan.configs.model import BackendConfig
from l4plan.states import StaleStateError, State, open_backend
from l4plan.workflows.apply import apply
from l4plan.workflows.drift import drift
from l4plan.workflows.errors import InvalidConfiguration, OperationError, Stopped
from l4plan.workflows.importing import import_application
from l4plan.workflows.options import RunOptions
from l4plan.workflows.plan import make_plan
from l4plan.workflows.state_write import write_successor
from tests.plans.hcl import application, read_state, record_apply, rule, write_config

GAME = application("game", "play", [rule("18080")])


class RecordingView:
    """An ApplyView that remembers what it was shown and approves everything."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def diagnostics(self, diagnostics, config) -> None:  # type: ignore[no-untyped-def]
        self.shown += [d.code for d in diagnostics]

    def plan(self, plan) -> None:  # type: ignore[no-untyped-def]
        self.shown.append(f"plan {plan.summary}")

    def confirm(self, mode) -> None:  # type: ignore[no-untyped-def]
        self.shown.append(f"confirm {mode}")

    @contextmanager
    def progress(self, operations) -> Iterator[ProgressCallback | None]:  # type: ignore[no-untyped-def]
        events: list[str] = []
        yield lambda agent, event, result: events.append(f"{agent} {event}")
        self.shown += events

    def interrupted(self) -> None:
        self.shown.append("interrupted")


def test_plan_reads_the_state_and_reports_configuration_errors(tmp_path: Path) -> None:
    write_config(tmp_path, GAME)
    made = make_plan(tmp_path, RunOptions(refresh=False))
    assert not made.plan.errored and made.plan.summary.add == 2
    assert made.backend == "local state l4plan.tfstate.json"
    (tmp_path / "broken.l4.hcl").write_text('resource "l4_site" "x" {\n  plan = 5\n}\n')
    refused = make_plan(tmp_path, RunOptions(refresh=False))
    assert refused.plan.errored and refused.backend == ""


def test_apply_with_unreachable_agents_records_nothing_it_was_not_told(tmp_path: Path) -> None:
    write_config(tmp_path, GAME)
    view = RecordingView()
    result = apply(tmp_path, "normal", RunOptions(refresh=False), view)
    assert result.ending == "applied" and result.outcome is not None
    assert [f.error.status for f in result.outcome.failures] == ["UNAVAILABLE"]  # type: ignore[union-attr]
    assert view.shown[:2] == ["plan Summary(add=2, change=0, destroy=0)", "confirm normal"]
    state = read_state(tmp_path)
    assert state is not None and state.serial == 1
    assert set(state.resources) == {"l4_site.main"}  # the application was not acknowledged


def test_apply_stops_on_a_plan_with_errors_and_on_bad_configuration(tmp_path: Path) -> None:
    write_config(tmp_path, GAME)
    with pytest.raises(Stopped):
        apply(
            tmp_path,
            "normal",
            RunOptions(refresh=False, targets=("l4_nothing.x",)),
            RecordingView(),
        )
    (tmp_path / "broken.l4.hcl").write_text('resource "l4_site" "x" {\n  plan = 5\n}\n')
    with pytest.raises(InvalidConfiguration) as raised:
        apply(tmp_path, "normal", RunOptions(), RecordingView())
    assert {d.code for d in raised.value.diagnostics} == {"L4E016"}
    assert read_state(tmp_path) is None


def test_import_needs_an_agent_that_answers(tmp_path: Path) -> None:
    write_config(tmp_path, GAME)
    with pytest.raises(OperationError, match="is not an l4_application"):
        import_application(tmp_path, "l4_site.main", "example.com", RunOptions())
    with pytest.raises(OperationError, match=r"agent\.hz1: UNAVAILABLE"):
        import_application(
            tmp_path, "l4_application.game", "play.example.com", RunOptions(timeout=2)
        )


def test_drift_with_unreachable_agents_is_an_error(tmp_path: Path) -> None:
    write_config(tmp_path, GAME)
    record_apply(tmp_path)
    found = drift(tmp_path, RunOptions(timeout=2))
    assert found.checked and found.report["errored"] and not found.report["in_sync"]
    assert found.report["summary"]["unreachable"] == 2


def test_a_successor_state_continues_the_lineage_and_refuses_a_moved_state(tmp_path: Path) -> None:
    backend = open_backend(BackendConfig(), workdir=tmp_path)
    try:
        first = State()
        write_successor(backend, first, None)
        assert first.serial == 1
        second = State()
        write_successor(backend, second, (first.lineage, first.serial))
        assert (second.lineage, second.serial) == (first.lineage, 2)
        with pytest.raises(StaleStateError):
            write_successor(backend, State(), (first.lineage, first.serial))
    finally:
        backend.close()
