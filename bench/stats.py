"""Summary statistics of repeated measurements."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def spread(values: Sequence[float]) -> float | None:
    """(max - min) / median: how far apart the repeated measurements were."""
    mid = median(values)
    if not mid or len(values) < 2:
        return None
    return (max(values) - min(values)) / mid


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return value / reference
