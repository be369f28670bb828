"""The interface every state backend provides (local files, PostgreSQL)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from l4plan.states.lockinfo import LockInfo
from l4plan.states.model import State


class Backend(Protocol):
    """State storage for one workspace, plus management of the backend's workspaces."""

    workspace: str

    def read(self) -> State | None:
        """The current state; None when none was written yet."""
        ...

    def write(self, state: State, *, expected: tuple[str, int] | None) -> None:
        """Compare-and-set: store `state` only if the stored state is still `expected`.

        `expected` is the (lineage, serial) the caller read, or None if there was no
        state. The caller has already advanced `state.serial` (it must be higher than the
        expected serial for the same lineage). Raises StaleStateError, changing nothing,
        when the stored state moved.
        """
        ...

    def lock(self, operation: str, *, timeout: float = 0.0) -> AbstractContextManager[LockInfo]:
        """Hold the workspace's state lock for the body; LockError after `timeout` seconds."""
        ...

    def peek_lock(self) -> LockInfo | None:
        """Who holds the lock now, without taking it; None if free or its holder died."""
        ...

    def force_unlock(self, lock_id: str) -> None:
        """Clear the lock `lock_id` left by a holder that will not release it."""
        ...

    def workspaces(self) -> list[str]:
        """Every workspace of this backend, "default" first."""
        ...

    def create_workspace(self, name: str) -> None:
        """Create an empty workspace; StateError if it exists."""
        ...

    def delete_workspace(self, name: str) -> None:
        """Delete a workspace and its state (callers check emptiness and hold its lock)."""
        ...

    def initialize(self) -> None:
        """Prepare the storage (`l4plan init`): the pg backend creates its schema and tables."""
        ...

    def describe(self) -> str:
        """What and where, for messages; never contains a password."""
        ...

    def close(self) -> None:
        """Release connections; the backend must not be used afterwards."""
        ...
