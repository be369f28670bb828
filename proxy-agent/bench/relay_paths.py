"""Measure the candidate TCP relay paths of the agent on this machine.

    python proxy-agent/bench/relay_paths.py [--mib 512] [--rounds 3] [--conns 2000]

Each candidate relay runs in its own process (uvloop), between a sender process and a
sink process on 127.0.0.1:

- direct:   no relay (the ceiling);
- agent:    the real l4plan-agent (python -m l4agent) with one TCP rule;
- agent-splice: the same with --splice;
- protocol: asyncio Protocol, data_received() -> peer.write(bytes)  (what the agent ships);
- buffered: asyncio BufferedProtocol, recv into a fresh bytearray, write a memoryview;
- splice:   raw non-blocking sockets, os.splice() socket -> pipe -> socket driven by
            loop.add_reader/add_writer (zero-copy in the kernel).

It prints bulk throughput (MiB/s, best of --rounds), the relay process's CPU time per
GiB relayed (user + system, best of --rounds: much less sensitive than wall-clock
figures to other load on a shared machine), and the connection rate (new connections
per second through the relay, each carrying 1 byte each way). Numbers are for
docs/agent.md, "Zero-copy: what was measured".
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import socket
import subprocess
import sys
import tempfile
import time

CHUNK = 1 << 20
PIPE_SIZE = 1 << 20


# ---- relays ------------------------------------------------------------------------


class _Side(asyncio.Protocol):
    def __init__(self, peer: _Side | None = None) -> None:
        self.peer = peer
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.peer.transport.write(data)  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        self.peer.transport.write_eof()  # type: ignore[union-attr]
        return True

    def pause_writing(self) -> None:
        self.peer.transport.pause_reading()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        self.peer.transport.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


class _BufferedSide(_Side, asyncio.BufferedProtocol):
    def get_buffer(self, sizehint: int) -> memoryview:
        self.buf = bytearray(262144)
        return memoryview(self.buf)

    def buffer_updated(self, nbytes: int) -> None:
        self.peer.transport.write(memoryview(self.buf)[:nbytes])  # type: ignore[union-attr]


def _client_factory(kind: type[_Side], origin: int):  # type: ignore[no-untyped-def]
    class Client(kind):  # type: ignore[misc, valid-type]
        early: list[bytes] = []

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            transport.pause_reading()  # type: ignore[attr-defined]
            asyncio.get_running_loop().create_task(self.connect())

        def data_received(self, data: bytes) -> None:
            if self.peer is None:  # uvloop reads once before the pause takes effect
                self.early = [*self.early, bytes(data)]
                self.transport.pause_reading()  # type: ignore[union-attr]
            else:
                super().data_received(data)

        def buffer_updated(self, nbytes: int) -> None:
            if self.peer is None:
                self.early = [*self.early, bytes(self.buf[:nbytes])]
                self.transport.pause_reading()  # type: ignore[union-attr]
            else:
                super().buffer_updated(nbytes)  # type: ignore[misc]

        async def connect(self) -> None:
            loop = asyncio.get_running_loop()
            _, other = await loop.create_connection(lambda: kind(self), "127.0.0.1", origin)
            self.peer = other
            for t in (self.transport, other.transport):
                t.set_write_buffer_limits(1 << 20, 256 << 10)
            for data in self.early:
                other.transport.write(data)
            self.transport.resume_reading()  # type: ignore[union-attr]

    return Client


class _Splice:
    """One direction: src socket -> pipe -> dst socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop, src: socket.socket, dst: socket.socket):
        self.loop, self.src, self.dst = loop, src, dst
        self.r, self.w = os.pipe2(os.O_NONBLOCK)
        import fcntl

        fcntl.fcntl(self.w, 1031, PIPE_SIZE)  # F_SETPIPE_SZ
        self.in_pipe = 0
        loop.add_reader(src.fileno(), self.readable)

    def readable(self) -> None:
        try:
            n = os.splice(self.src.fileno(), self.w, PIPE_SIZE, flags=os.SPLICE_F_MOVE | 2)
        except BlockingIOError:
            return
        if n == 0:
            self.loop.remove_reader(self.src.fileno())
            self.dst.shutdown(socket.SHUT_WR)
            return
        self.in_pipe += n
        self.flush()

    def flush(self) -> None:
        while self.in_pipe:
            try:
                n = os.splice(self.r, self.dst.fileno(), self.in_pipe, flags=os.SPLICE_F_MOVE | 2)
            except BlockingIOError:
                self.loop.remove_reader(self.src.fileno())
                self.loop.add_writer(self.dst.fileno(), self.writable)
                return
            self.in_pipe -= n

    def writable(self) -> None:
        self.loop.remove_writer(self.dst.fileno())
        self.flush()
        if not self.in_pipe:
            self.loop.add_reader(self.src.fileno(), self.readable)


