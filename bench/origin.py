"""The Python origin the own load generators talk to, in its own process:

- a TCP sink: reads each connection to EOF, then answers the byte count in ASCII
  (blocking sockets, a thread per connection, one reused receive buffer each: the
  cheapest way to absorb bulk bytes in Python, so the sink is not the bottleneck);
- a TCP echo server and a UDP echo server on uvloop (Protocols, no per-message tasks);
- with `--sink-pp` / `--udp-pp`: the same sink and UDP echo behind a PROXY v2 header
  (per connection, per datagram), which they check and strip: the origin of a peer
  that sends PROXY v2. The header is parsed here, not with the agent's own code, so a
  wrong header from the agent fails the measurement instead of passing unseen.

    python -m bench.origin --sink PORT --echo PORT --udp PORT [--sink-pp PORT --udp-pp PORT]

Prints "ready" once every socket is bound; runs until terminated. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import threading

import uvloop

HOST = "127.0.0.1"
SINK_BUFFER = 1 << 20
PP2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PP2_FIXED = 16  # signature, version/command, family/protocol, length


def pp2_length(data: bytes | bytearray | memoryview) -> int | None:
    """The length of the PROXY v2 header at the start of `data`, None while incomplete.
    Raises ValueError if `data` does not start with one (version 2, command PROXY)."""
    head = bytes(data[:PP2_FIXED])
    if head[:12] != PP2_SIGNATURE[: len(head[:12])] or (len(head) > 12 and head[12] != 0x21):
        raise ValueError("not a PROXY v2 header")
    if len(head) < PP2_FIXED:
        return None
    total = PP2_FIXED + int.from_bytes(head[14:16], "big")
    return total if len(data) >= total else None


def _sink_connection(conn: socket.socket, proxy_header: bool) -> None:
    buf = bytearray(SINK_BUFFER)
    total = 0
    with conn, contextlib.suppress(OSError, ValueError):
        if proxy_header:  # the header's bytes are not payload: count what follows it
            got = 0
            while (length := pp2_length(memoryview(buf)[:got])) is None:
                n = conn.recv_into(memoryview(buf)[got:])
                if not n:
                    return
                got += n
            total = got - length
        while n := conn.recv_into(buf):
            total += n
        conn.sendall(b"%d" % total)


def _sink_accept(server: socket.socket, proxy_header: bool) -> None:
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_sink_connection, args=(conn, proxy_header), daemon=True).start()


class _TcpEcho(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool:
        return False  # close once the peer has finished sending


class _UdpEcho(asyncio.DatagramProtocol):
    def __init__(self, proxy_header: bool) -> None:
        self.proxy_header = proxy_header

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.proxy_header:
            try:
                length = pp2_length(data)
            except ValueError:
                return  # no reply: the generator counts the request lost
            if length is None:
                return
            data = data[length:]
        self.transport.sendto(data, addr)


async def _serve(
    sinks: list[tuple[socket.socket, bool]], echo: int, udps: list[tuple[int, bool]]
) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_TcpEcho, HOST, echo, backlog=4096, reuse_address=True)
    for port, proxy_header in udps:
        await loop.create_datagram_endpoint(
            lambda p=proxy_header: _UdpEcho(p), local_addr=(HOST, port)
        )
    for sock, proxy_header in sinks:
        threading.Thread(target=_sink_accept, args=(sock, proxy_header), daemon=True).start()
    print("ready", flush=True)
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.origin")
    parser.add_argument("--sink", type=int, required=True, help="TCP sink port")
    parser.add_argument("--echo", type=int, required=True, help="TCP echo port")
    parser.add_argument("--udp", type=int, required=True, help="UDP echo port")
    parser.add_argument("--sink-pp", type=int, help="TCP sink port behind PROXY v2")
    parser.add_argument("--udp-pp", type=int, help="UDP echo port behind PROXY v2")
    args = parser.parse_args()
    sinks = []
    for port, proxy_header in ((args.sink, False), (args.sink_pp, True)):
        if port is None:
            continue
        try:
            sinks.append((socket.create_server((HOST, port), backlog=4096), proxy_header))
        except OSError as e:
            sys.exit(f"origin: cannot bind TCP {HOST}:{port}: {e.strerror}")
    udps = [(p, pp) for p, pp in ((args.udp, False), (args.udp_pp, True)) if p is not None]
    try:
        uvloop.run(_serve(sinks, args.echo, udps))
    except OSError as e:
        sys.exit(f"origin: cannot bind echo {HOST}:{args.echo} or a UDP port: {e}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
