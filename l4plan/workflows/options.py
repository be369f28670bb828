"""The options the operations share, as one object instead of a parameter each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How an operation evaluates the configuration, takes the lock and calls agents.

    `var_args` are `--var NAME=VALUE`, `var_files` `--var-file FILE`; `targets`
    limit a plan (`--target`); `lock_timeout` is how long to wait for the state lock
    (or, for read-only operations, for a writer to finish); `timeout` the deadline of
    each agent call; `refresh` whether to read the agents before planning.
    """

    var_args: tuple[str, ...] = ()
    var_files: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    lock_timeout: float = 0.0
    auto_approve: bool = False
    parallelism: int = 10
    timeout: float = 30.0
    refresh: bool = True
