"""The local backend: atomic writes, backups, file modes, compare-and-set, workspaces."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from l4plan.configs.model import BackendConfig
from l4plan.states import (
    CorruptStateError,
    StaleStateError,
    StateError,
    load_state_json,
    open_backend,
)
from l4plan.states.local import LocalBackend
from l4plan.states.workspaces import select_workspace, selected_workspace
from tests.states.support import sample_state


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_write_creates_a_0600_state_that_reads_back(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    assert backend.read() is None
    state = sample_state(serial=1)
    old_umask = os.umask(0)  # a permissive umask must not widen the mode
    try:
        backend.write(state, expected=None)
    finally:
        os.umask(old_umask)
    path = tmp_path / "l4plan.tfstate.json"
    assert mode(path) == 0o600
    assert not (tmp_path / "l4plan.tfstate.json.backup").exists()
    again = backend.read()
    assert again is not None and again.to_json() == state.to_json()
    assert [p.name for p in tmp_path.iterdir()] == ["l4plan.tfstate.json"]  # no temp files


def test_each_write_keeps_the_previous_state_as_backup(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    first = sample_state(1, serial=1)
    backend.write(first, expected=None)
    second = load_state_json((tmp_path / "l4plan.tfstate.json").read_text(), source="x")
    second.serial = 2
    del second.resources["l4_site.main"]
    backend.write(second, expected=(first.lineage, 1))
    backup = tmp_path / "l4plan.tfstate.json.backup"
    assert mode(backup) == 0o600
    assert load_state_json(backup.read_text(), source="b").to_json() == first.to_json()
    current = backend.read()
    assert current is not None and current.serial == 2 and "l4_site.main" not in current.resources


def test_stale_expected_serial_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    state = sample_state(serial=3)
    backend.write(state, expected=None)
    before = (tmp_path / "l4plan.tfstate.json").read_bytes()
    newer = sample_state(lineage=state.lineage, serial=5)
    with pytest.raises(StaleStateError, match=r"expected lineage .* serial 2, found .* serial 3"):
        backend.write(newer, expected=(state.lineage, 2))
    with pytest.raises(StaleStateError, match="expected no state, found lineage"):
        backend.write(newer, expected=None)
    with pytest.raises(StaleStateError, match="expected lineage other serial 3"):
        backend.write(newer, expected=("other", 3))
    assert (tmp_path / "l4plan.tfstate.json").read_bytes() == before
    assert not (tmp_path / "l4plan.tfstate.json.backup").exists()


def test_a_write_must_advance_the_serial(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    state = sample_state(serial=3)
    backend.write(state, expected=None)
    with pytest.raises(StateError, match="must advance the serial"):
        backend.write(state, expected=(state.lineage, 3))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"version": 1, "lineage": "x", ', "not valid JSON"),
        (b'{"version": 1}', "is invalid"),
        (b"\xff\xfe garbage", "not UTF-8"),
    ],
)
def test_corrupt_state_is_refused_and_never_overwritten(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "l4plan.tfstate.json"
    path.write_bytes(content)
    backend = LocalBackend(tmp_path)
    with pytest.raises(StateError, match=message) as error:
        backend.read()
    assert "left untouched" in str(error.value) and "l4plan.tfstate.json.backup" in str(error.value)
    with pytest.raises(StateError):
        backend.write(sample_state(), expected=None)
    assert path.read_bytes() == content


def test_newer_state_version_is_refused_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "l4plan.tfstate.json"
    path.write_text('{"version": 3, "l4plan_version": "2.0.0", "lineage": "l", "serial": 9}')
    before = path.read_bytes()
    backend = LocalBackend(tmp_path)
    with pytest.raises(StateError, match="format version 3") as error:
        backend.read()
    assert not isinstance(error.value, CorruptStateError)
    with pytest.raises(StateError, match="format version 3"):
        backend.write(sample_state(lineage="l", serial=10), expected=("l", 9))
    assert path.read_bytes() == before


def test_path_option_puts_the_state_where_asked(tmp_path: Path) -> None:
    config = BackendConfig(type="local", options={"path": "states/prod.json"})
    backend = open_backend(config, workdir=tmp_path)
    backend.write(sample_state(), expected=None)
    assert (tmp_path / "states" / "prod.json").is_file()
    assert backend.describe() == "local state states/prod.json"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bogus": "x"}, 'backend "local" has no option "bogus"; its options are path'),
        ({"path": 3}, 'backend "local" option "path" must be a non-empty string, not int 3'),
        ({"path": ""}, 'option "path" must be a non-empty string, not an empty string'),
    ],
)
def test_bad_backend_options_are_named(tmp_path: Path, options: dict, message: str) -> None:
    from l4plan.diagnostics import Pos

    config = BackendConfig(type="local", options=options, pos=Pos("main.l4.hcl", 3, 3))
    with pytest.raises(StateError, match=r"^main\.l4\.hcl:3:3: .*" + re.escape(message)):
        open_backend(config, workdir=tmp_path)


def test_unknown_backend_type(tmp_path: Path) -> None:
    with pytest.raises(StateError, match='unknown backend type "s3": use "local" or "pg"'):
        open_backend(BackendConfig(type="s3"), workdir=tmp_path)


def test_workspaces_have_their_own_state_files(tmp_path: Path) -> None:
    default = LocalBackend(tmp_path)
    assert default.workspaces() == ["default"]
    default.create_workspace("staging")
    default.create_workspace("prod")
    assert default.workspaces() == ["default", "prod", "staging"]
    with pytest.raises(StateError, match="already exists"):
        default.create_workspace("prod")
    staging = LocalBackend(tmp_path, workspace="staging")
    staging.write(sample_state(serial=4), expected=None)
    assert (tmp_path / "l4plan.d" / "staging" / "l4plan.tfstate.json").is_file()
    assert default.read() is None
    assert LocalBackend(tmp_path, workspace="prod").read() is None
    default.delete_workspace("staging")
    assert default.workspaces() == ["default", "prod"]
    with pytest.raises(StateError, match=r"workspace 'staging' does not exist.*workspace new"):
        staging.read()
    with pytest.raises(StateError, match="cannot be deleted"):
        default.delete_workspace("default")


def test_selected_workspace_comes_from_env_then_file(tmp_path: Path) -> None:
    assert selected_workspace(tmp_path, {}) == "default"
    select_workspace(tmp_path, "prod")
    assert (tmp_path / ".l4plan" / "environment").read_text() == "prod\n"
    assert selected_workspace(tmp_path, {}) == "prod"
    assert selected_workspace(tmp_path, {"L4PLAN_WORKSPACE": "ci"}) == "ci"
    with pytest.raises(StateError, match=r"invalid workspace name '\.\./x'.*L4PLAN_WORKSPACE"):
        selected_workspace(tmp_path, {"L4PLAN_WORKSPACE": "../x"})


def test_open_backend_uses_the_selected_workspace(tmp_path: Path) -> None:
    LocalBackend(tmp_path).create_workspace("blue")
    select_workspace(tmp_path, "blue")
    backend = open_backend(BackendConfig(), workdir=tmp_path, environ={})
    assert backend.workspace == "blue"
    assert backend.describe() == "local state l4plan.d/blue/l4plan.tfstate.json"
