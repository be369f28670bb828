"""Control-plane benchmark: l4plan's configuration stages against plain `hcl2.load`.

    python -m bench.configs [--sizes 100,1000] [--rules 30] [--rounds 3] [--budget 90]
                            [--results bench/results]

For each size, a generated configuration (bench/confgen.py) is timed through:

- `hcl2.load`: python-hcl2's own parse of every file to a dict, the peer: what any
  tool reading these files with the standard Python HCL library pays;
- `load_config`: l4plan's loading (parse with positions, evaluate, expand);
- `check`: schemas and constraints (`l4plan.configs.validate.check`);
- `build_plan (fresh)`: the plan against no state (everything is created);
- `build_plan (no change)`: the plan against the state a complete apply would record;
- `render_plan`: the human plan text of the fresh plan;
- `l4plan validate`: the whole command in a new process (interpreter start included).

Stages run interleaved, round after round; a stage is repeated up to `--rounds` times
but not after its runs have taken `--budget` seconds in total (at least once). The
medians are printed with their ratio to the median of `hcl2.load`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import hcl2

from bench import procs, report
from bench.confgen import write_config
from l4plan.apply.engine import AgentResult, planned_operations
from l4plan.apply.record import next_state
from l4plan.configs import load_config
from l4plan.configs.model import Config
from l4plan.configs.validate import check
from l4plan.diagnostics import has_errors
from l4plan.plans import Plan, build_plan, render_plan
from l4plan.states.model import State


def hcl2_load(directory: Path) -> None:
    for path in sorted(directory.glob("*.hcl")):
        with path.open() as f:
            hcl2.load(f)


def applied_state(config: Config, plan: Plan) -> State:
    """The state after an apply of `plan` that every agent acknowledged at revision 1,
    built by the apply engine's own `next_state`."""
    results = {
        agent: AgentResult(agent, ops, revision=1)
        for agent, ops in planned_operations(plan, config, None).items()
    }
    return next_state(plan, None, results)


def cli_validate(directory: Path) -> None:
    command = [sys.executable, "-c", "from l4plan.cli.main import main; main()"]
    command += ["-C", str(directory), "validate"]
    done = subprocess.run(command, capture_output=True, env=procs.python_env(), timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"l4plan validate failed: {done.stderr.decode()[-500:]}")


def _summary(plan: Plan) -> str:
    s = plan.summary
    return f"{s.add} to add, {s.change} to change, {s.destroy} to destroy"


def bench_size(
    directory: Path, apps: int, rules: int, rounds: int, budget: float
) -> dict[str, Any]:
    size = write_config(directory, apps, rules)
    config = load_config(directory)
    problems = config.diagnostics + check(config)
    if has_errors(problems):
        raise RuntimeError(f"the generated configuration does not validate: {problems[:3]}")
    fresh = build_plan(config, None)
    state = applied_state(config, fresh)
    unchanged = build_plan(config, state)
    if unchanged.summary.add or unchanged.summary.change or unchanged.summary.destroy:
        raise RuntimeError(f"the no-change plan is not empty: {_summary(unchanged)}")

    stages: dict[str, Callable[[], object]] = {
        "hcl2.load": lambda: hcl2_load(directory),
        "load_config": lambda: load_config(directory),
        "check": lambda: check(config),
        "build_plan (fresh)": lambda: build_plan(config, None),
        "build_plan (no change)": lambda: build_plan(config, state),
        "render_plan (fresh)": lambda: render_plan(fresh, color=False),
        "l4plan validate (process)": lambda: cli_validate(directory),
    }
    timings: dict[str, list[float]] = {name: [] for name in stages}
    for round_ in range(rounds):
        for name, stage in stages.items():
            if round_ and sum(timings[name]) >= budget:
                continue
            gc.collect()
            started = time.perf_counter()
            stage()
            timings[name].append(time.perf_counter() - started)
            print(
                f"  {apps} apps, round {round_ + 1}: {name} {timings[name][-1]:.3f}s",
                file=sys.stderr,
                flush=True,
            )
    return {
        "apps": apps,
        "rules_per_app": rules,
        "bytes": size,
        "resources": len(config.resources),
        "plan_summary": f"fresh {_summary(fresh)}; no change {_summary(unchanged)}",
        "timings": timings,
    }


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwind through the finally block that removes the files


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.configs", description=__doc__)
    parser.add_argument("--sizes", default="100,1000", help="numbers of applications")
    parser.add_argument("--rules", type=int, default=30, help="rules per application (<= 30)")
    parser.add_argument("--rounds", type=int, default=3, help="most runs of each stage")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds per stage and size")
    parser.add_argument("--results", type=Path, default=procs.ROOT / "bench" / "results")
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        parser.error(f"--sizes must be comma-separated numbers, not {args.sizes!r}")
    if not sizes or not all(1 <= s <= 1500 for s in sizes):
        parser.error("--sizes: between 1 and 1500 applications each")
    if not 1 <= args.rules <= 30 or not 1 <= args.rounds <= 20 or args.budget <= 0:
        parser.error("--rules must be 1..30, --rounds 1..20, --budget positive")
    result: dict[str, Any] = {
        "kind": "configs",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "python_hcl2": metadata.version("python-hcl2"),
        },
        "params": {"rounds": args.rounds, "budget_s": args.budget},
        "loadavg": {"start": os.getloadavg()},
        "sizes": [],
    }
    # SIGINT too: run.sh starts this in the background, where SIGINT starts out ignored
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="l4plan-bench-configs-"))
    try:
        for apps in sizes:
            result["sizes"].append(
                bench_size(workdir / f"apps{apps}", apps, args.rules, args.rounds, args.budget)
            )
    except RuntimeError as e:
        sys.exit(f"configs benchmark: {e}")
    except KeyboardInterrupt:
        sys.exit("configs benchmark: interrupted")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["loadavg"]["end"] = os.getloadavg()
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"configs-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=1))
    print(report.render_configs(result))
    print(f"\nall measurements: {path}")


if __name__ == "__main__":
    main()
