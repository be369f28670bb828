"""What the data-plane benchmark measures: each benchmark's tool, unit and CPU figure,
and which peers it applies to (the method is in docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench import tools
from bench.peers import Peer

UDP_64_RATE = 20_000  # datagrams/s: below what iperf3 sends and receives directly here
UDP_1200_RATE = 10_000
Runner = Callable[[int, float, Sequence[str]], tools.Outcome]
BENCH_FIELDS = ("key", "title", "unit", "higher_is_better", "cpu_unit", "extra", "fixed_rate")


@dataclass(frozen=True, slots=True)
class Bench:
    key: str
    title: str
    service: str  # which peer port it targets
    unit: str
    higher_is_better: bool
    cpu_unit: str | None  # proxy CPU per unit of work, as printed
    cpu_scale: float  # CPU seconds / work * cpu_scale = the printed figure
    extra: tuple[str, ...] = ()  # Outcome.extra keys shown as columns
    needs_udp: bool = False
    fixed_rate: bool = False  # offered load is fixed: equal rates are by design
    only: tuple[str, ...] | None = None  # the peers it is run for, None: all that can


# idle_memory is measured on a freshly started process in every round (bench.dataplane.run), so
# each round sees a heap that no earlier load has grown
BENCHES = (
    Bench("idle_memory", "Memory per idle proxied connection", "echo", "KiB/conn", False,
          None, 1.0, ("held",)),
    Bench("iperf_tcp_1", "iperf3 TCP, 1 stream", "iperf", "Gbit/s", True, "CPU s/GB", 1.0),
    Bench("iperf_tcp_4", "iperf3 TCP, 4 streams", "iperf", "Gbit/s", True, "CPU s/GB", 1.0),
    Bench("iperf_udp_64", f"iperf3 UDP, 64 B datagrams at {UDP_64_RATE:,}/s", "iperf",
          "k/s delivered", True, "CPU µs/datagram", 1e6, ("loss_pct",), needs_udp=True,
          fixed_rate=True),
    Bench("iperf_udp_1200", f"iperf3 UDP, 1200 B datagrams at {UDP_1200_RATE:,}/s", "iperf",
          "k/s delivered", True, "CPU µs/datagram", 1e6, ("loss_pct",), needs_udp=True,
          fixed_rate=True),
    Bench("http_close", "wrk, new connections (Connection: close, 32 concurrent)", "http",
          "conn/s", True, "CPU µs/conn", 1e6, ("p99_ms",)),
    Bench("http_keepalive", "wrk, keep-alive requests (32 connections)", "http",
          "req/s", True, "CPU µs/req", 1e6, ("p99_ms",)),
    Bench("udp_rr", "UDP request/response, 16 B (bench.load: 3 processes x 16 flows)", "udp",
          "req/s", True, "CPU µs/req", 1e6, needs_udp=True),
    Bench("bulk_pp2", "TCP bulk, 1 stream (bench.load; PROXY v2 on vs off)", "sink",
          "Gbit/s", True, "CPU s/GB", 1.0, only=("direct", "agent", "agent-pp2")),
)  # fmt: skip


def runner(bench: Bench, peer: Peer, quick: bool) -> Runner:
    factories: dict[str, Callable[[], Runner]] = {
        "iperf_tcp_1": lambda: tools.iperf_tcp(1),
        "iperf_tcp_4": lambda: tools.iperf_tcp(4),
        "iperf_udp_64": lambda: tools.iperf_udp(64, UDP_64_RATE),
        "iperf_udp_1200": lambda: tools.iperf_udp(1200, UDP_1200_RATE),
        "http_close": lambda: tools.wrk(close=True),
        "http_keepalive": lambda: tools.wrk(close=False),
        "udp_rr": lambda: tools.udp_rr(processes=3, flows=16),
        "bulk_pp2": lambda: tools.bulk_own(1),
        "idle_memory": lambda: tools.idle_memory(1000 if quick else 5000, peer.memory_kib),
    }
    return factories[bench.key]()


def applies(bench: Bench, peer: Peer) -> bool:
    if bench.only is not None and peer.name not in bench.only:
        return False
    if bench.key == "idle_memory" and peer.proc is None:
        return False  # direct: no proxy process
    return bench.service in peer.services and (peer.udp or not bench.needs_udp)
