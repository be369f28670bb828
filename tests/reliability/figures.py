"""Trial counts and printed figures shared by the reliability tests.

Every test runs a CI-sized number of trials; the environment variable named in its
`trials()` call (or L4PLAN_RELIABILITY_TRIALS for all of them) raises it for the
documented full run. Each test ends with one `RELIABILITY name: figure` line, which
`pytest -m reliability -s` shows and the README table quotes.
"""

from __future__ import annotations

import os
import sys

FIGURES: list[str] = []


def trials(variable: str, ci: int, full: int | None = None) -> int:
    """The trial count: `$variable`, else $L4PLAN_RELIABILITY_TRIALS ("full" means the
    documented full count), else the CI size."""
    if os.environ.get(variable):
        return int(os.environ[variable])
    overall = os.environ.get("L4PLAN_RELIABILITY_TRIALS", "")
    if overall == "full":
        return full if full is not None else ci
    if overall:
        return int(overall)
    return ci


def report(name: str, figure: str) -> str:
    """Print (and remember) one figure line; returns it for assertions."""
    line = f"RELIABILITY {name}: {figure}"
    FIGURES.append(line)
    print(line, file=sys.stdout, flush=True)
    return line


def report_trials(name: str, good: int, total: int, what: str = "trials consistent") -> str:
    return report(name, f"{good}/{total} {what}")
