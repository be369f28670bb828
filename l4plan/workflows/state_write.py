"""The one rule for writing a state that follows another: same lineage, next serial,
and compare-and-set against the state it follows.

Every operation that changes the state (apply, destroy, refresh-only, import,
`state rm`/`mv`) writes through `write_successor`, so a write fails instead of
overwriting a state that moved since it was read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from l4plan.configs.model import Config
from l4plan.states import Backend, LockError, State, StateError
from l4plan.workflows.errors import OperationError
from l4plan.workflows.reading import open_state_backend

StateId = tuple[str, int]  # (lineage, serial)


def state_id(state: State | None) -> StateId | None:
    return None if state is None else (state.lineage, state.serial)


def write_successor(backend: Backend, state: State, prior: StateId | None) -> None:
    """Write `state` as the successor of `prior` (None: there was no state).

    It takes `prior`'s lineage and the next serial (serial 1 for a first state,
    which keeps its own lineage). Raises StateError if the stored state is no longer
    `prior` (compare-and-set) or cannot be written.
    """
    if prior is not None:
        state.lineage, state.serial = prior[0], prior[1] + 1
    else:
        state.serial = 1
    backend.write(state, expected=prior)


@contextmanager
def locked_backend(
    config: Config, workdir: Path, operation: str, lock_timeout: float
) -> Iterator[Backend]:
    """The state backend, locked for `operation`; state errors become OperationError."""
    backend = open_state_backend(config, workdir)
    try:
        with backend.lock(operation, timeout=lock_timeout):
            yield backend
    except (LockError, StateError) as e:
        raise OperationError(str(e)) from None
    finally:
        backend.close()


_AGENTS_SAID = {
    "changed": "the agents were changed, but ",
    "maybe": "the agents may have been changed, but ",
}


def write_state(backend: Backend, state: State, prior: State | None, *, agents: str = "") -> None:
    """Write `state` as the successor of `prior`; the error says that agents were
    changed only when `agents` says they were ("changed", "maybe" or "")."""
    try:
        write_successor(backend, state, state_id(prior))
    except StateError as e:
        said = _AGENTS_SAID.get(agents, "")
        raise OperationError(f"{said}the state could not be written: {e}") from None
