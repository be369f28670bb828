"""One connection of the pg backend, and the rule that turns database errors into
StateErrors that say what to do (never with the password)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import psycopg

from l4plan.states.errors import StateError
from l4plan.states.pgconn import connect, describe_target, scrub


class PgSession:
    """A lazily opened autocommit connection; `db()` wraps every statement."""

    def __init__(self, conn_str: str, *, schema: str, workspace: str) -> None:
        self.conn_str = conn_str
        self.schema = schema
        self.target = describe_target(conn_str)
        self.label = f"{self.target} schema {schema} workspace {workspace}"  # for messages
        self._conn: psycopg.Connection[Any] | None = None

    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.conn_str, application_name=f"l4plan pid {os.getpid()}")
        return self._conn

    def open_conn(self) -> psycopg.Connection[Any] | None:
        """The connection if it is open (a lock on it is still held), else None."""
        if self._conn is None or self._conn.closed:
            return None
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def db(self) -> Iterator[None]:
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
            raise StateError(f"PostgreSQL error on {self.label}: {self._msg(e)}") from None

    def _msg(self, error: BaseException) -> str:
        first = next((x.strip() for x in str(error).splitlines() if x.strip()), "")
        return scrub(first or type(error).__name__, self.conn_str)
