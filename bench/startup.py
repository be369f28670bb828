"""Start-up time of the l4plan CLI against `python -c pass`, in the same run.

`l4plan version` and `l4plan --help` should take at most 0.15 s and
`l4plan -C examples/quickstart validate` at most 0.3 s (wall time, median). The bare
interpreter is measured alongside so a loaded machine shows as a slower baseline, not
as a slower l4plan. hyperfine is used when it is on PATH (Debian: `apt-get install
hyperfine`); otherwise the commands run here in turn, `--runs` rounds (so a change in
the machine's load slows all of them alike), and each one's median is kept.

l4plan's bytecode is compiled first, as installing a wheel does: an editable install
run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module it imports in
every run, and that, not l4plan, would be what is measured.

    .venv/bin/python -m bench.startup [--runs 20] [--json]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
L4PLAN = [str(Path(sys.executable).with_name("l4plan"))]  # the console script
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "python -c pass": ([sys.executable, "-c", "pass"], None),
    "l4plan version": ([*L4PLAN, "version"], 0.15),
    "l4plan --help": ([*L4PLAN, "--help"], 0.15),
    "l4plan validate quickstart": ([*L4PLAN, "-C", "examples/quickstart", "validate"], 0.3),
}


def _own_loop(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Median seconds of each command, run in turn round by round: a change in the
    machine's load then slows the baseline as much as l4plan."""
    for argv in commands.values():
        subprocess.run(argv, cwd=REPO, capture_output=True, check=True)  # warm the caches
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, cwd=REPO, capture_output=True, check=True)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(samples) for name, samples in times.items()}


def _hyperfine(argv: list[str], runs: int, hyperfine: str) -> float:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [hyperfine, "-N", "--warmup", "2", "--runs", str(runs), "--export-json", out.name,
             " ".join(argv)],
            cwd=REPO, capture_output=True, check=True,
        )  # fmt: skip
        return float(json.loads(Path(out.name).read_text())["results"][0]["median"])


def _compile_bytecode() -> None:
    """Write the bytecode of the l4plan package the console script imports."""
    spec = importlib.util.find_spec("l4plan")
    assert spec is not None and spec.submodule_search_locations, "l4plan is installed"
    for directory in spec.submodule_search_locations:
        if not compileall.compile_dir(directory, quiet=1):
            raise SystemExit(f"cannot compile the bytecode of {directory}")


def measure(runs: int) -> dict[str, object]:
    """Median seconds per command, the tool that measured them and the load average."""
    _compile_bytecode()
    hyperfine = shutil.which("hyperfine")
    commands = {name: argv for name, (argv, _) in COMMANDS.items()}
    if hyperfine:
        medians = {name: _hyperfine(argv, runs, hyperfine) for name, argv in commands.items()}
    else:
        medians = _own_loop(commands, runs)
    return {
        "tool": "hyperfine" if hyperfine else "own loop",
        "runs": runs,
        "load_average": os.getloadavg(),
        "median_s": medians,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    medians: dict[str, float] = result["median_s"]  # type: ignore[assignment]
    base = medians["python -c pass"]
    load = ", ".join(f"{x:.2f}" for x in result["load_average"])  # type: ignore[attr-defined]
    print(f"{result['tool']}, {args.runs} runs each, load average {load}")
    for name, (_, budget) in COMMANDS.items():
        seconds = medians[name]
        verdict = (
            ""
            if budget is None
            else f"  budget {budget:.2f} s: " + ("ok" if seconds <= budget else "over")
        )
        print(
            f"  {name:28} {seconds:6.3f} s  (+{seconds - base:.3f} s over python, "
            f"{seconds / base:4.1f}x){verdict}"
        )


if __name__ == "__main__":
    main()
