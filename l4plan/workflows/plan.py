"""Plan: refresh (unless told not to), diff against the configuration, and optionally
save the plan for `apply FILE`. Read-only: it never takes the state lock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from l4plan.configs.model import Config
from l4plan.diagnostics import has_errors
from l4plan.plans import Plan, PlanFileError, saved_plan, write_planfile
from l4plan.plans.model import PlanMode
from l4plan.plans.refreshed import plan_refreshed
from l4plan.workflows.config import loaded_config
from l4plan.workflows.errors import OperationError
from l4plan.workflows.options import RunOptions
from l4plan.workflows.reading import read_state


@dataclass(slots=True)
class PlanResult:
    config: Config
    plan: Plan  # errored when the configuration or the plan has errors
    backend: str = ""  # the state's backend, for plan files; "" when none was read


def make_plan(
    workdir: Path,
    options: RunOptions,
    *,
    mode: PlanMode = "normal",
    wait_for_lock: bool = True,
    complete_refresh: bool = False,
) -> PlanResult:
    """The plan, with every diagnostic in `plan.diagnostics` (configuration, lock,
    refresh, plan). `complete_refresh`: an agent that cannot be read is an error
    (`--detailed-exitcode`). Raises OperationError when the state cannot be read."""
    config, diagnostics = loaded_config(workdir, options)
    if has_errors(diagnostics):
        return PlanResult(config, Plan(diagnostics=diagnostics))
    read = read_state(config, workdir, lock_timeout=options.lock_timeout, wait=wait_for_lock)
    plan = plan_refreshed(
        config,
        read.state,
        workdir=workdir,
        do_refresh=options.refresh,
        targets=options.targets,
        mode=mode,
        complete_refresh=complete_refresh,
    ).plan
    lock = [read.lock_warning] if read.lock_warning else []
    plan.diagnostics = [*diagnostics, *lock, *plan.diagnostics]
    return PlanResult(config, plan, read.backend)


def save_plan(result: PlanResult, path: Path) -> None:
    """Write the plan file for `apply FILE` (never for a plan with errors)."""
    assert not result.plan.errored
    try:
        write_planfile(path, saved_plan(result.plan, result.config, backend=result.backend))
    except OSError as e:
        raise OperationError(f"cannot write plan file {path}: {e.strerror or e}") from None
    except PlanFileError as e:
        raise OperationError(str(e)) from None
