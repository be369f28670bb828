"""Durations as operators write them: `500ms`, `30s`, `5m`, `1h`, or bare seconds."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str | float) -> float:
    """Seconds in `text`; raises ValueError with an example of the accepted form."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    m = _DURATION.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not a duration (examples: 500ms, 30s, 5m)")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
