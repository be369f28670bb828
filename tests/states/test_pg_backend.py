"""The pg backend against the real PostgreSQL on 127.0.0.1:5432 (one fresh schema per test)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from l4plan.configs.model import BackendConfig
from l4plan.states import LockError, StaleStateError, StateError, backend_from_config
from l4plan.states.pg import PgBackend
from tests.ports import STATES, free_port
from tests.states.support import (
    PG_CONN_STR,
    driver,
    kill,
    pg_backend_config,
    pg_schema,
    sample_state,
    start,
    wait_line,
)

__all__ = ["pg_schema"]  # the fixture, imported from support


def backend(schema: str, workspace: str = "default") -> PgBackend:
    return PgBackend(PG_CONN_STR, schema=schema, workspace=workspace)


@pytest.fixture
def pg(pg_schema: str) -> PgBackend:
    b = backend(pg_schema)
    b.initialize()
    yield b  # type: ignore[misc]
    b.close()


def row(schema: str, workspace: str = "default") -> tuple | None:
    with psycopg.connect(PG_CONN_STR) as conn:
        return conn.execute(
            sql.SQL("SELECT lineage, serial, data FROM {} WHERE workspace = %s").format(
                sql.Identifier(schema, "states")
            ),
            (workspace,),
        ).fetchone()


def test_init_creates_the_tables_and_is_repeatable(pg_schema: str) -> None:
    b = backend(pg_schema)
    with pytest.raises(StateError, match=f"schema '{pg_schema}' or its tables do not exist.*init"):
        b.read()
    b.initialize()
    b.initialize()
    assert b.read() is None
    assert b.workspaces() == ["default"]
    b.close()


def test_round_trip_and_compare_and_set(pg: PgBackend, pg_schema: str) -> None:
    state = sample_state(3, serial=1)
    pg.write(state, expected=None)
    loaded = pg.read()
    assert loaded is not None and loaded.to_json() == state.to_json()
    assert row(pg_schema)[:2] == (state.lineage, 1)
    state.serial = 2
    pg.write(state, expected=(state.lineage, 1))
    before = row(pg_schema)
    stale = sample_state(lineage=state.lineage, serial=9)
    with pytest.raises(StaleStateError, match=r"expected lineage .* serial 1, found .* serial 2"):
        pg.write(stale, expected=(state.lineage, 1))
    with pytest.raises(StaleStateError, match="expected no state"):
        pg.write(stale, expected=None)
    with pytest.raises(StateError, match="must advance the serial"):
        pg.write(sample_state(lineage=state.lineage, serial=2), expected=(state.lineage, 2))
    assert row(pg_schema) == before  # nothing changed


def test_a_stale_write_from_another_process_changes_nothing(pg: PgBackend, pg_schema: str) -> None:
    """Two writers read serial 1 without the lock; the second write is refused."""
    state = sample_state(serial=1)
    pg.write(state, expected=None)
    first, second = pg.read(), backend(pg_schema).read()
    assert first is not None and second is not None
    first.serial = second.serial = 2
    del second.resources["l4_site.main"]
    pg.write(first, expected=(first.lineage, 1))
    with pytest.raises(StaleStateError):
        backend(pg_schema).write(second, expected=(second.lineage, 1))
    current = pg.read()
    assert current is not None and "l4_site.main" in current.resources


def test_a_row_that_disagrees_with_its_data_is_corrupt(pg: PgBackend, pg_schema: str) -> None:
    pg.write(sample_state(serial=1), expected=None)
    with psycopg.connect(PG_CONN_STR, autocommit=True) as conn:
        conn.execute(
            sql.SQL("UPDATE {} SET serial = 5").format(sql.Identifier(pg_schema, "states"))
        )
    with pytest.raises(StateError, match=r"row says lineage .* serial 5 but its data says"):
        pg.read()


def test_lock_error_names_the_holder_and_a_killed_holder_frees_the_lock(
    pg: PgBackend, pg_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    holder = start(driver(pg_backend_config(pg_schema), Path("."), "hold"))
    try:
        lock_id = wait_line(holder, "locked ").split()[1]
        with pytest.raises(LockError) as error, pg.lock("apply", timeout=0.3):
            pass
        assert (error.value.info.id, error.value.info.pid) == (lock_id, holder.pid)
        assert "driver hold" in str(error.value) and "after waiting 0.3s" in str(error.value)
        peeked = pg.peek_lock()
        assert peeked is not None and peeked.id == lock_id
    finally:
        kill(holder)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="l4plan.states"), pg.lock("apply", timeout=10):
        assert time.monotonic() - started < 5  # no force-unlock needed
    assert "left by a holder that is gone" in caplog.text and lock_id in caplog.text
    assert f"pid {holder.pid}" in caplog.text
    assert pg.peek_lock() is None


def test_force_unlock_terminates_a_hung_holder(
    pg: PgBackend, pg_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    holder = start(driver(pg_backend_config(pg_schema), Path("."), "hold"))
    try:
        lock_id = wait_line(holder, "locked ").split()[1]
        with pytest.raises(StateError, match=f"does not match .* held with ID '{lock_id}'"):
            pg.force_unlock("wrong")
        with caplog.at_level(logging.WARNING, logger="l4plan.states"):
            pg.force_unlock(lock_id)
        assert "terminated the database session of the lock holder" in caplog.text
        assert pg.peek_lock() is None
        with pg.lock("apply"):
            pass
    finally:
        kill(holder)


def test_locks_are_per_workspace(pg: PgBackend, pg_schema: str) -> None:
    """A lock held on one workspace never delays a command on eight others."""
    for name in ["held", *(f"ws{i}" for i in range(8))]:
        pg.create_workspace(name)
    config = pg_backend_config(pg_schema)
    holder = start(driver(config, Path("."), "--workspace", "held", "hold"))
    try:
        wait_line(holder, "locked ")
        started = time.monotonic()
        procs = [
            start(driver(config, Path("."), "--workspace", f"ws{i}", "apply-once"))
            for i in range(8)
        ]
        outputs = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err  # lock timeout 0: any wait would have failed
            outputs.append(out)
        elapsed = time.monotonic() - started
        assert all(o.startswith("changed 1 ") for o in outputs), outputs
        blocked = start(driver(config, Path("."), "--workspace", "held", "apply-once"))
        _, err = blocked.communicate(timeout=60)
        assert blocked.returncode == 1 and "driver hold" in err
    finally:
        kill(holder)
    for i in range(8):
        state = backend(pg_schema, f"ws{i}").read()
        assert state is not None and state.serial == 1
    print(f"eight workspaces written in {elapsed:.2f}s while another was locked")


def test_eight_concurrent_writers_change_the_state_exactly_once(
    pg: PgBackend, pg_schema: str
) -> None:
    config = pg_backend_config(pg_schema)
    procs = [
        start(driver(config, Path("."), "--lock-timeout", "60", "--hold-for", "0.2", "apply-once"))
        for _ in range(8)
    ]
    outputs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=90)
            assert p.returncode == 0, err
            outputs.append(out)
    finally:
        for p in procs:
            kill(p)
    changed = [o for o in outputs if o.startswith("changed ")]
    assert len(changed) == 1 and changed[0].startswith("changed 1 ")
    assert sum(o.startswith("no changes") for o in outputs) == 7
    assert row(pg_schema)[1] == 1


def test_workspaces(pg: PgBackend, pg_schema: str) -> None:
    pg.create_workspace("prod")
    pg.create_workspace("dev")
    with pytest.raises(StateError, match="already exists"):
        pg.create_workspace("prod")
    assert pg.workspaces() == ["default", "dev", "prod"]
    prod = backend(pg_schema, "prod")
    assert prod.read() is None
    prod.write(sample_state(serial=3), expected=None)
    assert pg.read() is None
    missing = backend(pg_schema, "nope")
    for action in (missing.read, lambda: missing.write(sample_state(), expected=None)):
        with pytest.raises(StateError, match=r"workspace 'nope' does not exist.*workspace new"):
            action()
    pg.delete_workspace("prod")
    assert pg.workspaces() == ["default", "dev"]
    with pytest.raises(StateError, match="does not exist"):
        pg.delete_workspace("prod")


def test_connection_errors_name_the_target_without_the_password(tmp_path: Path) -> None:
    port = free_port(STATES)
    cases = [
        (f"postgresql://postgres:hunter2@127.0.0.1:{port}/test", "the server cannot be reached"),
        ("postgresql://nosuchuser:hunter2@127.0.0.1:5432/test", "authentication failed"),
        ("postgresql://postgres:hunter2@127.0.0.1:5432/nosuchdb", "the database does not exist"),
    ]
    for conn_str, reason in cases:
        config = BackendConfig(type="pg", options={"conn_str": conn_str})
        b = backend_from_config(config, workdir=tmp_path, workspace="default")
        with pytest.raises(StateError) as error:
            b.read()
        message = str(error.value)
        target = conn_str.replace(":hunter2", "")
        assert message.startswith(f"cannot connect to PostgreSQL at {target}: {reason}"), message
        assert "hunter2" not in message


def test_connection_string_from_the_environment(tmp_path: Path, pg_schema: str) -> None:
    config = BackendConfig(type="pg", options={"schema_name": pg_schema})
    with pytest.raises(StateError, match=r"no connection string.*L4PLAN_PG_CONN_STR"):
        backend_from_config(config, workdir=tmp_path, environ={})
    b = backend_from_config(config, workdir=tmp_path, environ={"L4PLAN_PG_CONN_STR": PG_CONN_STR})
    assert b.describe() == (
        f"pg state postgresql://postgres@127.0.0.1:5432/test schema {pg_schema} workspace default"
    )
    b.initialize()
    b.write(sample_state(), expected=None)
    b.close()


@pytest.mark.parametrize("schema", ["1abc", "a-b", "x" * 64, 'a"b'])
def test_bad_schema_names_are_refused(tmp_path: Path, schema: str) -> None:
    config = BackendConfig(type="pg", options={"conn_str": PG_CONN_STR, "schema_name": schema})
    with pytest.raises(StateError, match="is not a valid name"):
        backend_from_config(config, workdir=tmp_path)