async def _splice_relay(listen: int, origin: int) -> None:
    loop = asyncio.get_running_loop()
    server = socket.create_server(("127.0.0.1", listen), backlog=4096)
    server.setblocking(False)
    while True:
        client, _ = await loop.sock_accept(server)
        client.setblocking(False)
        upstream = socket.socket()
        upstream.setblocking(False)
        try:
            await loop.sock_connect(upstream, ("127.0.0.1", origin))
        except OSError as e:
            if e.errno != errno.EINPROGRESS:
                client.close()
                continue
        _Splice(loop, client, upstream)
        _Splice(loop, upstream, client)


def run_relay(kind: str, listen: int, origin: int) -> None:
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        if kind == "splice":
            await _splice_relay(listen, origin)
            return
        side = _Side if kind == "protocol" else _BufferedSide
        factory = _client_factory(side, origin)
        server = await loop.create_server(factory, "127.0.0.1", listen, backlog=4096)
        await server.serve_forever()

    uvloop.run(main())


# ---- load ---------------------------------------------------------------------------


def run_sink(port: int) -> None:
    """Accept forever; read each connection to EOF, echo 1 byte for tiny connections."""
    server = socket.create_server(("127.0.0.1", port), backlog=4096)
    buf = bytearray(CHUNK)
    while True:
        conn, _ = server.accept()
        with conn:
            total = 0
            while n := conn.recv_into(buf):
                total += n
                if total == 1:
                    conn.sendall(b"y")
            conn.sendall(b"%d" % total if total > 1 else b"")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bulk(port: int, mib: int, relay_pid: int | None) -> tuple[float, float]:
    """(MiB/s, relay CPU seconds per GiB) for one transfer of `mib` MiB."""
    payload = b"\0" * CHUNK
    cpu = cpu_seconds(relay_pid) if relay_pid else 0.0
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as s:
        for _ in range(mib):
            s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        assert int(s.recv(100)) == mib * CHUNK
    elapsed = time.perf_counter() - started
    cpu = (cpu_seconds(relay_pid) - cpu) if relay_pid else 0.0
    return mib / elapsed, cpu * 1024 / mib


def connection_rate(port: int, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"x")
            assert s.recv(1) == b"y"
            s.shutdown(socket.SHUT_WR)
            s.recv(10)
    return count / (time.perf_counter() - started)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, *args])


def _spawn_agent(listen: int, origin: int, state_dir: str, *flags: str) -> subprocess.Popen[bytes]:
    """The real agent's relay with one rule listen -> origin (the l4agent package must be
    importable)."""
    import json
    import urllib.request

    control = _free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "l4agent", "--control", f"127.0.0.1:{control}"),
            *("--state-dir", state_dir, "--bind", "127.0.0.1", "--log-level", "warning"),
            # the relay, in one process (its CPU is the one measured), and no nftables
            # table on the host: a rule without a header would take the kernel path
            *("--workers", "1", "--fast-path", "off"),
            *flags,
        ]
    )
    spec = {
        "rules": [
            {
                "protocol": "tcp",
                "edge_ports": [[listen, listen]],
                "origin_ports": [origin, origin],
                "origin": {"type": "ip", "targets": [{"host": "127.0.0.1"}]},
            }
        ]
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "Config.Apply",
        "params": {"upsert": [{"name": "bench.example.com", "spec": spec}], "request_id": "b"},
    }
    for _ in range(100):
        time.sleep(0.1)
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{control}/rpc", data=json.dumps(body).encode()
            )
            with urllib.request.urlopen(request) as response:
                assert "result" in json.loads(response.read())
            return proc
        except OSError:
            continue
    raise RuntimeError("the agent did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conns", type=int, default=2000)
    parser.add_argument("role", nargs="*")
    args = parser.parse_args()
    if args.role:
        if args.role[0] == "sink":
            run_sink(int(args.role[1]))
        else:
            run_relay(args.role[1], int(args.role[2]), int(args.role[3]))
        return
    origin = _free_port()
    sink = _spawn("sink", str(origin))
    time.sleep(0.3)
    print(f"{'path':12} {'MiB/s':>8} {'cpu s/GiB':>10} {'conn/s':>8}")
    try:
        kinds = ("direct", "agent", "agent-splice", "protocol", "buffered", "splice")
        for kind in kinds:
            relay = None
            port = origin
            if kind.startswith("agent"):
                port = _free_port()
                flags = ("--splice",) if kind == "agent-splice" else ()
                relay = _spawn_agent(port, origin, tempfile.mkdtemp(), *flags)
            elif kind != "direct":
                port = _free_port()
                relay = _spawn("relay", kind, str(port), str(origin))
                time.sleep(0.5)
            try:
                pid = relay.pid if relay is not None else None
                runs = [bulk(port, args.mib, pid) for _ in range(args.rounds)]
                rate = max(r for r, _ in runs)
                cpu = min(c for _, c in runs)
                conns = connection_rate(port, args.conns) if kind != "direct" else 0.0
            finally:
                if relay is not None:
                    relay.kill()
                    relay.wait()
            print(f"{kind:12} {rate:8.0f} {cpu:10.2f} {conns:8.0f}", flush=True)
    finally:
        sink.kill()
        sink.wait()


if __name__ == "__main__":
    main()
