"""Reading the state without the lock (plan, drift, graph, show), after giving a
running writer the chance to finish."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from l4plan import codes
from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic
from l4plan.states import Backend, LockInfo, State, StateError, open_backend
from l4plan.workflows.errors import OperationError


def open_state_backend(config: Config, workdir: Path) -> Backend:
    try:
        return open_backend(config.backend, workdir=workdir)
    except StateError as e:
        raise OperationError(str(e)) from None


def lock_holder_warning(info: LockInfo) -> Diagnostic:
    return Diagnostic.at(
        codes.LOCK_HELD,
        f"The state is locked by {info.who} (pid {info.pid}, operation "
        f'"{info.operation}", since {info.created}, lock ID {info.id}). A plan does not '
        "change the state, so l4plan planned against the state as it is now; the "
        f"running {info.operation} may change it. Plan again once it has finished, or "
        "wait for it with --lock-timeout.",
        severity="warning",
    )


def wait_for_writer(backend: Backend, timeout: float) -> Diagnostic | None:
    """Wait up to `timeout` seconds for a lock holder to finish; warn if it does not.

    A plan only reads the state, so it never takes the lock; but planning while a
    writer (apply, state mv, ...) is halfway through would show a plan that is
    stale at once, so it first gives the writer a chance to finish.
    """
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        info = backend.peek_lock()
        if info is None:
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return lock_holder_warning(info)
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 1.0)


@dataclass(slots=True)
class StateRead:
    state: State | None
    backend: str  # the backend's description, for messages and plan files
    lock_warning: Diagnostic | None  # L4W102 when a writer still held the lock


def read_state(config: Config, workdir: Path, *, lock_timeout: float, wait: bool) -> StateRead:
    """The state, read without the lock; with `wait`, after waiting for a writer."""
    backend = open_state_backend(config, workdir)
    try:
        warning = wait_for_writer(backend, lock_timeout) if wait else None
        return StateRead(backend.read(), backend.describe(), warning)
    except StateError as e:
        raise OperationError(str(e)) from None
    finally:
        backend.close()
