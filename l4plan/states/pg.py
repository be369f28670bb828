"""The pg backend: state rows in PostgreSQL, shared by teams and CI runners.

Tables (created by `l4plan init`):
  <schema>.states (workspace text primary key, lineage text, serial bigint, data jsonb,
                   updated_at timestamptz)   -- data NULL: the workspace exists, no state yet
  <schema>.locks  (workspace text primary key, id text, who text, operation text,
                   created timestamptz, info jsonb)

Locking: a session-level advisory lock keyed on (schema, workspace), held on this
backend's connection for the whole operation; the server releases it when the holder's
connection ends, however the holder dies. The `locks` row only describes the holder for
messages and `force-unlock`. Writes are compare-and-set on (lineage, serial) in one
transaction, so a lost update is impossible even without the lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

from l4plan import jsontext
from l4plan.states.cas import check_advances, stale_error
from l4plan.states.codec import dump_state_json, state_from_json
from l4plan.states.errors import CorruptStateError, LockError, StateError
from l4plan.states.lockinfo import LockInfo, lock_held_message
from l4plan.states.model import State
from l4plan.states.pgconn import connect, describe_target, scrub
from l4plan.states.workspaces import DEFAULT_WORKSPACE, check_workspace_name

log = logging.getLogger("l4plan.states")

DEFAULT_SCHEMA = "l4plan"
_FIRST_POLL = 0.05
_MAX_POLL = 1.0
_TERMINATE_WAIT = 10.0  # seconds to wait for a terminated holder's lock to go away


def advisory_key(schema: str, workspace: str) -> int:
    """The 64-bit advisory lock key of one workspace of one schema."""
    digest = hashlib.sha256(f"l4plan\0{schema}\0{workspace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PgBackend:
    def __init__(self, conn_str: str, *, schema: str = DEFAULT_SCHEMA, workspace: str):
        self.conn_str = conn_str
        self.schema = schema
        self.workspace = check_workspace_name(workspace)
        self.target = describe_target(conn_str)
        self._conn: psycopg.Connection[Any] | None = None
        self._states = sql.Identifier(schema, "states")
        self._locks = sql.Identifier(schema, "locks")
        self._key = advisory_key(schema, self.workspace)

    # -- state

    def read(self) -> State | None:
        with self._db():
            row = (
                self._conn_()
                .execute(
                    sql.SQL("SELECT lineage, serial, data FROM {} WHERE workspace = %s").format(
                        self._states
                    ),
                    (self.workspace,),
                )
                .fetchone()
            )
        if row is None:
            self._require_workspace(exists=False)
            return None
        lineage, serial, data = row
        if data is None:
            return None
        state = state_from_json(data, source=self.describe())
        if (state.lineage, state.serial) != (lineage, serial):
            raise CorruptStateError(
                f"{self.describe()}: the row says lineage {lineage} serial {serial} but its "
                f"data says lineage {state.lineage} serial {state.serial}; fix the row"
            )
        return state

    def write(self, state: State, *, expected: tuple[str, int] | None) -> None:
        check_advances(state, expected)
        text = dump_state_json(state)
        values = (state.lineage, state.serial, text, self.workspace)
        conn = self._conn_()
        with self._db(), conn.transaction():
            if expected is None:
                cur = conn.execute(
                    sql.SQL(
                        "UPDATE {} SET lineage = %s, serial = %s, data = %s::jsonb, "
                        "updated_at = now() WHERE workspace = %s AND data IS NULL"
                    ).format(self._states),
                    values,
                )
                if cur.rowcount == 0 and self.workspace == DEFAULT_WORKSPACE:
                    cur = conn.execute(
                        sql.SQL(
                            "INSERT INTO {} (lineage, serial, data, workspace, updated_at) "
                            "VALUES (%s, %s, %s::jsonb, %s, now()) "
                            "ON CONFLICT (workspace) DO NOTHING"
                        ).format(self._states),
                        values,
                    )
            else:
                cur = conn.execute(
                    sql.SQL(
                        "UPDATE {} SET lineage = %s, serial = %s, data = %s::jsonb, "
                        "updated_at = now() WHERE workspace = %s AND lineage = %s "
                        "AND serial = %s AND data IS NOT NULL"
                    ).format(self._states),
                    (*values, *expected),
                )
            if cur.rowcount == 1:
                return
            row = conn.execute(
                sql.SQL("SELECT lineage, serial, data IS NULL FROM {} WHERE workspace = %s").format(
                    self._states
                ),
                (self.workspace,),
            ).fetchone()
        if row is None:
            self._require_workspace(exists=False)
        found = None if row is None or row[2] else (row[0], row[1])
        raise stale_error(self.describe(), expected, found)

    # -- locking

    @contextlib.contextmanager
    def lock(self, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
        self._require_workspace()
        info = LockInfo.new(operation, self._label())
        conn = self._conn_()
        started = time.monotonic()
        deadline = started + max(timeout, 0.0)
        delay = _FIRST_POLL
        while True:
            with self._db():
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            if row and row[0]:
                break
            now = time.monotonic()
            if now >= deadline:
                holder = self._holder() or _unknown_holder(self._label())
                raise LockError(lock_held_message(holder, now - started), holder)
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 1.5, _MAX_POLL)
        try:
            self._record_holder(info)
            yield info
        finally:
            self._release(info)

    def peek_lock(self) -> LockInfo | None:
        if self._holder_pid() is None:
            return None
        return self._holder() or _unknown_holder(self._label())

    def force_unlock(self, lock_id: str) -> None:
        conn = self._conn_()
        with self._db():
            row = conn.execute(
                sql.SQL("SELECT id, info FROM {} WHERE workspace = %s").format(self._locks),
                (self.workspace,),
            ).fetchone()
        if row is None or row[0] != lock_id:
            current = f"it is held with ID {row[0]!r}" if row else "it has no lock-info row"
            raise StateError(
                f"lock ID {lock_id!r} does not match the lock on {self._label()}: {current}; "
                "nothing was unlocked"
            )
        pid = self._holder_pid()
        if pid is not None:
            self._terminate(pid, LockInfo.from_json(row[1]))
        with self._db():
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s AND id = %s").format(self._locks),
                (self.workspace, lock_id),
            )

    # -- workspaces

    def workspaces(self) -> list[str]:
        with self._db():
            rows = (
                self._conn_()
                .execute(
                    sql.SQL("SELECT workspace FROM {} WHERE workspace <> %s ORDER BY 1").format(
                        self._states
                    ),
                    (DEFAULT_WORKSPACE,),
                )
                .fetchall()
            )
        return [DEFAULT_WORKSPACE, *(r[0] for r in rows)]

    def create_workspace(self, name: str) -> None:
        check_workspace_name(name)
        if name == DEFAULT_WORKSPACE:
            raise StateError('workspace "default" always exists')
        with self._db():
            cur = self._conn_().execute(
                sql.SQL(
                    "INSERT INTO {} (workspace, updated_at) VALUES (%s, now()) "
                    "ON CONFLICT (workspace) DO NOTHING"
                ).format(self._states),
                (name,),
            )
        if cur.rowcount == 0:
            raise StateError(f"workspace {name!r} already exists")

    def delete_workspace(self, name: str) -> None:
        check_workspace_name(name)
        if name == DEFAULT_WORKSPACE:
            raise StateError('workspace "default" cannot be deleted')
        with self._db():
            cur = self._conn_().execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s").format(self._states), (name,)
            )
        if cur.rowcount == 0:
            raise StateError(f"workspace {name!r} does not exist")

    # -- backend

    def initialize(self) -> None:
        conn = self._conn_()
        with self._db(), conn.transaction():
            # concurrent `CREATE ... IF NOT EXISTS` can still collide: serialise them
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key(self.schema, ""),))
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (workspace text PRIMARY KEY, lineage text, "
                    "serial bigint, data jsonb, updated_at timestamptz NOT NULL DEFAULT now())"
                ).format(self._states)
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (workspace text PRIMARY KEY, id text NOT NULL, "
                    "who text, operation text, created timestamptz NOT NULL DEFAULT now(), "
                    "info jsonb)"
                ).format(self._locks)
            )

    def describe(self) -> str:
        return f"pg state {self._label()}"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- internals

    def _label(self) -> str:
        return f"{self.target} schema {self.schema} workspace {self.workspace}"

    def _conn_(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.conn_str, application_name=f"l4plan pid {os.getpid()}")
        return self._conn

    @contextlib.contextmanager
    def _db(self) -> Iterator[None]:
        """Turn database errors into StateErrors that say what to do."""
        try:
            yield
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            raise StateError(
                f"the schema {self.schema!r} or its tables do not exist in {self.target}; "
                "run `l4plan init` to create them"
            ) from None
        except psycopg.errors.InsufficientPrivilege as e:
            raise StateError(
                f"permission denied on {self.target} schema {self.schema}: {self._msg(e)}"
            ) from None
        except psycopg.OperationalError as e:
            self.close()
            raise StateError(
                f"lost the connection to PostgreSQL at {self.target}: {self._msg(e)}"
            ) from None
        except psycopg.Error as e:
            raise StateError(f"PostgreSQL error on {self._label()}: {self._msg(e)}") from None

    def _msg(self, error: BaseException) -> str:
        first = next((x.strip() for x in str(error).splitlines() if x.strip()), "")
        return scrub(first or type(error).__name__, self.conn_str)

    def _require_workspace(self, *, exists: bool | None = None) -> None:
        if self.workspace == DEFAULT_WORKSPACE:
            return
        if exists is None:
            with self._db():
                exists = (
                    self._conn_()
                    .execute(
                        sql.SQL("SELECT 1 FROM {} WHERE workspace = %s").format(self._states),
                        (self.workspace,),
                    )
                    .fetchone()
                    is not None
                )
        if not exists:
            raise StateError(
                f"workspace {self.workspace!r} does not exist in {self.target} schema "
                f"{self.schema}; create it with `l4plan workspace new {self.workspace}` "
                "or select another one"
            )

    def _record_holder(self, info: LockInfo) -> None:
        conn = self._conn_()
        stored = {**info.to_json(), "backend_pid": conn.info.backend_pid}
        with self._db(), conn.transaction():
            old = conn.execute(
                sql.SQL("SELECT info FROM {} WHERE workspace = %s").format(self._locks),
                (self.workspace,),
            ).fetchone()
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (workspace, id, who, operation, created, info) "
                    "VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (workspace) DO UPDATE "
                    "SET id = excluded.id, who = excluded.who, operation = excluded.operation, "
                    "created = excluded.created, info = excluded.info"
                ).format(self._locks),
                (
                    self.workspace,
                    info.id,
                    info.who,
                    info.operation,
                    info.created,
                    jsontext.dumps(stored),
                ),
            )
        if old is not None:
            stale = LockInfo.from_json(old[0])
            log.warning(
                "Warning: took over the lock on %s left by a holder that is gone: "
                "%s (operation %r, pid %s, since %s, lock ID %s).",
                self._label(),
                stale.who,
                stale.operation,
                stale.pid or "unknown",
                stale.created,
                stale.id or "unknown",
            )

    def _release(self, info: LockInfo) -> None:
        conn = self._conn
        if conn is None or conn.closed:
            return  # the server released the advisory lock with the connection
        try:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s AND id = %s").format(self._locks),
                (self.workspace, info.id),
            )
            conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
        except psycopg.Error:
            # Connection lost (e.g. force-unlock terminated it): the server has already
            # released the advisory lock; the row names a lock that is no longer held.
            self.close()

    def _holder_pid(self) -> int | None:
        """The server process id of the session holding this workspace's advisory lock."""
        with self._db():
            row = (
                self._conn_()
                .execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database()) "
                    "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
                    ((self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF),
                )
                .fetchone()
            )
        return None if row is None else int(row[0])

    def _holder(self) -> LockInfo | None:
        """The lock-info row of the current holder (None if it has not written one yet)."""
        with self._db():
            row = (
                self._conn_()
                .execute(
                    sql.SQL("SELECT info FROM {} WHERE workspace = %s").format(self._locks),
                    (self.workspace,),
                )
                .fetchone()
            )
        return None if row is None else LockInfo.from_json(row[0])

    def _terminate(self, pid: int, info: LockInfo) -> None:
        conn = self._conn_()
        with self._db():
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + _TERMINATE_WAIT
        while self._holder_pid() == pid:
            if time.monotonic() > deadline:
                raise StateError(
                    f"terminated the session (server pid {pid}) holding the lock on "
                    f"{self._label()}, but it still holds the lock after {_TERMINATE_WAIT:g}s"
                )
            time.sleep(0.05)
        log.warning(
            "Warning: terminated the database session of the lock holder %s (pid %s, server "
            "pid %s); whatever it had not committed was rolled back.",
            info.who,
            info.pid or "unknown",
            pid,
        )


def _unknown_holder(label: str) -> LockInfo:
    """A holder that has the advisory lock but has not described itself (yet)."""
    return LockInfo(
        id="",
        who="unknown (the holder has not written its lock info yet)",
        operation="unknown",
        created="unknown",
        path=label,
        version="unknown",
        pid=0,
    )
