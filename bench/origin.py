"""The origin every peer forwards to, in its own process:

- a TCP sink: reads each connection to EOF, then answers the byte count in ASCII
  (blocking sockets, a thread per connection, one reused receive buffer each: the
  cheapest way to absorb bulk bytes in Python, so the sink is not the bottleneck);
- a TCP echo server and a UDP echo server on uvloop (Protocols, no per-message tasks).

    python -m bench.origin --sink PORT --echo PORT --udp PORT

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


def _sink_connection(conn: socket.socket) -> None:
    buf = bytearray(SINK_BUFFER)
    total = 0
    with conn, contextlib.suppress(OSError):
        while n := conn.recv_into(buf):
            total += n
        conn.sendall(b"%d" % total)


def _sink_accept(server: socket.socket) -> None:
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_sink_connection, args=(conn,), daemon=True).start()


class _TcpEcho(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool:
        return False  # close once the peer has finished sending


class _UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)


async def _serve(sink: socket.socket, echo_port: int, udp_port: int) -> None:
    loop = asyncio.get_running_loop()
    echo = await loop.create_server(_TcpEcho, HOST, echo_port, backlog=4096, reuse_address=True)
    await loop.create_datagram_endpoint(_UdpEcho, local_addr=(HOST, udp_port))
    threading.Thread(target=_sink_accept, args=(sink,), daemon=True).start()
    print("ready", flush=True)
    await echo.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.origin")
    parser.add_argument("--sink", type=int, required=True, help="TCP sink port")
    parser.add_argument("--echo", type=int, required=True, help="TCP echo port")
    parser.add_argument("--udp", type=int, required=True, help="UDP echo port")
    args = parser.parse_args()
    try:
        sink = socket.create_server((HOST, args.sink), backlog=4096)
    except OSError as e:
        sys.exit(f"origin: cannot bind TCP {HOST}:{args.sink}: {e.strerror}")
    try:
        uvloop.run(_serve(sink, args.echo, args.udp))
    except OSError as e:
        sys.exit(f"origin: cannot bind echo {HOST}:{args.echo} or UDP {HOST}:{args.udp}: {e}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
