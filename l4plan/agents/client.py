"""A synchronous JSON-RPC client for proxy-agent (docs/agent.md, "Control API").

Stdlib `http.client` only: `l4plan apply` drives several agents at once from
threads, one `AgentClient` per thread (a client is also safe to share: calls are
serialised by a lock). The timeout is sent to the agent as `L4-Timeout-Ms`, so the
agent gives up (and changes nothing) when the caller would. Idempotent calls —
every read, and `Config.Apply`, which carries a `request_id` — are retried with
exponential backoff when the agent is unreachable or answers UNAVAILABLE.
"""

from __future__ import annotations

import http.client
import itertools
import random
import ssl
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from l4plan.agents.errors import AgentError
from l4plan.jsontext import NotJSONError, dumps, loads

DEFAULT_RETRIES = 3
BACKOFF_BASE = 0.2
BACKOFF_MAX = 2.0


class AgentClient:
    def __init__(
        self,
        endpoint: str,
        *,
        token: str | None,
        ca_file: str | None = None,
        timeout: float = 10.0,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AgentError(
                "INVALID_ARGUMENT",
                f"agent endpoint {endpoint!r} must look like http://HOST:PORT or https://HOST:PORT",
                endpoint=endpoint,
            )
        self.endpoint = endpoint
        self.timeout = timeout
        self.retries = retries
        self._token = token
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        path = parts.path.rstrip("/")
        self._path = path if path.endswith("/rpc") else f"{path}/rpc"
        self._context: ssl.SSLContext | None = None
        if self._tls:
            try:
                self._context = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as e:
                raise AgentError(
                    "INVALID_ARGUMENT", f"cannot load CA file {ca_file}: {e}", endpoint=endpoint
                ) from e
        self._conn: http.client.HTTPConnection | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # ---- methods -----------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return self.call("Agent.Info", {}, idempotent=True)

    def list_apps(self) -> dict[str, Any]:
        return self.call("Apps.List", {}, idempotent=True)

    def apply(
        self,
        *,
        expected_revision: int | None,
        upsert: list[dict[str, Any]],
        delete: list[str],
        request_id: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Config.Apply. Retried safely: the agent answers a repeated `request_id` with
        the first result. A fresh request_id is generated when none is given."""
        params = {
            "expected_revision": expected_revision,
            "upsert": upsert,
            "delete": delete,
            "request_id": request_id or str(uuid.uuid4()),
            "dry_run": dry_run,
        }
        return self.call("Config.Apply", params, idempotent=True)

    def status(self, names: list[str] | None = None) -> dict[str, Any]:
        params = {} if names is None else {"names": names}
        return self.call("Status.Get", params, idempotent=True)

    def health(self) -> dict[str, Any]:
        return self.call("Health.Check", {}, idempotent=True)

    # ---- transport ---------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any], *, idempotent: bool) -> Any:
        """One JSON-RPC call; raises AgentError. Retries only when `idempotent`."""
        deadline = time.monotonic() + self.timeout
        attempts = self.retries + 1 if idempotent else 1
        for attempt in range(attempts):
            try:
                return self._call_once(method, params, deadline)
            except AgentError as e:
                last = attempt == attempts - 1
                delay = min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt) * random.uniform(0.5, 1.0)
                if last or not e.retryable or time.monotonic() + delay >= deadline:
                    raise
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _call_once(self, method: str, params: dict[str, Any], deadline: float) -> Any:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AgentError(
                "DEADLINE_EXCEEDED", f"no answer within {self.timeout:g}s", endpoint=self.endpoint
            )
        request_id = next(self._ids)
        try:
            body = dumps(
                {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params},
                separators=(",", ":"),
            ).encode()
        except NotJSONError as e:
            raise AgentError(
                "INVALID_ARGUMENT", f"cannot send {method}: {e}", endpoint=self.endpoint
            ) from None
        headers = {
            "Content-Type": "application/json",
            "L4-Timeout-Ms": str(max(1, int(remaining * 1000))),
        }
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        with self._lock:
            status, raw = self._post(body, headers, remaining)
        return self._decode(method, status, raw, request_id)

    def _post(self, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
        while True:
            conn, fresh = self._connection(timeout)
            try:
                conn.request("POST", self._path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except TimeoutError as e:
                self._drop()
                raise AgentError(
                    "DEADLINE_EXCEEDED",
                    f"no answer within {self.timeout:g}s",
                    endpoint=self.endpoint,
                ) from e
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                self._drop()
                if not fresh:
                    continue  # a kept-alive connection the agent had closed: once more, anew
                raise AgentError(
                    "UNAVAILABLE",
                    f"agent at {self.endpoint} closed the connection",
                    endpoint=self.endpoint,
                ) from e
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                raise AgentError(
                    "UNAVAILABLE",
                    f"cannot reach agent at {self.endpoint}: {reason or type(e).__name__}",
                    endpoint=self.endpoint,
                ) from e
            if response.will_close:
                self._drop()
            return response.status, data

    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """The kept-alive connection, or a new one; and whether it is new."""
        if self._conn is not None:
            self._conn.timeout = timeout
            if self._conn.sock is not None:
                self._conn.sock.settimeout(timeout)
            return self._conn, False
        if self._tls:
            self._conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._context
            )
        else:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        return self._conn, True

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _decode(self, method: str, status: int, raw: bytes, request_id: int) -> Any:
        try:
            message = loads(raw) if raw else None
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise AgentError(
                "UNAVAILABLE" if status >= 500 else "INTERNAL",
                f"unexpected HTTP {status} answer to {method} (not JSON-RPC)",
                endpoint=self.endpoint,
            )
        error = message.get("error")
        if isinstance(error, dict):
            data = error.get("data") if isinstance(error.get("data"), dict) else {}
            raise AgentError(
                str(data.get("status", "INTERNAL")),
                str(error.get("message", "")),
                list(data.get("details", [])),
                self.endpoint,
                data=data,
            )
        if message.get("id") != request_id or "result" not in message:
            raise AgentError(
                "INTERNAL", f"malformed answer to {method}: no result", endpoint=self.endpoint
            )
        return message["result"]
