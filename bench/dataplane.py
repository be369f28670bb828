"""Data-plane benchmark: the agent against a direct connection, HAProxy and nginx,
measured with iperf3, wrk and the project's own generators.

    python -m bench.dataplane [--rounds 3] [--seconds 2] [--quick] [--check]
                              [--peers direct,agent,...] [--benches iperf_tcp_1,...]
                              [--results bench/results]

Starts the origins (bench/stack.py) and every peer at once, each on its own loopback
ports, then measures in rounds, the peers interleaved (A, B, C, A, B, C, ...; the
order rotates each round) so that load from other work on a shared machine falls on
all peers alike. Each measurement is one run of a load tool bounded in time (and, for
the own generators, in count). Prints medians, spreads and ratios, and writes every
measurement to a JSON file. `--check` exits non-zero if a peer could not start or a
measurement failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import netns, procs, report, tools
from bench.benches import BENCH_FIELDS, BENCHES, Bench, applies, runner
from bench.machine import machine
from bench.peers import Agent, Direct, HAProxy, Nginx, Peer
from bench.stack import OriginPorts, Stack
from tests.ports import free_port

PORTS = range(40000, 45000)
PEERS = (
    "direct", "agent", "agent-w2", "agent-pp2", "agent-kernel", "direct-netns",
    "haproxy", "haproxy-tuned", "nginx", "nginx-tuned",
)  # fmt: skip
# not run unless named: the relay inside its own network namespace, as agent-kernel
# runs, to show what the namespace itself costs
OPTIONAL_PEERS = ("agent-netns", "agent-splice")
# run in the benchmark's own namespace. direct-netns: the tool talks to the namespace's
# origins directly while agent-kernel's table is there, so connection tracking is on for
# its packets but nothing is translated: what the kernel path costs beyond conntrack
NETNS_PEERS = ("agent-kernel", "direct-netns", "agent-netns")
ALL = ("iperf", "http", "sink", "echo", "udp")
SERVICES = {  # what each peer forwards (bench/peers.py)
    "direct": ALL,
    "agent": ALL,
    "agent-w2": ALL,
    "agent-netns": ALL,
    "agent-splice": ("iperf", "http", "sink", "echo"),
    "agent-pp2": ("http", "sink", "udp"),  # iperf3 and the echo do not read PROXY v2
    "agent-kernel": ("iperf", "http", "udp"),  # no proxy process holds idle connections
    "direct-netns": ("iperf", "http", "udp"),
    "haproxy": ("iperf", "http", "echo"),
    "haproxy-tuned": ("iperf", "http", "echo"),
    "nginx": ("iperf", "http", "echo", "udp"),
    "nginx-tuned": ("iperf", "http", "echo", "udp"),
}


def agent_has_fast_path() -> bool:
    done = subprocess.run(
        procs.python_module("l4agent", "--help"),
        capture_output=True,
        text=True,
        env=procs.python_env(),
        check=False,
    )
    return "--fast-path" in done.stdout


def make_peer(name: str, fast_path: bool, kernel_extra_rules: int = 0) -> Peer:
    services = SERVICES[name]
    if name in ("direct", "direct-netns"):
        return Direct(services, {}, name=name)
    ports = {s: free_port(PORTS) for s in services}
    if name.startswith("agent"):
        pinned = ("--fast-path", "off") if fast_path else ()
        flags = {
            "agent": ("--workers", "1", *pinned),
            "agent-w2": ("--workers", "2", *pinned),
            "agent-pp2": ("--workers", "1", *pinned),
            "agent-netns": ("--workers", "1", *pinned),
            "agent-splice": ("--workers", "1", "--splice", *pinned),
            "agent-kernel": ("--workers", "1", "--fast-path", "on"),
        }[name]
        extra = kernel_extra_rules if name == "agent-kernel" else 0
        return Agent(name, services, ports, free_port(PORTS), flags,
                     proxy_v2=name == "agent-pp2", extra_rules=extra)  # fmt: skip
    if name.startswith("haproxy"):
        return HAProxy(services, ports, tuned=name.endswith("-tuned"))
    if name.startswith("nginx"):
        return Nginx(services, ports, tuned=name.endswith("-tuned"))
    raise ValueError(name)


def skip_reason(name: str, fast_path: bool, names: Sequence[str]) -> str | None:
    """Why a peer cannot be measured on this machine (or in this run), or None."""
    if name in ("agent-kernel", "direct-netns") and not fast_path:
        return "l4plan-agent has no --fast-path option (l4plan-agent --help): no kernel path"
    if name == "direct-netns" and "agent-kernel" not in names:
        return "measures connection tracking beside agent-kernel's table: add agent-kernel"
    if name in NETNS_PEERS:
        return netns.unavailable()
    return None


@dataclass
class Context:
    """What a measurement needs besides the peer: the origins it forwards to."""

    stacks: dict[int, Stack]  # by id(peer)
    seconds: float
    quick: bool


def measure(bench: Bench, peer: Peer, ctx: Context) -> dict[str, Any]:
    stack = ctx.stacks[id(peer)]
    run = runner(bench, peer, ctx.quick)
    cpu_before = peer.cpu_seconds()
    origin_before = stack.cpu_seconds()
    ticks_before = procs.machine_ticks()
    gen_before = _children_cpu()
    try:
        out = run(peer.ports[bench.service], ctx.seconds, peer.prefix)
    except tools.ToolError as e:
        if bench.service == "iperf":  # a failed test can leave the server busy
            with contextlib.suppress(RuntimeError):
                stack.start_iperf()
        return {"error": str(e)}
    cpu_after = peer.cpu_seconds()
    ticks_after = procs.machine_ticks()
    gen_cpu = _children_cpu() - gen_before
    peer.check_alive()
    stack.check_alive()
    record: dict[str, Any] = {
        "value": out.value,
        "work": out.work,
        "seconds": out.seconds,
        "errors": out.errors,
        "extra": out.extra,
        "flags": out.flags,
        "gen_cpu": gen_cpu / out.seconds if out.seconds else None,
        "origin_cpu_s": stack.cpu_seconds() - origin_before,
        "machine_idle": (ticks_after[1] - ticks_before[1]) / (ticks_after[0] - ticks_before[0]),
    }
    if cpu_before is not None and cpu_after is not None:
        record["proxy_cpu_s"] = cpu_after - cpu_before
        if bench.cpu_unit and out.work:
            record["cpu_per_unit"] = (cpu_after - cpu_before) / out.work * bench.cpu_scale
    return record


def _children_cpu() -> float:
    """CPU seconds of the load tools this process has waited for: a tool's own
    user + system time, so a run can show whether the generator was the limit."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwind through the finally blocks that stop the children


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dataplane", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="measurements per peer (median)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one measurement")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s, 1,000 idle conns")
    parser.add_argument("--check", action="store_true", help="fail if anything failed")
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help=f"comma-separated, from {', '.join(PEERS + OPTIONAL_PEERS)}",
    )
    parser.add_argument("--benches", default=",".join(b.key for b in BENCHES))
    parser.add_argument("--results", type=Path, default=procs.ROOT / "bench" / "results")
    parser.add_argument(
        "--kernel-extra-rules",
        type=int,
        default=0,
        metavar="N",
        help="agent-kernel also holds N idle rules (0-1000): per-packet work must not grow",
    )
    args = parser.parse_args()
    names = [n for n in args.peers.split(",") if n]
    keys = [k for k in args.benches.split(",") if k]
    unknown = [n for n in names if n not in PEERS + OPTIONAL_PEERS] + [
        k for k in keys if k not in {b.key for b in BENCHES}
    ]
    if unknown:
        parser.error(f"unknown peer or benchmark: {', '.join(unknown)}")
    if args.quick:
        args.rounds, args.seconds = 1, 1.0
    if not 1 <= args.rounds <= 20 or not 1 <= args.seconds <= 10:
        parser.error("--rounds must be 1..20 and --seconds 1..10")
    if not 0 <= args.kernel_extra_rules <= 1000:
        parser.error("--kernel-extra-rules must be 0..1000")
    # SIGINT too: run.sh starts this in the background, where SIGINT starts out ignored
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _terminate)
    benches = [b for b in BENCHES if b.key in keys]
    try:
        result = run(names, benches, args.rounds, args.seconds, args.quick,
                     kernel_extra_rules=args.kernel_extra_rules)  # fmt: skip
    except RuntimeError as e:
        sys.exit(f"dataplane benchmark: {e}")
    except KeyboardInterrupt:
        sys.exit("dataplane benchmark: interrupted; every process it started is stopped")
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"dataplane-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(report.dumps(result))
    print(report.render_dataplane(result))
    print(f"\nall measurements: {path}")
    if args.check:
        problems = report.problems(result)
        if problems:
            sys.exit("check failed:\n  " + "\n  ".join(problems))


