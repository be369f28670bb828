"""The pg backend's lock: a session-level advisory lock keyed on (schema, workspace),
and the `locks` row that describes its holder.

The advisory lock is what excludes: the server releases it when the holder's
connection ends, however the holder dies. The row is only for messages and
`force-unlock`; a row left by a holder that is gone is taken over with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Iterator

import psycopg
from psycopg import sql

from l4plan import jsontext
from l4plan.states.errors import LockError, StateError
from l4plan.states.lockinfo import LockInfo, lock_held_message
from l4plan.states.pgsession import PgSession

log = logging.getLogger("l4plan.states")

_FIRST_POLL = 0.05
_MAX_POLL = 1.0
_TERMINATE_WAIT = 10.0  # seconds to wait for a terminated holder's lock to go away


def advisory_key(schema: str, workspace: str) -> int:
    """The 64-bit advisory lock key of one workspace of one schema."""
    digest = hashlib.sha256(f"l4plan\0{schema}\0{workspace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PgLock:
    """The lock of one workspace, taken on the session's connection."""

    def __init__(self, session: PgSession, workspace: str) -> None:
        self._session = session
        self._workspace = workspace
        self._locks = sql.Identifier(session.schema, "locks")
        self._key = advisory_key(session.schema, workspace)

    @contextlib.contextmanager
    def hold(self, operation: str, *, timeout: float) -> Iterator[LockInfo]:
        """Wait up to `timeout` seconds for the lock, polling; hold it for the block."""
        session = self._session
        info = LockInfo.new(operation, session.label)
        conn = session.conn()
        started = time.monotonic()
        deadline = started + max(timeout, 0.0)
        delay = _FIRST_POLL
        while True:
            with session.db():
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            if row and row[0]:
                break
            now = time.monotonic()
            if now >= deadline:
                holder = self._holder() or _unknown_holder(session.label)
                raise LockError(lock_held_message(holder, now - started), holder)
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 1.5, _MAX_POLL)
        try:
            self._record_holder(info)
            yield info
        finally:
            self._release(info)

    def peek(self) -> LockInfo | None:
        if self._holder_pid() is None:
            return None
        return self._holder() or _unknown_holder(self._session.label)

    def force_unlock(self, lock_id: str) -> None:
        session = self._session
        conn = session.conn()
        with session.db():
            row = conn.execute(
                sql.SQL("SELECT id, info FROM {} WHERE workspace = %s").format(self._locks),
                (self._workspace,),
            ).fetchone()
        if row is None or row[0] != lock_id:
            current = f"it is held with ID {row[0]!r}" if row else "it has no lock-info row"
            raise StateError(
                f"lock ID {lock_id!r} does not match the lock on {session.label}: {current}; "
                "nothing was unlocked"
            )
        pid = self._holder_pid()
        if pid is not None:
            self._terminate(pid, LockInfo.from_json(row[1]))
        with session.db():
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s AND id = %s").format(self._locks),
                (self._workspace, lock_id),
            )

    def _record_holder(self, info: LockInfo) -> None:
        session = self._session
        conn = session.conn()
        stored = {**info.to_json(), "backend_pid": conn.info.backend_pid}
        with session.db(), conn.transaction():
            old = conn.execute(
                sql.SQL("SELECT info FROM {} WHERE workspace = %s").format(self._locks),
                (self._workspace,),
            ).fetchone()
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (workspace, id, who, operation, created, info) "
                    "VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (workspace) DO UPDATE "
                    "SET id = excluded.id, who = excluded.who, operation = excluded.operation, "
                    "created = excluded.created, info = excluded.info"
                ).format(self._locks),
                (
                    self._workspace,
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
                session.label,
                stale.who,
                stale.operation,
                stale.pid or "unknown",
                stale.created,
                stale.id or "unknown",
            )

    def _release(self, info: LockInfo) -> None:
        conn = self._session.open_conn()
        if conn is None:
            return  # the server released the advisory lock with the connection
        try:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE workspace = %s AND id = %s").format(self._locks),
                (self._workspace, info.id),
            )
            conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
        except psycopg.Error:
            # Connection lost (e.g. force-unlock terminated it): the server has already
            # released the advisory lock; the row names a lock that is no longer held.
            self._session.close()

    def _holder_pid(self) -> int | None:
        """The server process id of the session holding this workspace's advisory lock."""
        with self._session.db():
            row = (
                self._session.conn()
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
        with self._session.db():
            row = (
                self._session.conn()
                .execute(
                    sql.SQL("SELECT info FROM {} WHERE workspace = %s").format(self._locks),
                    (self._workspace,),
                )
                .fetchone()
            )
        return None if row is None else LockInfo.from_json(row[0])

    def _terminate(self, pid: int, info: LockInfo) -> None:
        with self._session.db():
            self._session.conn().execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + _TERMINATE_WAIT
        while self._holder_pid() == pid:
            if time.monotonic() > deadline:
                raise StateError(
                    f"terminated the session (server pid {pid}) holding the lock on "
                    f"{self._session.label}, but it still holds the lock after "
                    f"{_TERMINATE_WAIT:g}s"
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
