"""The pieces every table of a benchmark result is made of: medians of the successful
measurements, the best peer, number formats and the table layout (text or markdown)."""

from __future__ import annotations

from typing import Any

from bench.stats import median

PEERS_C = ("haproxy", "haproxy-tuned", "nginx", "nginx-tuned")  # the peers: C proxies
TUNED = ("haproxy-tuned", "nginx-tuned")
RELAYS = ("agent", "agent-w2")
DIRECTS = ("direct", "direct-netns")  # no proxy: the host's loopback, the namespace's


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def table(header: list[str], rows: list[list[str]], markdown: bool = False) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def ok_measurements(result: dict[str, Any], bench: str) -> dict[str, list[dict[str, Any]]]:
    """The successful measurements of `bench`, by peer, in the order peers were named."""
    by_peer: dict[str, list[dict[str, Any]]] = {}
    for p in result["params"]["peers"]:
        ms = [
            m
            for m in result["measurements"]
            if m["bench"] == bench and m["peer"] == p and "error" not in m
        ]
        if ms:
            by_peer[p] = ms
    return by_peer


def medians(result: dict[str, Any], bench: str) -> dict[str, float]:
    return {
        p: v
        for p, ms in ok_measurements(result, bench).items()
        if (v := median([m["value"] for m in ms])) is not None
    }


def cpu_medians(result: dict[str, Any], bench: str) -> dict[str, float]:
    return {
        p: v
        for p, ms in ok_measurements(result, bench).items()
        if (v := median([m["cpu_per_unit"] for m in ms if "cpu_per_unit" in m])) is not None
    }


def best_peer(
    values: dict[str, float], higher_is_better: bool, among: tuple[str, ...] = PEERS_C
) -> str | None:
    present = [p for p in among if p in values]
    if not present:
        return None
    pick = max if higher_is_better else min
    return pick(present, key=lambda p: values[p])
