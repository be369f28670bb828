"""Connecting to PostgreSQL for the pg backend: connection strings and connect errors.

Messages name the connection target as `postgresql://user@host:port/dbname` and never
contain the password.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from l4plan.states.errors import StateError

CONN_STR_ENV = "L4PLAN_PG_CONN_STR"
CONNECT_TIMEOUT = 10  # seconds, unless the connection string says otherwise
# The server notices a holder whose machine vanished within about idle + interval * count
# seconds and then releases its advisory lock (the default idle time is two hours).
_KEEPALIVE = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}


def resolve_conn_str(options: Mapping[str, Any], environ: Mapping[str, str] | None) -> str:
    env = os.environ if environ is None else environ
    conn_str = options.get("conn_str") or env.get(CONN_STR_ENV)
    if not conn_str:
        raise StateError(
            'backend "pg" has no connection string: set conn_str in the backend block or '
            f"the {CONN_STR_ENV} environment variable"
        )
    try:
        conninfo_to_dict(conn_str)
    except psycopg.Error as e:
        raise StateError(f'backend "pg": invalid connection string: {_first_line(e)}') from None
    return conn_str


def describe_target(conn_str: str) -> str:
    """postgresql://user@host:port/dbname, with libpq's defaults for what is not given."""
    params = conninfo_to_dict(conn_str)
    user = params.get("user") or os.environ.get("PGUSER") or _login()
    host = params.get("host") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or user
    if host.startswith("/"):
        return f"postgresql://{user}@/{dbname}?host={host}"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"postgresql://{user}@{host}:{port}/{dbname}"


def connect(conn_str: str, *, application_name: str) -> psycopg.Connection[Any]:
    """An autocommit connection, or a StateError saying why there is none."""
    params = conninfo_to_dict(conn_str)
    extra: dict[str, Any] = {"application_name": application_name[:63]}
    if "connect_timeout" not in params and "PGCONNECT_TIMEOUT" not in os.environ:
        extra["connect_timeout"] = CONNECT_TIMEOUT
    try:
        conn = psycopg.connect(conn_str, autocommit=True, **extra)
    except psycopg.Error as e:
        raise connect_error(conn_str, e) from None
    try:
        for name, value in _KEEPALIVE.items():
            conn.execute(f"SET {name} = {int(value)}")
    except psycopg.Error as e:
        conn.close()
        raise connect_error(conn_str, e) from None
    return conn


def connect_error(conn_str: str, error: psycopg.Error) -> StateError:
    detail = scrub(_first_line(error), conn_str)
    lowered = detail.lower()
    if "password" in lowered or "authentication" in lowered or "role" in lowered:
        reason = "authentication failed: check the user name and password"
    elif "database" in lowered and "does not exist" in lowered:
        reason = "the database does not exist"
    elif "timeout" in lowered:
        reason = "the server did not answer in time"
    else:
        reason = "the server cannot be reached"
    return StateError(
        f"cannot connect to PostgreSQL at {describe_target(conn_str)}: {reason} ({detail})"
    )


def scrub(text: str, conn_str: str) -> str:
    """Remove the connection string's password from `text`, wherever it appears."""
    password = conninfo_to_dict(conn_str).get("password")
    return text.replace(str(password), "***") if password else text


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "postgres"