def run(
    names: list[str],
    benches: list[Bench],
    rounds: int,
    seconds: float,
    quick: bool,
    *,
    kernel_extra_rules: int = 0,
) -> dict[str, Any]:
    nofile = procs.raise_nofile(65536)  # 5,000 idle connections: 10,000 fds in a proxy
    fast_path = agent_has_fast_path()
    result: dict[str, Any] = {
        "kind": "dataplane",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "params": {
            "rounds": rounds,
            "seconds": seconds,
            "peers": names,
            "quick": quick,
            "nofile": nofile,
            "agent_fast_path_flag": fast_path,
            "kernel_extra_rules": kernel_extra_rules,
        },
        "benches": [{k: getattr(b, k) for k in BENCH_FIELDS} for b in benches],
        "peers": {},
        "measurements": [],
        "loadavg": {"start": os.getloadavg()},
    }
    workdir = Path(tempfile.mkdtemp(prefix="l4plan-bench-"))
    origin_ports = _origin_ports()
    host_stack = Stack(origin_ports, workdir / "origins")
    namespace: netns.Namespace | None = None
    ns_stacks: dict[str, Stack] = {}  # "kernel" (agent-kernel, agent-netns), "direct-netns"
    stacks: dict[int, Stack] = {}
    peers: list[Peer] = []
    candidates: list[tuple[Peer, Stack]] = []
    try:
        host_stack.start()
        for name in names:
            reason = skip_reason(name, fast_path, names)
            if reason is not None:
                result["peers"][name] = {"status": "skipped", "reason": reason}
                print(f"{name}: skipped: {reason}", file=sys.stderr)
                continue
            peer = make_peer(name, fast_path, kernel_extra_rules)
            stack = host_stack
            if name in NETNS_PEERS:
                if namespace is None:
                    namespace = netns.Namespace.create()
                # direct-netns gets origins of its own: its untranslated flows to the
                # kernel path's origin ports would collide with the translated flows'
                # reply tuples still in conntrack (TIME_WAIT), and such a SYN is dropped
                which = "direct-netns" if name == "direct-netns" else "kernel"
                if which not in ns_stacks:
                    ports = origin_ports if which == "kernel" else _origin_ports()
                    ns_stacks[which] = Stack(
                        ports, workdir / f"origins-netns-{which}", namespace.prefix
                    )
                    ns_stacks[which].start()
                peer.prefix = list(namespace.prefix)
                stack = ns_stacks[which]
            (workdir / name).mkdir()
            candidates.append((peer, stack))
        # at once: each start is mostly waiting (interpreter start-up, Config.Apply)
        with ThreadPoolExecutor(max_workers=max(1, len(candidates))) as pool:
            errors = list(pool.map(lambda c: _start(c[0], c[1], workdir), candidates))
        for (peer, stack), error in zip(candidates, errors, strict=True):
            if error is not None:
                result["peers"][peer.name] = {"status": "unavailable", "reason": error}
                print(f"{peer.name}: unavailable: {error}", file=sys.stderr)
                continue
            result["peers"][peer.name] = {"status": "ok", "ports": peer.ports}
            size = peer.size()
            if size is not None:
                result["peers"][peer.name].update(processes=size[0], threads=size[1])
            stacks[id(peer)] = stack
            peers.append(peer)
        if not peers:
            raise RuntimeError("no peer could be started")
        ctx = Context(stacks, seconds, quick)
        warmup = next((b for b in BENCHES if b.key == "http_keepalive"), None)
        for peer in peers if not quick else []:  # first connections, code paths, allocations
            if warmup is not None and applies(warmup, peer):
                measure(warmup, peer, Context(stacks, 1.0, quick))
        for round_ in range(rounds):
            for bench in benches:
                order = peers[round_ % len(peers) :] + peers[: round_ % len(peers)]
                for peer in order:
                    if not applies(bench, peer):
                        continue
                    started = time.monotonic()
                    try:
                        if bench.key == "idle_memory":
                            _restart(peer, stacks[id(peer)], workdir)
                        record = measure(bench, peer, ctx)
                    except RuntimeError as e:  # the peer or an origin died
                        record = {"error": str(e)}
                    record.update(bench=bench.key, peer=peer.name, round=round_)
                    result["measurements"].append(record)
                    _progress(record, bench, time.monotonic() - started)
    finally:
        for peer, _ in candidates:
            peer.stop()
        host_stack.stop()
        for ns_stack in ns_stacks.values():
            ns_stack.stop()
        if namespace is not None:
            namespace.close()
        shutil.rmtree(workdir, ignore_errors=True)
    result["loadavg"]["end"] = os.getloadavg()
    result["origin_ports"] = asdict(origin_ports)
    return result


def _origin_ports() -> OriginPorts:
    return OriginPorts(*(free_port(PORTS) for _ in OriginPorts.__slots__))


def _start(peer: Peer, stack: Stack, workdir: Path) -> str | None:
    """Start `peer`; the reason it could not start, or None."""
    try:
        peer.start(stack.ports, workdir / peer.name)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        peer.stop()
        return str(e)
    return None


def _restart(peer: Peer, stack: Stack, workdir: Path) -> None:
    """Stop `peer` and start it again, so a measurement sees a fresh process."""
    peer.stop()
    error = _start(peer, stack, workdir)
    if error is not None:
        raise RuntimeError(f"{peer.name} did not start again: {error}")


def _progress(record: dict[str, Any], bench: Bench, elapsed: float) -> None:
    if "error" in record:
        text = f"error: {record['error']}"
    else:
        text = f"{record['value']:.2f} {bench.unit}"
        for key in bench.extra:
            text += f", {key} {record['extra'][key]:.2f}"
    print(
        f"  round {record['round'] + 1} {bench.key:15} {record['peer']:13} {text} ({elapsed:.1f}s)",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    main()
