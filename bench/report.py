"""Tables from benchmark results (the JSON files in bench/results/).

python -m bench.report [--markdown] FILE...    # print the tables of saved results
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.stats import median, ratio, spread

PEERS_C = ("haproxy", "haproxy-tuned", "nginx", "nginx-tuned")  # the peers: C proxies
TUNED = ("haproxy-tuned", "nginx-tuned")
RELAYS = ("agent", "agent-w2")
DIRECTS = ("direct", "direct-netns")  # no proxy: the host's loopback, the namespace's
SAME = 0.90  # a proxy at this share of direct or more: "direct equals the proxy"
EXTRA_LABELS = {"loss_pct": "loss %", "p99_ms": "p99 ms", "held": "held"}


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=1, allow_nan=False)


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _table(header: list[str], rows: list[list[str]], markdown: bool = False) -> str:
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


def _ok(result: dict[str, Any], bench: str) -> dict[str, list[dict[str, Any]]]:
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
        for p, ms in _ok(result, bench).items()
        if (v := median([m["value"] for m in ms])) is not None
    }


def cpu_medians(result: dict[str, Any], bench: str) -> dict[str, float]:
    return {
        p: v
        for p, ms in _ok(result, bench).items()
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
            {f for ms in _ok(result, bench["key"]).values() for m in ms for f in m["flags"]}
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
    measured = _ok(result, bench["key"])
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
        row = [p, _fmt(values[p], 2), _pct(spread([m["value"] for m in ms]))]
        row += [_fmt(ratio(values[p], values.get(r)), 2) for r in ("direct", best)]
        for key in bench["extra"]:
            row.append(_fmt(median([m["extra"][key] for m in ms]), 2))
        if bench["cpu_unit"]:
            row.append(_fmt(cpu.get(p), cpu_digits))
            share = ratio(cpu.get(p), cpu.get(best) if best else None)
            row.append("n/a" if p == "agent-kernel" else _fmt(share, 2))  # see the note
        gen = [m["gen_cpu"] for m in ms if m.get("gen_cpu") is not None]
        row.append(_pct(median(gen)))
        row.append(_pct(median([m["machine_idle"] for m in ms])))
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
    table = _table(header, rows, markdown) if rows else "  (nothing measured)"
    if markdown:  # the notes as a list under the table
        notes = ["- " + n.strip().removeprefix("** ") for n in notes]
        return "\n".join([table, "", *notes] if notes else [table])
    return "\n".join([table, *notes])


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


def _goal(
    label: str, value: float | None, target: float, *, at_most: bool = False, why: str = ""
) -> list[str]:
    if value is None:
        return [label, "-", f"{'≤' if at_most else '≥'} {target:g}", why or "not measured"]
    met = value <= target if at_most else value >= target
    shown = f"{value:.2f}"
    for digits in (3, 4, 5):  # as many decimals as it takes not to look met when missed
        if met == (float(shown) <= target if at_most else float(shown) >= target):
            break
        shown = f"{value:.{digits}f}"
    return [
        label,
        shown,
        f"{'≤' if at_most else '≥'} {target:g}",
        "met" if met else "MISSED",
    ]


def render_goals(result: dict[str, Any], markdown: bool = False) -> str:
    """The Goals table of the data-plane issue, computed from this run's medians. The
    relay's figure is the better of 1 and 2 workers (named in the row)."""
    kernel = result["peers"].get("agent-kernel", {})
    why = "" if kernel.get("status") == "ok" else f"agent-kernel {kernel.get('status', 'not run')}"
    rows: list[list[str]] = []

    def add(label: str, value: float | None, target: float, *, at_most: bool = False) -> None:
        rows.append(
            _goal(label, value, target, at_most=at_most, why=why if "kernel" in label else "")
        )

    targets = {
        "iperf_tcp_1": 1.8,
        "iperf_tcp_4": 1.8,
        "http_close": 1.5,
        "iperf_udp_64": 1.5,
        "udp_rr": 1.5,
    }
    among = {
        "http_close": PEERS_C,
        "iperf_udp_64": ("nginx", "nginx-tuned"),
        "udp_rr": ("nginx", "nginx-tuned"),
    }
    for key, kernel_target in targets.items():
        v = medians(result, key)
        peers = among.get(key, TUNED)
        peer = best_peer(v, True, peers) or peers[0]
        relay = best_peer(v, True, RELAYS) or "agent"
        if key in ("iperf_tcp_1", "iperf_tcp_4", "http_close"):
            add(f"{key}: kernel ÷ direct", ratio(v.get("agent-kernel"), v.get("direct")), 0.9)
        if key != "iperf_udp_64":
            add(f"{key}: kernel ÷ {peer}", ratio(v.get("agent-kernel"), v.get(peer)), kernel_target)
        add(f"{key}: {relay} ÷ {peer}", ratio(v.get(relay), v.get(peer)), 1.0)
    loss = {
        p: median([m["extra"]["loss_pct"] for m in ms])
        for p, ms in _ok(result, "iperf_udp_64").items()
    }
    if "agent-kernel" in loss and "direct" in loss:
        add(
            "iperf_udp_64: kernel loss % - direct's",
            loss["agent-kernel"] - loss["direct"],
            1.0,
            at_most=True,
        )
    else:
        add("iperf_udp_64: kernel loss % - direct's", None, 1.0, at_most=True)
    for key in ("bulk_pp2", "http_close", "http_keepalive", "udp_rr"):
        v = medians(result, key)
        add(f"{key}: PROXY v2 on ÷ off, rate", ratio(v.get("agent-pp2"), v.get("agent")), 0.9)
        cpu = cpu_medians(result, key)
        add(
            f"{key}: PROXY v2 on ÷ off, CPU per unit",
            ratio(cpu.get("agent-pp2"), cpu.get("agent")),
            1.1,
            at_most=True,
        )
    v = medians(result, "idle_memory")
    for name in RELAYS:
        add(
            f"idle_memory: {name} ÷ haproxy",
            ratio(v.get(name), v.get("haproxy")),
            1.0,
            at_most=True,
        )
    rows.append(
        ["flows lost across reconfigurations and restarts", "-", "0", "measured by the tests"]
    )
    return "Goals of the data-plane issue, from this run's medians\n" + _table(
        ["goal", "measured", "target", ""], rows, markdown
    )


