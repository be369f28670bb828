"""Who holds a state lock: stored in the local lock file and in the pg `locks` table."""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from l4plan import __version__, jsontext


@dataclass(slots=True)
class LockInfo:
    id: str
    who: str  # user@host
    operation: str
    created: str  # ISO 8601, UTC
    path: str  # what is locked: a state file, or a pg schema and workspace
    version: str  # the l4plan version of the holder
    pid: int

    @classmethod
    def new(cls, operation: str, path: str) -> LockInfo:
        return cls(
            id=str(uuid.uuid4()),
            who=f"{_user()}@{socket.gethostname()}",
            operation=operation,
            created=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            path=path,
            version=__version__,
            pid=os.getpid(),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> LockInfo:
        """Build from stored JSON, tolerating missing fields (a half-written or foreign lock)."""
        d = data if isinstance(data, dict) else {}
        pid = d.get("pid")
        return cls(
            id=str(d.get("id", "")),
            who=str(d.get("who", "unknown")),
            operation=str(d.get("operation", "unknown")),
            created=str(d.get("created", "unknown")),
            path=str(d.get("path", "")),
            version=str(d.get("version", "unknown")),
            pid=pid if isinstance(pid, int) else 0,
        )

    @classmethod
    def parse(cls, text: str) -> LockInfo:
        try:
            return cls.from_json(jsontext.loads(text))
        except ValueError:
            return cls.from_json({})

    def describe(self) -> str:
        """The Terraform-style "Lock Info" block used in error messages."""
        return (
            "Lock Info:\n"
            f"  ID:        {self.id or '(unknown)'}\n"
            f"  Path:      {self.path}\n"
            f"  Operation: {self.operation}\n"
            f"  Who:       {self.who}\n"
            f"  PID:       {self.pid or '(unknown)'}\n"
            f"  Version:   {self.version}\n"
            f"  Created:   {self.created}"
        )


def lock_held_message(info: LockInfo, waited: float) -> str:
    waited_text = f" after waiting {waited:.1f}s" if waited > 0 else ""
    return (
        f"the state is locked by {info.who} (operation {info.operation!r}, "
        f"since {info.created}){waited_text}.\n{info.describe()}\n"
        "Wait for that operation to finish or retry with --lock-timeout; if its holder is "
        f"gone for good, run `l4plan force-unlock {info.id or 'LOCK_ID'}`."
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"
