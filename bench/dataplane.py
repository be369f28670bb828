"""Data-plane benchmark: the agent against a direct connection, HAProxy and nginx.

    python -m bench.dataplane [--rounds 3] [--seconds 2] [--peers direct,agent,...]
                              [--benches tcp_bulk_1,...] [--results bench/results]

Starts one origin process and every peer at once (each on its own loopback ports),
then measures in rounds, the peers interleaved (A, B, C, A, B, C, ...; the order
rotates each round) so that load from other work on a shared machine falls on all
peers alike. Each measurement is one load-generator process bounded in count and
time. Prints medians and ratios, and writes every measurement to a JSON file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import procs, report
from bench.peers import Agent, Direct, HAProxy, Nginx, Peer, Ports
from tests.ports import free_port

PORTS = range(40000, 45000)
PEERS = ("direct", "agent", "agent-splice", "agent-w2", "haproxy", "nginx")
# not run unless named: HAProxy and nginx with their bulk-transfer settings raised
TUNED_PEERS = ("haproxy-tuned", "nginx-tuned")
LOAD_TIMEOUT = 30.0  # a load process is killed past this (its own limits are far lower)


@dataclass(frozen=True, slots=True)
class Bench:
    key: str
    title: str
    load: str  # bench.load subcommand
    port: str  # which Ports field it targets
    args: tuple[str, ...]
    value: str  # the figure taken from the load output
    unit: str
    higher_is_better: bool
    cpu_unit: str | None  # proxy CPU per unit of work, as printed
    cpu_per: Callable[[dict[str, Any], float], float] | None


def _per_gb(out: dict[str, Any], cpu: float) -> float:
    return cpu / (out["bytes"] / 1e9)


def _us_per_count(out: dict[str, Any], cpu: float) -> float:
    return cpu * 1e6 / out["count"]


BENCHES = (
    Bench("tcp_bulk_1", "TCP bulk, 1 stream", "bulk", "sink", ("--streams", "1"),
          "mb_per_s", "MB/s", True, "CPU s/GB", _per_gb),
    Bench("tcp_bulk_4", "TCP bulk, 4 streams", "bulk", "sink", ("--streams", "4"),
          "mb_per_s", "MB/s", True, "CPU s/GB", _per_gb),
    Bench("tcp_connrate", "TCP new connections (16 B echo, 32 concurrent)", "connrate", "echo",
          ("--concurrency", "32", "--max-count", "100000"),
          "per_s", "conn/s", True, "CPU µs/conn", _us_per_count),
    Bench("udp_rr", "UDP request/response (16 B, 32 flows)", "udp", "udp",
          ("--concurrency", "32", "--max-count", "400000"),
          "per_s", "req/s", True, "CPU µs/req", _us_per_count),
    Bench("tcp_latency", "TCP round trip (64 B, one connection), p50", "latency", "echo",
          ("--max-count", "100000"), "p50_us", "µs", False, None, None),
)  # fmt: skip


def make_peer(name: str, origin: Ports) -> Peer:
    if name == "direct":
        return Direct(origin)
    ports = Ports(free_port(PORTS), free_port(PORTS), free_port(PORTS))
    if name.startswith("agent"):
        flags = {"agent": (), "agent-splice": ("--splice",), "agent-w2": ("--workers", "2")}
        return Agent(ports, free_port(PORTS), name, flags[name])
    if name.startswith("haproxy"):
        return HAProxy(Ports(ports.sink, ports.echo, None), tuned=name == "haproxy-tuned")
    if name.startswith("nginx"):
        return Nginx(ports, tuned=name == "nginx-tuned")
    raise ValueError(name)


def start_origin(ports: Ports) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        procs.python_module(
            "bench.origin", "--sink", str(ports.sink), "--echo", str(ports.echo),
            "--udp", str(ports.udp),
        ),
        stdout=subprocess.PIPE,
        env=procs.python_env(),
    )  # fmt: skip
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 15.0)
    if not ready or proc.stdout.readline().strip() != b"ready":
        procs.stop(proc)
        raise RuntimeError("the origin process did not start")
    return proc


def measure(
    bench: Bench, peer: Peer, seconds: float, origin: subprocess.Popen[bytes]
) -> dict[str, Any]:
    port = getattr(peer.ports, bench.port)
    command = procs.python_module(
        "bench.load", bench.load, "--port", str(port), "--seconds", str(seconds), *bench.args
    )
    cpu_before = peer.cpu_seconds()
    origin_before = procs.tree_cpu_seconds(origin.pid)
    ticks_before = procs.machine_ticks()
    try:
        done = subprocess.run(
            command, capture_output=True, env=procs.python_env(), timeout=LOAD_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return {"error": f"the load generator did not finish within {LOAD_TIMEOUT:g}s"}
    cpu_after = peer.cpu_seconds()
    ticks_after = procs.machine_ticks()
    origin_cpu = procs.tree_cpu_seconds(origin.pid) - origin_before
    peer.check_alive()
    if done.returncode != 0:
        return {"error": done.stderr.decode(errors="replace").strip()[-500:]}
    out = json.loads(done.stdout)
    record: dict[str, Any] = {
        "value": out[bench.value],
        "errors": out.get("errors", 0) + out.get("lost", 0),
        "gen_cpu_s": out["cpu_s"],
        "origin_cpu_s": origin_cpu,
        "machine_idle": (ticks_after[1] - ticks_before[1]) / (ticks_after[0] - ticks_before[0]),
        "seconds": out.get("seconds"),
        "output": out,
    }
    if cpu_before is not None and cpu_after is not None:
        record["proxy_cpu_s"] = cpu_after - cpu_before
        if bench.cpu_per is not None and out.get("count", out.get("bytes")):
            record["cpu_per_unit"] = bench.cpu_per(out, cpu_after - cpu_before)
    return record


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), ""
            )
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "haproxy": _version(["haproxy", "-v"]),
        "nginx": _version(["nginx", "-v"]),
    }


def _version(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).splitlines()[0].strip()


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwind through the finally blocks that stop the children


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dataplane", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="measurements per peer (median)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one measurement")
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help=f"comma-separated, from {', '.join(PEERS + TUNED_PEERS)}",
    )
    parser.add_argument("--benches", default=",".join(b.key for b in BENCHES))
    parser.add_argument("--results", type=Path, default=procs.ROOT / "bench" / "results")
    args = parser.parse_args()
    names = [n for n in args.peers.split(",") if n]
    keys = [k for k in args.benches.split(",") if k]
    unknown = [n for n in names if n not in PEERS + TUNED_PEERS] + [
        k for k in keys if k not in {b.key for b in BENCHES}
    ]
    if unknown:
        parser.error(f"unknown peer or benchmark: {', '.join(unknown)}")
    if not 1 <= args.rounds <= 20 or not 0 < args.seconds <= 10:
        parser.error("--rounds must be 1..20 and --seconds in (0, 10]")
    # SIGINT too: run.sh starts this in the background, where SIGINT starts out ignored
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _terminate)
    benches = [b for b in BENCHES if b.key in keys]
    try:
        result = run(names, benches, args.rounds, args.seconds)
    except RuntimeError as e:
        sys.exit(f"dataplane benchmark: {e}")
    except KeyboardInterrupt:
        sys.exit("dataplane benchmark: interrupted; every process it started is stopped")
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"dataplane-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=1))
    print(report.render_dataplane(result))
    print(f"\nall measurements: {path}")


def run(names: list[str], benches: list[Bench], rounds: int, seconds: float) -> dict[str, Any]:
    result: dict[str, Any] = {
        "kind": "dataplane",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "params": {"rounds": rounds, "seconds": seconds, "peers": names},
        "benches": [
            {k: getattr(b, k) for k in ("key", "title", "unit", "higher_is_better", "cpu_unit")}
            for b in benches
        ],
        "peers": {},
        "measurements": [],
        "loadavg": {"start": os.getloadavg()},
    }
    workdir = Path(tempfile.mkdtemp(prefix="l4plan-bench-"))
    origin_ports = Ports(free_port(PORTS), free_port(PORTS), free_port(PORTS))
    origin = start_origin(origin_ports)
    peers: list[Peer] = []
    try:
        for name in names:
            peer = make_peer(name, origin_ports)
            (workdir / name).mkdir()
            try:
                peer.start(origin_ports, workdir / name)
            except RuntimeError as e:
                peer.stop()
                result["peers"][name] = {"status": "unavailable", "reason": str(e)}
                print(f"{name}: unavailable: {e}", file=sys.stderr)
                continue
            result["peers"][name] = {"status": "ok", "ports": dataclasses.asdict(peer.ports)}
            size = peer.size()
            if size is not None:
                result["peers"][name].update(processes=size[0], threads=size[1])
            peers.append(peer)
        if not peers:
            raise RuntimeError("no peer could be started")
        for peer in peers:  # warm up: first connections, code paths, allocations
            measure(BENCHES[-1], peer, 0.3, origin)
        for round_ in range(rounds):
            for bench in benches:
                order = peers[round_ % len(peers) :] + peers[: round_ % len(peers)]
                for peer in order:
                    if getattr(peer.ports, bench.port) is None:
                        continue
                    started = time.monotonic()
                    try:
                        record = measure(bench, peer, seconds, origin)
                    except RuntimeError as e:  # the peer died
                        record = {"error": str(e)}
                    record.update(bench=bench.key, peer=peer.name, round=round_)
                    result["measurements"].append(record)
                    _progress(record, bench, time.monotonic() - started)
    finally:
        for peer in peers:
            peer.stop()
        procs.stop(origin)
        shutil.rmtree(workdir, ignore_errors=True)
    result["loadavg"]["end"] = os.getloadavg()
    return result


def _progress(record: dict[str, Any], bench: Bench, elapsed: float) -> None:
    if "error" in record:
        text = f"error: {record['error']}"
    else:
        text = f"{record['value']:.1f} {bench.unit}"
    print(
        f"  round {record['round'] + 1} {bench.key:13} {record['peer']:13} {text} ({elapsed:.1f}s)",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    main()
