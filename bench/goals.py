"""The goals of the data-plane issue, computed from a run's medians, and the table of
what connection tracking costs the kernel path (docs/benchmarks.md, "Goals")."""

from __future__ import annotations

from typing import Any

from bench.stats import median, ratio
from bench.tables import (
    PEERS_C,
    RELAYS,
    TUNED,
    best_peer,
    cpu_medians,
    fmt,
    medians,
    ok_measurements,
    table,
)


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
    loss = {
        p: median([m["extra"]["loss_pct"] for m in ms])
        for p, ms in ok_measurements(result, "iperf_udp_64").items()
    }
    for key, kernel_target in targets.items():
        v = medians(result, key)
        if key == "iperf_udp_64":
            # At a fixed offered rate the delivered rate is what iperf3 happened to send
            # in its window (by design the same for every peer that keeps up): the
            # figure is the share delivered, 1 - loss.
            v = {p: 1 - pct / 100 for p, pct in loss.items()}
        peers = among.get(key, TUNED)
        peer = best_peer(v, True, peers) or peers[0]
        relay = best_peer(v, True, RELAYS) or "agent"
        if key in ("iperf_tcp_1", "iperf_tcp_4", "http_close"):
            add(f"{key}: kernel ÷ direct", ratio(v.get("agent-kernel"), v.get("direct")), 0.9)
        if key != "iperf_udp_64":
            add(f"{key}: kernel ÷ {peer}", ratio(v.get("agent-kernel"), v.get(peer)), kernel_target)
        shared = ", share delivered" if key == "iperf_udp_64" else ""
        add(f"{key}: {relay} ÷ {peer}{shared}", ratio(v.get(relay), v.get(peer)), 1.0)
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
    return "Goals of the data-plane issue, from this run's medians\n" + table(
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
            fmt(ratio(v.get("agent-kernel"), v["direct-netns"]), 2),
            fmt(ratio(v["direct-netns"], v.get("direct")), 2),
        ])  # fmt: skip
    if not rows:
        return None
    return (
        "Kernel path and connection tracking (direct-netns: no proxy, in agent-kernel's"
        " namespace with its table, so conntrack is on)\n"
        + table(["bench", "agent-kernel ÷ direct-netns", "direct-netns ÷ direct"], rows, markdown)
    )
