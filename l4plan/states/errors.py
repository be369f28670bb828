"""The errors every state backend raises. Messages say what happened and what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from l4plan.states.lockinfo import LockInfo


class StateError(Exception):
    """State cannot be read, written or locked: corrupt or newer state, unreachable database."""


class LockError(StateError):
    """The state lock is held by someone else; `info` says who, since when and for what."""

    def __init__(self, message: str, info: LockInfo):
        super().__init__(message)
        self.info = info


class StaleStateError(StateError):
    """A compare-and-set write failed: lineage or serial moved since the caller read the state."""


class CorruptStateError(StateError):
    """Stored state is not valid JSON or does not match the state schema."""
