"""Recorded state and its backends (local files, PostgreSQL), locking and workspaces.

The plan and apply stages use: `open_backend(config.backend, workdir=...)`, then
`backend.read()`, `with backend.lock(operation, timeout=...)`, and
`backend.write(state, expected=(lineage, serial))`. See docs/state.md.
"""

from l4plan.states.backend import Backend
from l4plan.states.backends import backend_from_config, open_backend
from l4plan.states.codec import dump_state_json, load_state_json
from l4plan.states.errors import CorruptStateError, LockError, StaleStateError, StateError
from l4plan.states.lockinfo import LockInfo
from l4plan.states.model import AgentAck, OutputState, ResourceState, State
from l4plan.states.workspaces import DEFAULT_WORKSPACE, selected_workspace

__all__ = [
    "DEFAULT_WORKSPACE",
    "AgentAck",
    "Backend",
    "CorruptStateError",
    "LockError",
    "LockInfo",
    "OutputState",
    "ResourceState",
    "StaleStateError",
    "State",
    "StateError",
    "backend_from_config",
    "dump_state_json",
    "load_state_json",
    "open_backend",
    "selected_workspace",
]
