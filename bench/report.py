"""Tables from benchmark results (the JSON files in bench/results/).

python -m bench.report FILE...    # print the tables of saved results
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.stats import median, ratio, spread

REFERENCES = ("direct", "agent", "haproxy", "nginx")


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def render_dataplane(result: dict[str, Any]) -> str:
    out = [_dataplane_heading(result)]
    for bench in result["benches"]:
        direction = "higher is better" if bench["higher_is_better"] else "lower is better"
        out.append(f"\n{bench['title']}  [{bench['unit']}, {direction}; ÷X = this peer / X]")
        out.append(_bench_table(result, bench))
    out.append(_cpu_table(result))
    return "\n".join(out)


def _cpu_table(result: dict[str, Any]) -> str:
    """Proxy CPU per unit of work, every benchmark side by side, relative to the agent."""
    peers = [
        p
        for p in result["params"]["peers"]
        if result["peers"].get(p, {}).get("status") == "ok" and p != "direct"
    ]
    rows = []
    for bench in result["benches"]:
        if not bench["cpu_unit"]:
            continue
        cpu = {
            p: median(
                [
                    m["cpu_per_unit"]
                    for m in result["measurements"]
                    if m["bench"] == bench["key"] and m["peer"] == p and "cpu_per_unit" in m
                ]
            )
            for p in peers
        }
        digits = 2 if bench["cpu_unit"].startswith("CPU s") else 1
        row = [bench["key"], bench["cpu_unit"].removeprefix("CPU ")]
        for p in peers:
            share = ratio(cpu[p], cpu.get("agent"))
            row.append("-" if cpu[p] is None else f"{_fmt(cpu[p], digits)} ({_fmt(share, 2)})")
        rows.append(row)
    return (
        "\nProxy CPU per unit of work, median  [lower is better; (this peer / agent)]\n"
        + _table(["benchmark", "unit", *peers], rows)
    )


def _bench_table(result: dict[str, Any], bench: dict[str, Any]) -> str:
    """One benchmark: a row per peer that was measured, then a note per peer that was not."""
    measured: dict[str, list[dict[str, Any]]] = {}
    notes = []
    for p in result["params"]["peers"]:
        info = result["peers"].get(p, {})
        if info.get("status") != "ok":
            notes.append(f"  {p}: unavailable: {info.get('reason', 'not started')}")
            continue
        ms = [m for m in result["measurements"] if m["bench"] == bench["key"] and m["peer"] == p]
        ok = [m for m in ms if "error" not in m]
        if ok:
            measured[p] = ok
        if len(ok) < len(ms):
            failed = next(m for m in ms if "error" in m)
            notes.append(f"  {p}: {len(ms) - len(ok)} measurement(s) failed: {failed['error']}")
    medians = {p: median([m["value"] for m in ms]) for p, ms in measured.items()}
    refs = [r for r in REFERENCES if r in medians]
    header = ["peer", bench["unit"], "spread", *(f"÷{r}" for r in refs)]
    if bench["cpu_unit"]:
        header.append(f"proxy {bench['cpu_unit']}")
    if bench["key"] == "tcp_latency":
        header.append("p99 µs")
    header += ["gen CPU", "idle", "errors"]
    rows = []
    for p, ms in measured.items():
        row = [p, _fmt(medians[p]), _pct(spread([m["value"] for m in ms]))]
        row += [_fmt(ratio(medians[p], medians[r]), 2) for r in refs]
        if bench["cpu_unit"]:
            cpu = [m["cpu_per_unit"] for m in ms if "cpu_per_unit" in m]
            row.append(_fmt(median(cpu), 2 if bench["cpu_unit"].startswith("CPU s") else 1))
        if bench["key"] == "tcp_latency":
            row.append(_fmt(median([m["output"]["p99_us"] for m in ms])))
        row.append(_pct(median([m["gen_cpu_s"] / m["seconds"] for m in ms])))
        row.append(_pct(median([m["machine_idle"] for m in ms])))
        row.append(str(sum(m["errors"] for m in ms)))
        rows.append(row)
    return "\n".join([_table(header, rows), *notes]) if rows else "\n".join(notes)


def _dataplane_heading(result: dict[str, Any]) -> str:
    m = result["machine"]
    params = result["params"]
    load = result["loadavg"]
    return (
        f"Data plane, {result['date']}: {m['cpus']} CPUs ({m['cpu_model']}), Linux {m['kernel']},"
        f" Python {m['python']}\n{m['haproxy'] or 'haproxy: not installed'};"
        f" {m['nginx'] or 'nginx: not installed'}\n"
        f"median of {params['rounds']} rounds of {params['seconds']:g} s per peer;"
        f" load average {load['start'][0]:.1f} at start, {load.get('end', [0])[0]:.1f} at end\n"
        f"{_sizes(result)}\n"
        "spread = (max - min) / median over the rounds; gen CPU = load generator CPU time"
        " / wall time (100% = one core);\nidle = share of all the machine's CPU time left idle"
        " during the measurement (near 0%: the machine, not the proxy, was the limit)"
    )


def _sizes(result: dict[str, Any]) -> str:
    parts = [
        f"{name} {info['processes']}/{info['threads']}"
        for name, info in result["peers"].items()
        if "processes" in info
    ]
    return "proxy processes/threads: " + ", ".join(parts)


def render_configs(result: dict[str, Any]) -> str:
    out = [
        f"Control plane, {result['date']}: {result['machine']['cpus']} CPUs, Python"
        f" {result['machine']['python']}, python-hcl2 {result['machine']['python_hcl2']};"
        f" median of up to {result['params']['rounds']} runs (fewer if over the time budget)"
    ]
    for size in result["sizes"]:
        timings = size["timings"]
        base = median(timings.get("hcl2.load", []))
        header = ["stage", "median s", "spread", "runs", "÷hcl2.load"]
        rows = []
        for stage, values in timings.items():
            mid = median(values)
            share = ratio(mid, base)
            rows.append(
                [stage, _fmt(mid, 3), _pct(spread(values)), str(len(values)),
                 "-" if share is None else f"{share:.3f}"]
            )  # fmt: skip
        rules = size["apps"] * size["rules_per_app"]
        out.append(
            f"\n{size['apps']} applications x {size['rules_per_app']} rules"
            f" ({rules:,} rules, {size['bytes'] / 1e6:.1f} MB of HCL,"
            f" {size['resources']} resources; plan: {size['plan_summary']})"
        )
        out.append(_table(header, rows))
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m bench.report RESULT.json ...")
    for name in sys.argv[1:]:
        try:
            result = json.loads(Path(name).read_text())
            text = (
                render_dataplane(result)
                if result["kind"] == "dataplane"
                else render_configs(result)
            )
        except (OSError, ValueError, KeyError) as e:
            sys.exit(f"{name}: not a benchmark result ({type(e).__name__}: {e})")
        print(text)
        print()


if __name__ == "__main__":
    main()
