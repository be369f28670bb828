"""The checks start-up runs before it serves, and `l4plan-agent --check` runs alone.

Each check is one function that the real start calls too, so `--check` (a unit's
`ExecStartPre=`) passes exactly when start-up would get past them. What neither does
in advance is bind: the control address and the listeners can only be proven by
binding them, which `--check` leaves to the start (another process may hold a port
by then anyway).
"""

from __future__ import annotations

import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from l4agent.control.server import tls_context
from l4agent.control.store import ConfigStore, Snapshot, StateDirError
from l4agent.kernel import nft


class TlsError(Exception):
    """The TLS certificate or key cannot be used; the message names both files."""


MAX_TOKEN_FILE = 64 * 1024  # a token is one line; reading more is reading the wrong file


def read_token(path: Path) -> str:
    """The bearer token in `path` (whitespace trimmed); ValueError names the file.
    At most MAX_TOKEN_FILE bytes are read, so `/dev/zero` is refused, not read forever."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_TOKEN_FILE + 1)
    except OSError as e:
        raise ValueError(f"--token-file {path}: {e.strerror}") from None
    if len(data) > MAX_TOKEN_FILE:
        raise ValueError(f"--token-file {path} is larger than {MAX_TOKEN_FILE // 1024} KiB")
    try:
        token = data.decode().strip()
    except UnicodeDecodeError:
        raise ValueError(f"--token-file {path} is not UTF-8 text") from None
    if not token:
        raise ValueError(f"--token-file {path} is empty")
    return token


def check_state_dir(state_dir: Path) -> None:
    """`state_dir` is a directory this process can write, or one it can create.

    Proven by creating (and removing) a file in it, or a directory in its nearest
    existing ancestor: permission bits do not tell root about a read-only file system.
    """
    existing = state_dir
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        what = "is not a directory" if existing == state_dir else f"is under {existing}, a file"
        raise StateDirError(f"cannot use state directory {state_dir}: it {what}")
    try:
        if existing == state_dir:
            fd, probe = tempfile.mkstemp(prefix=".check.", dir=state_dir)
            os.close(fd)
            os.unlink(probe)
        else:
            os.rmdir(tempfile.mkdtemp(prefix=".l4plan-agent-check.", dir=existing))
    except OSError as e:
        where = "" if existing == state_dir else f" (creating it in {existing})"
        raise StateDirError(f"cannot use state directory {state_dir}{where}: {e.strerror}") from e
    node_id = state_dir / "node_id"
    if node_id.exists():
        try:
            node_id.read_bytes()
        except OSError as e:
            raise StateDirError(f"cannot read {node_id}: {e.strerror}") from e


def load_config(store: ConfigStore, request_log_capacity: int) -> Snapshot:
    """The persisted configuration (StateDirError names the file and the problem)."""
    return store.load(request_log_capacity)


def load_tls(cert: Path, key: Path) -> ssl.SSLContext:
    """The control API's TLS context: both files load and the key matches the cert."""
    try:
        return tls_context(str(cert), str(key))
    except (OSError, ssl.SSLError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        if _encrypted(key):  # OpenSSL asked for a pass phrase nobody can type in a service
            reason += " (the key is encrypted: give it unencrypted, readable by the agent alone)"
        raise TlsError(f"cannot load the TLS certificate {cert} / key {key}: {reason}") from e


def _encrypted(key: Path) -> bool:
    try:
        return b"ENCRYPTED" in key.read_bytes()[:4096]
    except OSError:
        return False


def fast_path_problem(mode: str) -> str | None:
    """Why `--fast-path on` would refuse to start (None for auto and off)."""
    if mode != "on":
        return None
    reason = nft.capability()
    return None if reason is None else f"--fast-path on: {reason}"


@dataclass(slots=True)
class Report:
    """What `--check` found: the problems, or what an OK start would serve."""

    problems: list[str]
    revision: int = 0
    apps: int = 0


def check_environment(
    state_dir: Path,
    tls_cert: Path | None,
    tls_key: Path | None,
    fast_path: str,
    request_log_capacity: int,
) -> Report:
    """Every check beyond the flags, each problem reported (not only the first)."""
    report = Report([])
    try:
        check_state_dir(state_dir)
        snapshot = load_config(ConfigStore(state_dir), request_log_capacity)
        report.revision, report.apps = snapshot.revision, len(snapshot.apps)
    except StateDirError as e:
        report.problems.append(str(e))
    if tls_cert is not None and tls_key is not None:
        try:
            load_tls(tls_cert, tls_key)
        except TlsError as e:
            report.problems.append(str(e))
    problem = fast_path_problem(fast_path)
    if problem is not None:
        report.problems.append(problem)
    return report
