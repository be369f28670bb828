"""Shared set-up of the atheris targets: the checkout and the agent importable, and
the property functions of tests/reliability/oracles.py (the same ones the hypothesis
tests run), so a crash found here reproduces there as a one-line regression case."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "proxy-agent"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
