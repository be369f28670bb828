"""The local backend's state lock: a lock file beside the state, held with `flock`.

The lock file holds the holder's LockInfo as JSON, and the holder keeps an exclusive
`flock` on it for the lock's lifetime. The kernel drops the flock when the holder dies
however it dies, so a lock file whose flock can be taken is stale: it is taken over
and its former holder is reported.

The file is created complete and already flocked: LockInfo is written to a temp file
that is flocked first and then hard-linked into place (`link` fails if the name exists,
like `O_CREAT|O_EXCL`), so nobody ever sees an empty or unlocked lock file. A stale
lock file is replaced by `rename` while its flock is held. Whoever gets a flock checks
that the file is still the one at the lock path; if not, it retries.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from l4plan import jsontext
from l4plan.states.atomicfile import fsync_dir
from l4plan.states.errors import LockError, StateError
from l4plan.states.lockinfo import LockInfo, lock_held_message

log = logging.getLogger("l4plan.states")

_FIRST_POLL = 0.05
_MAX_POLL = 1.0
_MAX_RACE_RETRIES = 50


@dataclass(slots=True)
class _Held:
    fd: int
    info: LockInfo


class FileLock:
    def __init__(self, path: Path, *, label: str):
        self.path = path
        self.label = label  # what is locked, for LockInfo.path and messages

    @contextlib.contextmanager
    def hold(self, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
        """Hold the lock for the body; wait up to `timeout` seconds for a holder to finish."""
        held = self._acquire(LockInfo.new(operation, self.label), timeout)
        try:
            yield held.info
        finally:
            self._release(held)

    def peek(self) -> LockInfo | None:
        """Who holds the lock now; None when free or when the holder has died."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_info(fd)
            return None
        finally:
            os.close(fd)

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Remove the lock file if it carries `lock_id`; returns what it held."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise StateError(f"{self.label} is not locked; nothing to unlock") from None
        try:
            info = _read_info(fd)
            if info.id != lock_id:
                raise StateError(
                    f"lock ID {lock_id!r} does not match the lock on {self.label}, which is "
                    f"held with ID {info.id!r} by {info.who}; nothing was unlocked"
                )
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                alive = False
            except BlockingIOError:
                alive = True
            if _same_file(fd, self.path):
                self.path.unlink()
                fsync_dir(self.path.parent)
        finally:
            os.close(fd)
        if alive:
            log.warning(
                "Warning: the holder of lock %s (%s, pid %s) is still running and may still "
                "write the state; its writes are checked against the state serial.",
                lock_id,
                info.who,
                info.pid,
            )
        return info

    def _acquire(self, info: LockInfo, timeout: float) -> _Held:
        deadline = time.monotonic() + max(timeout, 0.0)
        started = time.monotonic()
        delay = _FIRST_POLL
        while True:
            try:
                held, holder = self._try_acquire(info)
            except OSError as e:
                raise StateError(f"cannot lock {self.label}: {e.strerror or e}") from None
            if held is not None:
                return held
            assert holder is not None
            now = time.monotonic()
            if now >= deadline:
                raise LockError(lock_held_message(holder, now - started), holder)
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 1.5, _MAX_POLL)

    def _try_acquire(self, info: LockInfo) -> tuple[_Held | None, LockInfo | None]:
        """One attempt: (held, None) on success, (None, holder) when a live holder has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, jsontext.dumps(info.to_json(), indent=2).encode() + b"\n")
            os.fsync(fd)
            for _ in range(_MAX_RACE_RETRIES):
                try:
                    os.link(tmp, self.path)
                except FileExistsError:
                    pass
                else:
                    tmp.unlink()
                    fsync_dir(self.path.parent)
                    return _Held(fd, info), None
                outcome = self._take_over_if_stale(tmp)
                if outcome is True:
                    return _Held(fd, info), None
                if isinstance(outcome, LockInfo):
                    os.close(fd)
                    tmp.unlink(missing_ok=True)
                    return None, outcome
            raise StateError(f"cannot lock {self.label}: the lock file keeps changing")
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            tmp.unlink(missing_ok=True)
            raise

    def _take_over_if_stale(self, tmp: Path) -> bool | LockInfo | None:
        """True: a dead holder's lock was replaced by ours; LockInfo: a live holder has it;
        None: the lock file changed under us, try again."""
        try:
            old = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(old, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_info(old)
            if not _same_file(old, self.path):
                return None
            stale = _read_info(old)
            os.replace(tmp, self.path)
            fsync_dir(self.path.parent)
        finally:
            os.close(old)
        log.warning(
            "Warning: took over the lock on %s left by a holder that is gone: "
            "%s (operation %r, pid %s, since %s, lock ID %s).",
            self.label,
            stale.who,
            stale.operation,
            stale.pid or "unknown",
            stale.created,
            stale.id or "unknown",
        )
        return True

    def _release(self, held: _Held) -> None:
        try:
            if _same_file(held.fd, self.path):
                self.path.unlink()
                fsync_dir(self.path.parent)
        finally:
            os.close(held.fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _read_info(fd: int) -> LockInfo:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 65536, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return LockInfo.parse(b"".join(chunks).decode("utf-8", "replace"))
