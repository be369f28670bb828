"""The pg backend: state rows in PostgreSQL, shared by teams and CI runners.

Tables (created by `l4plan init`):
  <schema>.states (workspace text primary key, lineage text, serial bigint, data jsonb,
                   updated_at timestamptz)   -- data NULL: the workspace exists, no state yet
  <schema>.locks  (workspace text primary key, id text, who text, operation text,
                   created timestamptz, info jsonb)

Locking (`pglock.py`): a session-level advisory lock keyed on (schema, workspace), held
on this backend's connection for the whole operation. Writes are compare-and-set on
(lineage, serial) in one transaction, so a lost update is impossible even without the
lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from psycopg import sql

from l4plan.states.cas import check_advances, stale_error
from l4plan.states.codec import dump_state_json, state_from_json
from l4plan.states.errors import CorruptStateError, StateError
from l4plan.states.lockinfo import LockInfo
from l4plan.states.model import State
from l4plan.states.pglock import PgLock, advisory_key
from l4plan.states.pgsession import PgSession
from l4plan.states.workspaces import DEFAULT_WORKSPACE, check_workspace_name

DEFAULT_SCHEMA = "l4plan"


class PgBackend:
    def __init__(self, conn_str: str, *, schema: str = DEFAULT_SCHEMA, workspace: str):
        self.schema = schema
        self.workspace = check_workspace_name(workspace)
        self._session = PgSession(conn_str, schema=schema, workspace=self.workspace)
        self.target = self._session.target
        self._states = sql.Identifier(schema, "states")
        self._lock = PgLock(self._session, self.workspace)

    # -- state

    def read(self) -> State | None:
        with self._session.db():
            row = (
                self._session.conn()
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
        conn = self._session.conn()
        with self._session.db(), conn.transaction():
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
        with self._lock.hold(operation, timeout=timeout) as info:
            yield info

    def peek_lock(self) -> LockInfo | None:
        return self._lock.peek()

    def force_unlock(self, lock_id: str) -> None:
        self._lock.force_unlock(lock_id)

    # -- workspaces

    def workspaces(self) -> list[str]:
        with self._session.db():
            rows = (
                self._session.conn()
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
        with self._session.db():
            cur = self._session.conn().execute(
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
        with self._session.db():
            cur = self._session.conn().execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s").format(self._states), (name,)
            )
        if cur.rowcount == 0:
            raise StateError(f"workspace {name!r} does not exist")

    # -- backend

    def initialize(self) -> None:
        conn = self._session.conn()
        with self._session.db(), conn.transaction():
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
                ).format(sql.Identifier(self.schema, "locks"))
            )

    def describe(self) -> str:
        return f"pg state {self._label()}"

    def close(self) -> None:
        self._session.close()

    # -- internals

    def _label(self) -> str:
        return self._session.label

    def _require_workspace(self, *, exists: bool | None = None) -> None:
        if self.workspace == DEFAULT_WORKSPACE:
            return
        if exists is None:
            with self._session.db():
                exists = (
                    self._session.conn()
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
