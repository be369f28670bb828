"""The durable configuration in the state directory.

    state-dir/
      config.json   revision, applications, what retries of recent requests need (0600)
      node_id       the agent's stable identity (a UUID), created on first start
      lock          held (flock) while an agent uses the directory

`ConfigStore.save` writes a temporary file, fsyncs it, renames it over config.json
and fsyncs the directory, so after a crash the file is either the old or the new
configuration, never a mix. The control API acknowledges an apply only after `save`
has returned.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l4agent.control.idempotency import RequestLog
from l4agent.control.schemas import problems, validator
from l4agent.protocols import strictjson

FORMAT = 1


class StateDirError(Exception):
    """The state directory cannot be used; the message says why and where."""


@dataclass(slots=True)
class Snapshot:
    revision: int = 0
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> spec
    requests: RequestLog = field(default_factory=RequestLog)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "revision": self.revision,
            "apps": self.apps,
            "requests": self.requests.to_json(),
        }


class ConfigStore:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.path = state_dir / "config.json"
        self.node_id = ""
        self._lock_fd: int | None = None

    def open(self) -> None:
        """Create the directory if needed, take its lock and read or create the node id."""
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise StateDirError(f"cannot use state directory {self.dir}: {e.strerror}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise StateDirError(
                    f"state directory {self.dir} is in use by another l4plan-agent (pid {holder})"
                ) from e
            raise StateDirError(f"cannot lock {self.dir / 'lock'}: {e.strerror}") from e
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        self.node_id = self._node_id()

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _node_id(self) -> str:
        path = self.dir / "node_id"
        with contextlib.suppress(FileNotFoundError):
            node_id = path.read_text().strip()
            if node_id:
                return node_id
        node_id = str(uuid.uuid4())
        _atomic_write(path, (node_id + "\n").encode(), self.dir)
        return node_id

    def load(self, request_log_capacity: int) -> Snapshot:
        """The last saved configuration; an empty one at revision 0 when there is none."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return Snapshot(requests=RequestLog(request_log_capacity))
        except OSError as e:
            raise StateDirError(f"cannot read {self.path}: {e.strerror}") from e
        try:
            data = strictjson.loads(text)
        except ValueError as e:
            raise StateDirError(f"{self.path} is not valid JSON: {e}") from e
        where = str(self.path)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StateDirError(f"{where}: unknown format (expected format {FORMAT})")
        revision = data.get("revision")
        apps = data.get("apps")
        requests = data.get("requests", [])
        if not isinstance(revision, int) or revision < 0:
            raise StateDirError(f"{where}: revision must be a non-negative integer")
        if not isinstance(apps, dict):
            raise StateDirError(f"{where}: apps must be an object")
        spec_validator = validator("app_spec.schema.json")
        for name, spec in apps.items():
            found = problems(spec_validator, spec, f"apps[{name!r}]")
            if found:
                first = found[0]
                raise StateDirError(f"{where}: {first['field']}: {first['description']}")
        try:
            log = RequestLog.from_json(requests, request_log_capacity)
        except (TypeError, ValueError, KeyError) as e:
            raise StateDirError(f"{where}: malformed request log: {e!r}") from e
        return Snapshot(revision, apps, log)

    def save(self, snapshot: Snapshot) -> None:
        data = strictjson.dumps(snapshot.to_json())
        _atomic_write(self.path, data, self.dir)


def _atomic_write(path: Path, data: bytes, directory: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
