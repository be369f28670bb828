"""Load generators, each run in its own process; each prints one JSON object.

    python -m bench.load bulk     --port P [--streams N] [--seconds S] [--max-mb M]
    python -m bench.load udp      --port P [--concurrency N] [--seconds S] [--max-count C]
    python -m bench.load hold     --port P [--seconds S] [--max-count C]

Every loop stops at whichever comes first, its count or its time. Targets are
127.0.0.1 only. `cpu_s` in the output is this generator's own CPU time, so a run can
show that the generator was not the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import sys
import threading
import time
from typing import Any

import uvloop

HOST = "127.0.0.1"
CHUNK = 1 << 20
SMALL = b"l4plan-bench-req"  # 16 bytes: one request of the connection and UDP benchmarks
GRACE = 5.0  # seconds past the time limit before unfinished work is abandoned


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---- TCP bulk -------------------------------------------------------------------------


def bulk(port: int, streams: int, seconds: float, max_mb: int) -> dict[str, Any]:
    """`streams` parallel connections each send until the time or their share of the
    byte budget is used, then half-close and wait for the sink's byte count, so the
    figure counts only bytes that arrived."""
    per_stream = max_mb * 1_000_000 // streams // CHUNK
    payload = bytes(CHUNK)
    results: list[tuple[int, int]] = []  # (sent, acknowledged by the sink)
    errors: list[str] = []
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds

    def stream() -> None:
        sent = 0
        try:
            with socket.create_connection((HOST, port), timeout=seconds + GRACE) as s:
                for _ in range(per_stream):
                    s.sendall(payload)
                    sent += CHUNK
                    if time.perf_counter() >= deadline:
                        break
                s.shutdown(socket.SHUT_WR)
                answer = b""
                while chunk := s.recv(64):
                    answer += chunk
            with lock:
                results.append((sent, int(answer or b"0")))
        except (OSError, ValueError) as e:
            with lock:
                errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=stream) for _ in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    delivered = sum(acked for _, acked in results)
    short = sum(1 for sent, acked in results if acked != sent)
    return {
        "bytes": delivered,
        "seconds": elapsed,
        "mb_per_s": delivered / elapsed / 1e6,
        "errors": len(errors) + short,
        "error_sample": errors[:3],
        "cpu_s": _cpu_seconds(),
    }


# ---- UDP request/response -------------------------------------------------------------


class _UdpFlow(asyncio.DatagramProtocol):
    """One client address: sends a numbered request, waits for its echo, sends the next.
    A request not answered within `LOSS_TIMEOUT` is counted lost and replaced; a late
    echo of a replaced request is ignored."""

    LOSS_TIMEOUT = 0.2

    def __init__(self, stats: dict[str, int], deadline: float, max_count: int) -> None:
        self.stats = stats
        self.deadline = deadline
        self.max_count = max_count
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.timer: asyncio.TimerHandle | None = None
        self.seq = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        if self.stats["sent"] >= self.max_count or time.perf_counter() >= self.deadline:
            if not self.finished.done():
                self.finished.set_result(None)
            return
        self.stats["sent"] += 1
        self.seq += 1
        self.transport.sendto(self.seq.to_bytes(8, "big") + SMALL[8:])
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.LOSS_TIMEOUT, self._lost)

    def _lost(self) -> None:
        self.stats["lost"] += 1
        self._send()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if int.from_bytes(data[:8], "big") != self.seq:
            return  # the echo of a request already counted lost
        if self.timer is not None:
            self.timer.cancel()
        self.stats["replies"] += 1
        self._send()

    def error_received(self, exc: Exception) -> None:
        self.stats["errors"] += 1


async def _udp(port: int, concurrency: int, seconds: float, max_count: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    stats = {"sent": 0, "replies": 0, "lost": 0, "errors": 0}
    started = time.perf_counter()
    flows: list[_UdpFlow] = []
    transports = []
    for _ in range(concurrency):
        transport, flow = await loop.create_datagram_endpoint(
            lambda: _UdpFlow(stats, started + seconds, max_count), remote_addr=(HOST, port)
        )
        transports.append(transport)
        flows.append(flow)
    await asyncio.wait([f.finished for f in flows], timeout=seconds + GRACE)
    elapsed = time.perf_counter() - started
    for transport in transports:
        transport.close()
    return {
        "count": stats["replies"],
        "seconds": elapsed,
        "per_s": stats["replies"] / elapsed,
        "lost": stats["lost"],
        "errors": stats["errors"],
        "cpu_s": _cpu_seconds(),
    }


# ---- idle connections held open -------------------------------------------------------


async def _hold(port: int, seconds: float, max_count: int) -> None:
    """Open `max_count` connections (at most 100 connecting at once), exchange 16 B on
    each so that the proxy's connection to the origin exists too, print one JSON line,
    then keep them idle until stdin closes or `seconds` have passed."""
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    gate = asyncio.Semaphore(100)
    held: list[asyncio.StreamWriter] = []
    errors: list[str] = []

    async def one() -> None:
        async with gate:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), GRACE)
                writer.write(SMALL)
                await asyncio.wait_for(reader.readexactly(len(SMALL)), GRACE)
                held.append(writer)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as e:
                errors.append(f"{type(e).__name__}: {e}")

    tasks = [asyncio.create_task(one()) for _ in range(max_count)]
    await asyncio.wait(tasks, timeout=seconds)
    for task in tasks:
        task.cancel()
    report = {
        "held": len(held),
        "seconds": time.perf_counter() - started,
        "errors": max_count - len(held),
        "error_sample": errors[:3],
        "cpu_s": _cpu_seconds(),
    }
    print(json.dumps(report), flush=True)
    released: asyncio.Future[None] = loop.create_future()
    # readable at EOF: the driver closes our stdin once it has read the memory figure
    loop.add_reader(sys.stdin.fileno(), lambda: released.done() or released.set_result(None))
    await asyncio.wait([released], timeout=seconds)
    loop.remove_reader(sys.stdin.fileno())
    for writer in held:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    sub = parser.add_subparsers(dest="kind", required=True)
    for kind in ("bulk", "udp", "hold"):
        p = sub.add_parser(kind)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--seconds", type=float, default=2.0)
        if kind == "bulk":
            p.add_argument("--streams", type=int, default=1)
            p.add_argument("--max-mb", type=int, default=8000)
        else:
            p.add_argument("--max-count", type=int, default=50_000)
        if kind == "udp":
            p.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if not 0 < args.seconds <= (30 if args.kind == "hold" else 10):
        parser.error("--seconds must be in (0, 10], or (0, 30] for hold")
    try:
        if args.kind == "bulk":
            result = bulk(args.port, args.streams, args.seconds, args.max_mb)
        elif args.kind == "hold":
            _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.max_count + 100), hard))
            uvloop.run(_hold(args.port, args.seconds, args.max_count))
            return
        else:
            result = uvloop.run(_udp(args.port, args.concurrency, args.seconds, args.max_count))
    except OSError as e:
        sys.exit(f"load {args.kind} on {HOST}:{args.port}: {e}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
