"""State JSON: schema validation, clear errors for corrupt and newer states."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest

from l4plan.configs.model import UNKNOWN
from l4plan.states import CorruptStateError, StateError, dump_state_json, load_state_json
from l4plan.states.codec import SCHEMA_PATH
from tests.states.support import sample_state


def test_round_trip_keeps_everything_and_matches_the_schema() -> None:
    state = sample_state(3, serial=7)
    text = dump_state_json(state)
    jsonschema.validate(json.loads(text), json.loads(SCHEMA_PATH.read_text()))
    loaded = load_state_json(text, source="t.json")
    assert loaded.to_json() == state.to_json()
    assert loaded.resources['l4_application.game["1"]'].agents["hz1"].revision == 2
    assert loaded.outputs["token"].sensitive is True


def test_invalid_json_names_the_source_and_position() -> None:
    with pytest.raises(CorruptStateError, match=r"t\.json: the state is not valid JSON .*line 1"):
        load_state_json('{"version": 1,', source="t.json")


def test_newer_format_version_is_refused_with_what_to_do() -> None:
    data = sample_state().to_json() | {"version": 2, "l4plan_version": "9.0.0", "extra": 1}
    with pytest.raises(StateError, match=r"format version 2, written by l4plan 9\.0\.0.*Upgrade"):
        load_state_json(json.dumps(data), source="s")


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.update(serial="7"), "at serial"),
        (lambda d: d.pop("lineage"), "lineage"),
        (lambda d: d["resources"][0].update(address=5), r"at resources\[0\]\.address"),
        (lambda d: d["resources"][1]["agents"]["hz1"].pop("revision"), "revision"),
        (lambda d: d.update(surprise=True), "surprise"),
    ],
)
def test_schema_violations_say_where(mutate, where) -> None:  # type: ignore[no-untyped-def]
    data = sample_state().to_json()
    mutate(data)
    with pytest.raises(CorruptStateError, match=where):
        load_state_json(json.dumps(data), source="s")


def test_duplicate_resource_address_is_corrupt() -> None:
    data = sample_state().to_json()
    data["resources"].append(data["resources"][0])
    with pytest.raises(CorruptStateError, match=r"l4_site\.main appears twice"):
        load_state_json(json.dumps(data), source="s")


@pytest.mark.parametrize("value", [UNKNOWN, math.nan, {1, 2}])
def test_values_that_cannot_load_back_are_never_written(value: object) -> None:
    state = sample_state()
    state.resources["l4_site.main"].attributes["bad"] = value
    with pytest.raises(StateError, match="cannot serialise the state"):
        dump_state_json(state)
