"""Tables from benchmark results (the JSON files in bench/results/).

python -m bench.report [--markdown] FILE...    # print the tables of saved results
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.goals import render_conntrack, render_goals
from bench.stats import median, ratio, spread
from bench.tables import (
    DIRECTS,
    best_peer,
    cpu_medians,
    fmt,
    medians,
    ok_measurements,
    pct,
    table,
)

SAME = 0.90  # a proxy at this share of direct or more: "direct equals the proxy"
EXTRA_LABELS = {"loss_pct": "loss %", "p99_ms": "p99 ms", "held": "held"}


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=1, allow_nan=False)


def render_dataplane(result: dict[str, Any], markdown: bool = False) -> str:
    heading = _dataplane_heading(result)
    out = [f"```\n{heading}\n```" if markdown else heading]
    for bench in result["benches"]:
        direction = "higher is better" if bench["higher_is_better"] else "lower is better"
        title = f"**{bench['title']}**" if markdown else bench["title"]
        out.append(
            f"\n{title}  [{bench['unit']}, {direction}]\n"
            if markdown
            else f"\n{title}  [{bench['unit']}, {direction}]"
        )
        out.append(_bench_table(result, bench, markdown))
    if not result["params"].get("kernel_extra_rules"):  # a pass of the kernel path only
        out.append("\n" + render_goals(result, markdown))
    conntrack = render_conntrack(result, markdown)
    if conntrack:
        out.append("\n" + conntrack)
    return "\n".join(out)


def generator_note(result: dict[str, Any], bench: dict[str, Any]) -> str | None:
    """Why this table may measure the load tool rather than the proxies, or None."""
    values = medians(result, bench["key"])
    if bench["fixed_rate"]:
        flags = sorted(
            {
                f
                for ms in ok_measurements(result, bench["key"]).values()
                for m in ms
                for f in m["flags"]
            }
        )
        if flags:
            return (
                "GENERATOR LIMIT: iperf3 did not send at the fixed rate in some measurements"
                f" ({'; '.join(flags[:3])}): lower the rate"
            )
        return None
    direct = values.get("direct")
    proxies = {p: v for p, v in values.items() if p not in DIRECTS}
    if direct is None or len(proxies) < 2 or not bench["higher_is_better"]:
        return None
    if all(v >= SAME * direct for v in proxies.values()):
        return (
            f"GENERATOR LIMIT: every proxy reaches {SAME:.2f}x direct or more, so this table"
            " measures the load tool and the origin, not the proxies"
        )
    return None


def _bench_table(result: dict[str, Any], bench: dict[str, Any], markdown: bool) -> str:
    """One benchmark: a row per peer measured, then notes: peers not measured, failed
    measurements, and whether the generator was the limit."""
    measured = ok_measurements(result, bench["key"])
    notes = []
    for p in result["params"]["peers"]:
        failed = [
            m
            for m in result["measurements"]
            if m["bench"] == bench["key"] and m["peer"] == p and "error" in m
        ]
        if failed:
            notes.append(f"  {p}: {len(failed)} measurement(s) failed: {failed[0]['error']}")
    values = medians(result, bench["key"])
    best = best_peer(values, bench["higher_is_better"])
    cpu = cpu_medians(result, bench["key"])
    cpu_digits = 2 if (bench["cpu_unit"] or "").startswith("CPU s") else 1
    header = ["peer", bench["unit"], "spread", "÷direct", f"÷{best or 'best peer'}"]
    header += [EXTRA_LABELS.get(k, k) for k in bench["extra"]]
    if bench["cpu_unit"]:
        header += [f"proxy {bench['cpu_unit']}", "CPU ÷best"]
    header += ["gen CPU", "idle", "errors"]
    rows = []
    for p, ms in measured.items():
        row = [p, fmt(values[p], 2), pct(spread([m["value"] for m in ms]))]
        row += [fmt(ratio(values[p], values.get(r)), 2) for r in ("direct", best)]
        for key in bench["extra"]:
            row.append(fmt(median([m["extra"][key] for m in ms]), 2))
        if bench["cpu_unit"]:
            row.append(fmt(cpu.get(p), cpu_digits))
            share = ratio(cpu.get(p), cpu.get(best) if best else None)
            row.append("n/a" if p == "agent-kernel" else fmt(share, 2))  # see the note
        gen = [m["gen_cpu"] for m in ms if m.get("gen_cpu") is not None]
        row.append(pct(median(gen)))
        row.append(pct(median([m["machine_idle"] for m in ms])))
        row.append(str(sum(m["errors"] for m in ms)))
        rows.append(row)
    note = generator_note(result, bench)
    if note:
        notes.insert(0, f"  ** {note}")
    if "agent-kernel" in measured and bench["cpu_unit"]:
        notes.append(
            "  agent-kernel: netfilter forwards in the kernel (softirq), charged to the tool's"
            " and the origin's processes: its proxy CPU is the agent's own, near 0"
        )
    if bench["fixed_rate"]:
        notes.append(
            "  fixed offered rate: equal delivered rates are by design; compare loss % and"
            " CPU per datagram"
        )
    shown = table(header, rows, markdown) if rows else "  (nothing measured)"
    if markdown:  # the notes as a list under the table
        notes = ["- " + n.strip().removeprefix("** ") for n in notes]
        return "\n".join([shown, "", *notes] if notes else [shown])
    return "\n".join([shown, *notes])


def _dataplane_heading(result: dict[str, Any]) -> str:
    m = result["machine"]
    params = result["params"]
    load = result["loadavg"]
    tools = "; ".join(
        str(m.get(k) or f"{k}: not installed") for k in ("haproxy", "nginx", "iperf3", "wrk")
    )
    return (
        f"Data plane, {result['date']}: {m['cpus']} CPUs ({m['cpu_model']}), Linux {m['kernel']},"
        f" Python {m['python']}\n{tools}\ncommit {m.get('commit') or '?'}"
        f"{' (proxy-agent/ with uncommitted changes)' if m.get('agent_changed') else ''}\n"
        f"{_host_tables(m)}{_padding(params)}"
        f"median of {params['rounds']} rounds of {params['seconds']:g} s per peer;"
        f" load average {load['start'][0]:.2f} at start, {load.get('end', [0])[0]:.2f} at end\n"
        f"{_sizes(result)}\n{_missing(result)}"
        "spread = (max - min) / median over the rounds; ÷direct, ÷PEER = ratio of medians"
        " (PEER: the best of HAProxy and nginx, default or tuned, in that table);\n"
        "CPU ÷best = proxy CPU per unit of work / that peer's; gen CPU = load tool CPU time /"
        " wall time (100% = one core); idle = share of the machine's CPU left idle"
    )


def _padding(params: dict[str, Any]) -> str:
    extra = params.get("kernel_extra_rules") or 0
    return f"agent-kernel holds {extra} more rules, idle (--kernel-extra-rules)\n" if extra else ""


def _host_tables(machine: dict[str, Any]) -> str:
    tables = machine.get("host_nft_tables")
    if not tables:
        return ""
    return (
        f"host nftables tables at the start (others'): {', '.join(tables)}"
        " (with NAT hooks, connection tracking is on for the host's loopback)\n"
    )


def _missing(result: dict[str, Any]) -> str:
    """A line per peer that was not measured, saying why."""
    return "".join(
        f"{name}: {info['status']}: {info['reason']}\n"
        for name, info in result["peers"].items()
        if info["status"] != "ok"
    )


def _sizes(result: dict[str, Any]) -> str:
    parts = [
        f"{name} {info['processes']}/{info['threads']}"
        for name, info in result["peers"].items()
        if "processes" in info
    ]
    return "proxy processes/threads: " + ", ".join(parts)


def problems(result: dict[str, Any]) -> list[str]:
    """What `--check` fails on: peers that could not start, measurements that failed."""
    found = [
        f"{name}: {info['reason']}"
        for name, info in result["peers"].items()
        if info["status"] == "unavailable"
    ]
    found += [
        f"{m['bench']} {m['peer']} round {m['round'] + 1}: {m['error']}"
        for m in result["measurements"]
        if "error" in m
    ]
    return found


def render_configs(result: dict[str, Any], markdown: bool = False) -> str:
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
                [stage, fmt(mid, 3), pct(spread(values)), str(len(values)),
                 "-" if share is None else f"{share:.3f}"]
            )  # fmt: skip
        rules = size["apps"] * size["rules_per_app"]
        out.append(
            f"\n{size['apps']} applications x {size['rules_per_app']} rules"
            f" ({rules:,} rules, {size['bytes'] / 1e6:.1f} MB of HCL,"
            f" {size['resources']} resources; plan: {size['plan_summary']})"
        )
        out.append(table(header, rows, markdown))
    return "\n".join(out)


def main() -> None:
    names = [a for a in sys.argv[1:] if a != "--markdown"]
    markdown = "--markdown" in sys.argv[1:]
    if not names:
        sys.exit("usage: python -m bench.report [--markdown] RESULT.json ...")
    for name in names:
        try:
            result = json.loads(Path(name).read_text())
            render = render_dataplane if result["kind"] == "dataplane" else render_configs
            text = render(result, markdown)
        except (OSError, ValueError, KeyError) as e:
            sys.exit(f"{name}: not a benchmark result ({type(e).__name__}: {e})")
        print(text)
        print()


if __name__ == "__main__":
    main()