def render_conntrack(result: dict[str, Any], markdown: bool = False) -> str | None:
    """agent-kernel against direct-netns: the same namespace, both with connection
    tracking on (agent-kernel's table is there), so the ratio is what translating and
    counting cost beyond conntrack; and direct-netns against direct: what conntrack
    costs. None when either of them was not measured."""
    if any(
        result["peers"].get(p, {}).get("status") != "ok" for p in ("agent-kernel", "direct-netns")
    ):
        return None
    rows = []
    for bench in result["benches"]:
        v = medians(result, bench["key"])
        if "direct-netns" not in v or not bench["higher_is_better"]:
            continue
        rows.append([
            bench["key"],
            _fmt(ratio(v.get("agent-kernel"), v["direct-netns"]), 2),
            _fmt(ratio(v["direct-netns"], v.get("direct")), 2),
        ])  # fmt: skip
    if not rows:
        return None
    return (
        "Kernel path and connection tracking (direct-netns: no proxy, in agent-kernel's"
        " namespace with its table, so conntrack is on)\n"
        + _table(["bench", "agent-kernel ÷ direct-netns", "direct-netns ÷ direct"], rows, markdown)
    )


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
                [stage, _fmt(mid, 3), _pct(spread(values)), str(len(values)),
                 "-" if share is None else f"{share:.3f}"]
            )  # fmt: skip
        rules = size["apps"] * size["rules_per_app"]
        out.append(
            f"\n{size['apps']} applications x {size['rules_per_app']} rules"
            f" ({rules:,} rules, {size['bytes'] / 1e6:.1f} MB of HCL,"
            f" {size['resources']} resources; plan: {size['plan_summary']})"
        )
        out.append(_table(header, rows, markdown))
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
