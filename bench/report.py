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
    peer_order = [
        p for p in result["params"]["peers"] if result["peers"].get(p, {}).get("status") == "ok"
    ]
    for bench in result["benches"]:
        rows_of = {
            p: [
                m
                for m in result["measurements"]
                if m["bench"] == bench["key"] and m["peer"] == p and "error" not in m
            ]
            for p in peer_order
        }
        values = {p: [m["value"] for m in ms] for p, ms in rows_of.items() if ms}
        medians = {p: median(v) for p, v in values.items()}
        refs = [r for r in REFERENCES if r in medians]
        direction = "higher is better" if bench["higher_is_better"] else "lower is better"
        header = ["peer", bench["unit"], "spread", *(f"÷{r}" for r in refs)]
        if bench["cpu_unit"]:
            header.append(f"proxy {bench['cpu_unit']}")
        if bench["key"] == "tcp_latency":
            header.append("p99 µs")
        header += ["gen CPU", "idle", "errors"]
        rows = []
        for p in peer_order:
            ms = rows_of[p]
            if not ms:
                failed = [
                    m
                    for m in result["measurements"]
                    if m["bench"] == bench["key"] and m["peer"] == p
                ]
                if failed:
                    rows.append([p, "failed: " + failed[0]["error"][:60]])
                continue
            row = [p, _fmt(medians[p]), _pct(spread(values[p]))]
            row += [_fmt(ratio(medians[p], medians[r]), 2) for r in refs]
            if bench["cpu_unit"]:
                cpu = [m["cpu_per_unit"] for m in ms if "cpu_per_unit" in m]
                row.append(_fmt(median(cpu), 2 if bench["cpu_unit"].startswith("CPU s") else 1))
            if bench["key"] == "tcp_latency":
                row.append(_fmt(median([m["output"]["p99_us"] for m in ms])))
            load = [m["gen_cpu_s"] / m["seconds"] for m in ms if m.get("seconds")]
            row.append(_pct(median(load)))
            row.append(_pct(median([m["machine_idle"] for m in ms])))
            row.append(str(sum(m["errors"] for m in ms)))
            rows.append(row)
        unavailable = [p for p in result["params"]["peers"] if p not in peer_order]
        for p in unavailable:
            rows.append([p, "unavailable: " + result["peers"][p]["reason"][:60]])
        out.append(f"\n{bench['title']}  [{bench['unit']}, {direction}; ÷X = this peer / X]")
        out.append(_table(header, [r + [""] * (len(header) - len(r)) for r in rows]))
    return "\n".join(out)


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
        "spread = (max - min) / median over the rounds; gen CPU = load generator CPU time"
        " / wall time (100% = one core);\nidle = share of all the machine's CPU time left idle"
        " during the measurement (near 0%: the machine, not the proxy, was the limit)"
    )


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
