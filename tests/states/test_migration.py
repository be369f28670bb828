"""Migration between backends keeps lineage, serial and resources; refuses to clobber."""

from __future__ import annotations

from pathlib import Path

import pytest

from l4plan.states import StateError
from l4plan.states.local import LocalBackend
from l4plan.states.migrate import migrate_state
from l4plan.states.pg import PgBackend
from tests.states.support import PG_CONN_STR, pg_schema, sample_state

__all__ = ["pg_schema"]


def test_local_to_pg_to_local_keeps_lineage_serial_and_resources(
    tmp_path: Path, pg_schema: str
) -> None:
    source_dir, back_dir = tmp_path / "a", tmp_path / "b"
    source_dir.mkdir()
    back_dir.mkdir()
    LocalBackend(source_dir).write(sample_state(3, serial=12), expected=None)
    LocalBackend(source_dir).create_workspace("staging")
    LocalBackend(source_dir, workspace="staging").write(sample_state(1, serial=4), expected=None)
    LocalBackend(source_dir).create_workspace("empty")
    PgBackend(PG_CONN_STR, schema=pg_schema, workspace="default").initialize()

    def pg(ws: str) -> PgBackend:
        return PgBackend(PG_CONN_STR, schema=pg_schema, workspace=ws)

    results = migrate_state(lambda ws: LocalBackend(source_dir, workspace=ws), pg)
    assert [(r.workspace, r.outcome, r.serial) for r in results] == [
        ("default", "copied", 12),
        ("empty", "no state", None),
        ("staging", "copied", 4),
    ]
    results = migrate_state(pg, lambda ws: LocalBackend(back_dir, workspace=ws))
    assert [r.outcome for r in results] == ["copied", "no state", "copied"]
    for ws in ("default", "staging"):
        original = LocalBackend(source_dir, workspace=ws).read()
        round_trip = LocalBackend(back_dir, workspace=ws).read()
        assert original is not None and round_trip is not None
        assert round_trip.to_json() == original.to_json()
    assert LocalBackend(back_dir).workspaces() == ["default", "empty", "staging"]
    # a second run finds everything in place
    again = migrate_state(lambda ws: LocalBackend(source_dir, workspace=ws), pg)
    assert [r.outcome for r in again] == ["already there", "no state", "already there"]


def test_a_different_lineage_is_never_overwritten_without_force(tmp_path: Path) -> None:
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    src_dir.mkdir()
    dst_dir.mkdir()
    LocalBackend(src_dir).write(sample_state(serial=3), expected=None)
    LocalBackend(src_dir).create_workspace("b")
    LocalBackend(src_dir, workspace="b").write(sample_state(serial=1), expected=None)
    theirs = sample_state(1, serial=8)
    LocalBackend(dst_dir).write(theirs, expected=None)
    before = (dst_dir / "l4plan.tfstate.json").read_bytes()

    def source(ws: str) -> LocalBackend:
        return LocalBackend(src_dir, workspace=ws)

    def destination(ws: str) -> LocalBackend:
        return LocalBackend(dst_dir, workspace=ws)

    with pytest.raises(StateError, match=r"already holds a different state.*--force-copy"):
        migrate_state(source, destination)
    assert (dst_dir / "l4plan.tfstate.json").read_bytes() == before
    assert LocalBackend(dst_dir).workspaces() == ["default"]  # nothing was copied at all
    results = migrate_state(source, destination, force_copy=True)
    assert [r.outcome for r in results] == ["forced", "copied"]
    copied = LocalBackend(dst_dir).read()
    assert copied is not None and copied.lineage != theirs.lineage and copied.serial == 3


def test_a_newer_destination_serial_is_refused(tmp_path: Path) -> None:
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    src_dir.mkdir()
    dst_dir.mkdir()
    state = sample_state(serial=3)
    LocalBackend(src_dir).write(state, expected=None)
    newer = sample_state(1, lineage=state.lineage, serial=5)
    LocalBackend(dst_dir).write(newer, expected=None)
    with pytest.raises(StateError, match=r"newer serial of the same state \(5 > 3\)"):
        migrate_state(lambda ws: LocalBackend(src_dir), lambda ws: LocalBackend(dst_dir))
    migrate_state(
        lambda ws: LocalBackend(src_dir), lambda ws: LocalBackend(dst_dir), force_copy=True
    )
    forced = LocalBackend(dst_dir).read()
    assert forced is not None and forced.serial == 6  # after 5, so every reader sees a change
    assert len(forced.resources) == len(state.resources)
