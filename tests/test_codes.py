"""The catalogue of diagnostic codes (l4plan/codes.py) is the one list of them."""

from __future__ import annotations

import re
from pathlib import Path

from l4plan.codes import TITLES

ROOT = Path(__file__).resolve().parent.parent
HEADING = re.compile(r"^### (L4[EW]\d{3}) — (.+)$", re.MULTILINE)
LITERAL = re.compile(r"[\"'](L4[EW]\d{3})[\"']")


def test_constraints_page_lists_exactly_the_catalogue() -> None:
    documented = HEADING.findall((ROOT / "docs" / "constraints.md").read_text())
    assert documented == list(TITLES.items())


def test_codes_are_written_only_in_the_catalogue() -> None:
    scattered = [
        f"{path.relative_to(ROOT)}: {code}"
        for path in sorted((ROOT / "l4plan").rglob("*.py"))
        if path.name != "codes.py"
        for code in LITERAL.findall(path.read_text())
    ]
    assert scattered == []
