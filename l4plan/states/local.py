"""The local backend: state files in the working directory.

Default workspace: `l4plan.tfstate.json` (or the `path` option). Other workspaces:
`l4plan.d/<name>/<file name of path>`.
Beside each state file: `<file>.backup` (the previous state) and `<file>.lock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from l4plan.states.atomicfile import write_atomic
from l4plan.states.cas import check_advances, check_expected
from l4plan.states.codec import dump_state_json, load_state_json
from l4plan.states.errors import CorruptStateError, StateError
from l4plan.states.filelock import FileLock
from l4plan.states.lockinfo import LockInfo
from l4plan.states.model import State
from l4plan.states.workspaces import DEFAULT_WORKSPACE, check_workspace_name

DEFAULT_STATE_FILE = "l4plan.tfstate.json"
WORKSPACE_DIR = "l4plan.d"


class LocalBackend:
    def __init__(
        self,
        workdir: Path,
        *,
        workspace: str = DEFAULT_WORKSPACE,
        path: str = DEFAULT_STATE_FILE,
    ):
        self.workdir = workdir
        self.workspace = check_workspace_name(workspace)
        self._default_path = workdir / path
        self._workspace_root = workdir / WORKSPACE_DIR
        self.state_path = self._state_path(self.workspace)
        self.backup_path = self.state_path.with_name(self.state_path.name + ".backup")
        self._lock = FileLock(
            self.state_path.with_name(self.state_path.name + ".lock"), label=self._label()
        )

    def read(self) -> State | None:
        self._require_workspace()
        text = self._read_text()
        return None if text is None else self._parse(text)

    def write(self, state: State, *, expected: tuple[str, int] | None) -> None:
        self._require_workspace()
        check_advances(state, expected)
        new_text = dump_state_json(state)
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            with self._write_section():
                old_text = self._read_text()
                current = None if old_text is None else self._parse(old_text)
                found = None if current is None else (current.lineage, current.serial)
                check_expected(found, expected, where=self.describe())
                if old_text is not None:
                    write_atomic(self.backup_path, old_text.encode())
                write_atomic(self.state_path, new_text.encode())
        except OSError as e:
            raise StateError(
                f"cannot write {self._label()}: {e.strerror or e}; the previous state is unchanged"
            ) from None

    def lock(
        self, operation: str, *, timeout: float = 0.0
    ) -> contextlib.AbstractContextManager[LockInfo]:
        self._require_workspace()
        return self._lock.hold(operation, timeout=timeout)

    def peek_lock(self) -> LockInfo | None:
        return self._lock.peek()

    def force_unlock(self, lock_id: str) -> None:
        self._lock.force_unlock(lock_id)

    def workspaces(self) -> list[str]:
        names = []
        if self._workspace_root.is_dir():
            for entry in self._workspace_root.iterdir():
                with contextlib.suppress(StateError):
                    if entry.is_dir() and check_workspace_name(entry.name) != DEFAULT_WORKSPACE:
                        names.append(entry.name)
        return [DEFAULT_WORKSPACE, *sorted(names)]

    def create_workspace(self, name: str) -> None:
        check_workspace_name(name)
        if name == DEFAULT_WORKSPACE:
            raise StateError('workspace "default" always exists')
        self._workspace_root.mkdir(exist_ok=True)
        try:
            (self._workspace_root / name).mkdir(mode=0o700)
        except FileExistsError:
            raise StateError(f"workspace {name!r} already exists") from None

    def delete_workspace(self, name: str) -> None:
        check_workspace_name(name)
        if name == DEFAULT_WORKSPACE:
            raise StateError('workspace "default" cannot be deleted')
        directory = self._workspace_root / name
        if not directory.is_dir():
            raise StateError(f"workspace {name!r} does not exist")
        shutil.rmtree(directory)

    def initialize(self) -> None:
        """Nothing to prepare: files are created on first write."""

    def describe(self) -> str:
        return f"local state {self._label()}"

    def close(self) -> None:
        """Nothing to release: files are opened per operation."""

    def _label(self) -> str:
        try:
            return str(self.state_path.relative_to(self.workdir))
        except ValueError:
            return str(self.state_path)

    def _state_path(self, workspace: str) -> Path:
        if workspace == DEFAULT_WORKSPACE:
            return self._default_path
        return self._workspace_root / workspace / self._default_path.name

    def _require_workspace(self) -> None:
        if self.workspace != DEFAULT_WORKSPACE and not self.state_path.parent.is_dir():
            raise StateError(
                f"workspace {self.workspace!r} does not exist "
                f"(no directory {self.state_path.parent}); create it with "
                f"`l4plan workspace new {self.workspace}` or select another one"
            )

    def _read_text(self) -> str | None:
        try:
            return self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise StateError(
                f"{self._label()}: the state is not UTF-8 text. It was left untouched; "
                f"the previous state is in {self.backup_path.name}."
            ) from None
        except OSError as e:
            raise StateError(f"cannot read {self._label()}: {e.strerror}") from None

    def _parse(self, text: str) -> State:
        try:
            return load_state_json(text, source=self._label())
        except CorruptStateError as e:
            raise CorruptStateError(
                f"{e}. The file was left untouched; the previous state is in "
                f"{self.backup_path.name}. Fix the file or restore the backup."
            ) from None

    @contextlib.contextmanager
    def _write_section(self) -> Iterator[None]:
        """Serialise compare-and-set writers of this directory, even without the state lock."""
        fd = os.open(self.state_path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
