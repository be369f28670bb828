"""Every JSON document l4plan writes or reads is strict JSON: no Infinity, no NaN.

Python's json module writes `Infinity` and `NaN` unless told not to, and reads them
back; neither is JSON, and other readers (jq, the agent, PostgreSQL's jsonb) refuse
them. The configuration loader rejects out-of-range numbers; these tests hold the
writers and readers to the rule whatever the source of a value.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from l4plan.jsontext import NotJSONError, dumps, loads
from l4plan.plans import PlanFileError, build_plan, load_planfile, saved_plan, write_planfile
from l4plan.states import CorruptStateError, State, dump_state_json, load_state_json
from l4plan.states.model import OutputState
from tests.plans.factory import app, config, rule, site


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_dumps_refuses_non_finite_numbers_and_names_where(bad: float) -> None:
    with pytest.raises(NotJSONError, match=r"outputs\.x\[1\]"):
        dumps({"outputs": {"x": [1, bad]}})
    assert dumps({"a": [1, 2.5]}, sort_keys=True) == json.dumps({"a": [1, 2.5]})


@pytest.mark.parametrize("text", ["Infinity", "-Infinity", "NaN", "[1, NaN]", "1e400", "[-1e999]"])
def test_loads_refuses_non_finite_numbers(text: str) -> None:
    with pytest.raises(ValueError, match=r"not JSON|too large"):
        loads(text)
    assert loads("[1.5e300, 2]") == [1.5e300, 2]


def test_a_plan_file_is_never_written_with_infinity(tmp_path: Path) -> None:
    cfg = config(site(), app("game", "play.example.com", [rule("80")]))
    plan = build_plan(cfg, None)
    plan.changes[-1].after["comment"] = math.inf  # type: ignore[index]
    path = tmp_path / "plan.out"
    with pytest.raises(PlanFileError, match=r"Infinity|inf"):
        write_planfile(path, saved_plan(plan, cfg))
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_a_plan_file_holding_infinity_is_refused(tmp_path: Path) -> None:
    cfg = config(site(), app("game", "play.example.com", [rule("80")]))
    path = tmp_path / "plan.out"
    write_planfile(path, saved_plan(build_plan(cfg, None), cfg))
    text = path.read_text().replace('"enterprise"', "Infinity", 1)
    assert "Infinity" in text
    path.write_text(text)
    with pytest.raises(PlanFileError, match="not an l4plan plan file"):
        load_planfile(path)


def test_state_with_infinity_is_neither_written_nor_read() -> None:
    state = State(serial=1)
    state.outputs["x"] = OutputState(math.inf, False)
    with pytest.raises(Exception, match="cannot serialise the state"):
        dump_state_json(state)
    state.outputs["x"] = OutputState(1, False)
    text = dump_state_json(state).replace('"value": 1', '"value": Infinity')
    assert "Infinity" in text
    with pytest.raises(CorruptStateError, match="not valid JSON"):
        load_state_json(text, source="l4plan.tfstate.json")
