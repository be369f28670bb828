from __future__ import annotations

import gzip
import json
import os
import stat
from pathlib import Path

import pytest

from l4plan.plans import (
    PlanFileError,
    StalePlanError,
    build_plan,
    check_fresh,
    load_planfile,
    plan_to_json,
    saved_plan,
    write_planfile,
)
from tests.plans.factory import app, applied, config, rule, site


def _setup():
    cfg = config(site(), app("game", "play.example.com", [rule("80", origin="s3cr3t")]))
    cfg.resources["l4_application.game"].sensitive = {"rule.0.origin"}
    cfg.variables = {"origin": "s3cr3t", "ports": {"a", "b"}}
    state = applied(cfg, serial=3)
    return cfg, state


@pytest.mark.parametrize("name", ["plan.out", "plan.out.gz"])
def test_round_trip_keeps_everything(tmp_path: Path, name: str) -> None:
    cfg, state = _setup()
    changed = config(site(), app("game", "play.example.com", [rule("80"), rule("81")]))
    changed.files = cfg.files
    changed.variables = cfg.variables
    plan = build_plan(changed, state)
    path = tmp_path / name
    write_planfile(path, saved_plan(plan, changed, backend="local state l4plan.tfstate.json"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    raw = path.read_bytes()
    assert raw.startswith(b"\x1f\x8b") == name.endswith(".gz")
    saved = load_planfile(path)
    assert plan_to_json(saved.plan, reveal_sensitive=True) == plan_to_json(
        plan, reveal_sensitive=True
    )
    assert saved.config_hash == changed.content_hash()
    assert saved.variables == {"origin": "s3cr3t", "ports": ["a", "b"]}
    assert saved.backend == "local state l4plan.tfstate.json"
    assert saved.plan.prior_state.serial == 3
    check_fresh(saved, changed, state)  # nothing moved
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left


def test_stale_when_state_serial_moves(tmp_path: Path) -> None:
    cfg, state = _setup()
    path = tmp_path / "p"
    write_planfile(path, saved_plan(build_plan(cfg, state), cfg))
    state.serial = 4
    with pytest.raises(StalePlanError) as e:
        check_fresh(load_planfile(path), cfg, state)
    assert "the state serial moved from 3 to 4" in str(e.value)
    assert "Run `l4plan plan` again" in str(e.value)


def test_stale_when_configuration_changes(tmp_path: Path) -> None:
    cfg, state = _setup()
    path = tmp_path / "p"
    write_planfile(path, saved_plan(build_plan(cfg, state), cfg))
    cfg.files = {"main.l4.hcl": "# edited\n"}
    with pytest.raises(StalePlanError) as e:
        check_fresh(load_planfile(path), cfg, state)
    assert e.value.reasons == ["the configuration changed since the plan was made"]


def test_stale_when_variables_change(tmp_path: Path) -> None:
    cfg, state = _setup()
    path = tmp_path / "p"
    write_planfile(path, saved_plan(build_plan(cfg, state), cfg))
    cfg.variables = {**cfg.variables, "origin": "other"}
    with pytest.raises(StalePlanError) as e:
        check_fresh(load_planfile(path), cfg, state)
    assert e.value.reasons == ["variable values differ: origin"]
    assert "other" not in str(e.value) and "s3cr3t" not in str(e.value)


def test_stale_when_state_appears_disappears_or_is_another(tmp_path: Path) -> None:
    cfg, state = _setup()
    path = tmp_path / "p"
    write_planfile(path, saved_plan(build_plan(cfg, None), cfg))
    with pytest.raises(StalePlanError, match="no state existed, and now there is one"):
        check_fresh(load_planfile(path), cfg, state)
    check_fresh(load_planfile(path), cfg, None)
    write_planfile(path, saved_plan(build_plan(cfg, state), cfg))
    with pytest.raises(StalePlanError, match="no longer exists"):
        check_fresh(load_planfile(path), cfg, None)
    other = applied(cfg, serial=3)  # a fresh lineage
    with pytest.raises(StalePlanError, match="the state is a different one"):
        check_fresh(load_planfile(path), cfg, other)


def test_stale_when_made_by_another_version(tmp_path: Path) -> None:
    cfg, state = _setup()
    path = tmp_path / "p"
    saved = saved_plan(build_plan(cfg, state), cfg)
    saved.l4plan_version = "0.0.9"
    write_planfile(path, saved)
    with pytest.raises(StalePlanError, match=r"made by l4plan 0\.0\.9"):
        check_fresh(load_planfile(path), cfg, state)


def test_not_a_plan_file(tmp_path: Path) -> None:
    for content in (b"hello", b'{"a": 1}', b"\xff\xfe", b"[1, 2]"):
        path = tmp_path / "x"
        path.write_bytes(content)
        with pytest.raises(PlanFileError, match="is not an l4plan plan file"):
            load_planfile(path)
    with pytest.raises(PlanFileError, match="cannot read plan file"):
        load_planfile(tmp_path / "missing")


def test_damaged_plan_file(tmp_path: Path) -> None:
    cfg, state = _setup()
    path = tmp_path / "p"
    write_planfile(path, saved_plan(build_plan(cfg, state), cfg))
    data = json.loads(path.read_text())
    data["plan"]["resource_changes"][0]["action"] = ["explode"]
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match="damaged: resource_changes/0/action"):
        load_planfile(path)
    del data["config_hash"]
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match='"config_hash" is missing'):
        load_planfile(path)
    path.write_bytes(gzip.compress(b"{}")[:-4])
    with pytest.raises(PlanFileError, match="bad gzip data"):
        load_planfile(path)
    data["l4plan_plan_file"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match="has format 99"):
        load_planfile(path)


def test_write_replaces_an_existing_file_atomically(tmp_path: Path) -> None:
    cfg, state = _setup()
    path = tmp_path / "p"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_planfile(path, saved_plan(build_plan(cfg, state), cfg))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_planfile(path).plan.prior_state.serial == 3
