"""The agent tests' one harness: the agent as a real subprocess with raw HTTP and RPC
helpers, application specs, clients, and origins — echo origins served by an asyncio
loop in a background thread, and origins in threads that read client-IP headers with
the independent reference reader (tests/agent_features/pp_reference.py), never with
the agent's own code."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from l4plan.agents.client import AgentClient
from l4plan.agents.errors import AgentError
from tests.agent_features import pp_reference as ref
from tests.ports import AGENT_CORE, free_block, free_port

ROOT = Path(__file__).resolve().parents[2]
BIND_FLAGS = ("--bind", "127.0.0.1", "--bind", "::1")


def port() -> int:
    return free_port(AGENT_CORE)


def block(size: int) -> int:
    return free_block(AGENT_CORE, size)


class Agent:
    """`python -m l4agent` on 127.0.0.1 with listeners on loopback addresses only."""

    def __init__(
        self,
        state_dir: Path,
        *flags: str,
        token: str | None = None,
        control_port: int = 0,
        ca_file: str | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.flags = flags
        self.token = token
        self.ca_file = ca_file  # given: the control API speaks TLS
        self.control_port = control_port or port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = state_dir.parent / f"{state_dir.name}.log"
        self.client = self.new_client()

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.ca_file else "http"
        return f"{scheme}://127.0.0.1:{self.control_port}"

    def new_client(self, timeout: float = 10.0, retries: int = 3) -> AgentClient:
        return AgentClient(
            self.endpoint, token=self.token, ca_file=self.ca_file, timeout=timeout, retries=retries
        )

    def command(self) -> list[str]:
        flags = list(self.flags)
        if self.token is not None and "--token-file" not in flags:
            token_file = self.state_dir.parent / f"{self.state_dir.name}.token"
            token_file.write_text(self.token + "\n")
            flags += ["--token-file", str(token_file)]
        if "--bind" not in flags:
            flags += BIND_FLAGS
        return [
            sys.executable,
            "-m",
            "l4agent",
            "--control",
            f"127.0.0.1:{self.control_port}",
            "--state-dir",
            str(self.state_dir),
            *flags,
        ]

    def start(self, timeout: float = 20.0) -> Agent:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "proxy-agent")])
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + timeout
        probe = self.new_client(timeout=1.0, retries=0)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(AgentError):
                if probe.health()["status"] == "SERVING":
                    probe.close()
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"agent not serving after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except FileNotFoundError:
            return ""

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if the agent has not exited within 10 s."""
        self.client.close()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9 (and reap) the agent and its worker processes."""
        self.client.close()
        if self.proc is None:
            return
        for pid in _children(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    # ---- RPC helpers -------------------------------------------------------------

    def apply(
        self,
        upsert: dict[str, dict[str, Any]] | None = None,
        delete: list[str] | None = None,
        *,
        expected_revision: int | None = None,
        request_id: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        return self.client.apply(
            expected_revision=expected_revision,
            upsert=[{"name": n, "spec": s} for n, s in (upsert or {}).items()],
            delete=delete or [],
            request_id=request_id or str(uuid.uuid4()),
            dry_run=dry_run,
        )

    def post(
        self,
        body: bytes,
        headers: dict[str, str] | None = None,
        path: str = "/rpc",
        timeout: float = 10.0,
    ) -> tuple[int, Any]:
        """Raw HTTP POST; (status, decoded JSON body or None)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=timeout)
        try:
            all_headers = {"Content-Type": "application/json"}
            if self.token is not None:
                all_headers["Authorization"] = f"Bearer {self.token}"
            all_headers.update(headers or {})
            conn.request("POST", path, body=body, headers=all_headers)
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            conn.close()

    def status(self, name: str) -> dict[str, Any]:
        """`Status.Get` of one application."""
        [status] = self.client.status([name])["apps"]
        return status  # type: ignore[no-any-return]

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """Raw HTTP GET: (status, headers, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=10)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def rpc(self, method: str, params: Any = None, **headers: str) -> dict[str, Any]:
        """One raw JSON-RPC call; returns the whole response object."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            message["params"] = params
        _, body = self.post(json.dumps(message).encode(), headers)
        return body  # type: ignore[no-any-return]


def _children(pid: int) -> list[int]:
    try:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return []
    return [int(x) for x in out.split()]


# ---- application specs -----------------------------------------------------------


def rule(
    protocol: str,
    edge: list[list[int]] | int,
    origin_ports: list[int] | int | None = None,
    *,
    host: str = "127.0.0.1",
    passthrough: str = "off",
) -> dict[str, Any]:
    if isinstance(edge, int):
        edge = [[edge, edge]]
    if isinstance(origin_ports, int):
        origin_ports = [origin_ports, origin_ports]
    return {
        "protocol": protocol,
        "edge_ports": edge,
        "origin_ports": origin_ports,
        "passthrough": passthrough,
        "origin": {
            "type": "ip" if _is_ip(host) else "domain",
            "steering": "weighted",
            "targets": [{"host": host, "weight": 1}],
            "health_check": None,
        },
        "comment": None,
    }


def app(*rules: dict[str, Any], ipv6: bool = False, keepalive: bool = False) -> dict[str, Any]:
    return {"ipv6": ipv6, "keepalive": keepalive, "acl": None, "rules": list(rules)}


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


# ---- clients -----------------------------------------------------------------------


def tcp_roundtrip(port: int, payload: bytes, host: str = "127.0.0.1", timeout: float = 5) -> bytes:
    """Send `payload`, half-close, read until EOF."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return recv_all(s)


def recv_all(s: socket.socket) -> bytes:
    chunks = []
    while chunk := s.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def udp_roundtrip(
    port: int, payload: bytes, host: str = "127.0.0.1", timeout: float = 3, source: int = 0
) -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        if source:
            s.bind((host, source))
        s.sendto(payload, (host, port))
        return s.recvfrom(65535)[0]


def refused(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a new TCP connection to `port` is refused. A reset while connecting
    means a listener closed with the connection in its accept queue: not refused yet,
    so a caller waiting for the refusal (`wait_until`) tries again."""
    try:
        socket.create_connection((host, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False
    return False


def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Whether `predicate()` became true within `timeout` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- origins -------------------------------------------------------------------------


class _TcpEcho(asyncio.Protocol):
    """Echoes everything; with `tag`, first sends b"port=N\\n" (its local port). When the
    client half-closes it sends `eof_marker` (after the echo) and closes its write side."""

    def __init__(self, tag: bool, eof_marker: bytes) -> None:
        self.tag = tag
        self.eof_marker = eof_marker

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if self.tag:
            port = transport.get_extra_info("sockname")[1]
            transport.write(f"port={port}\n".encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]

    def eof_received(self) -> bool:
        if self.eof_marker:
            self.transport.write(self.eof_marker)  # type: ignore[attr-defined]
        self.transport.write_eof()  # type: ignore[attr-defined]
        return True


class _UdpEcho(asyncio.DatagramProtocol):
    """Replies b"<port>|" + datagram to the sender."""

    def __init__(self, port: int) -> None:
        self.prefix = f"{port}|".encode()
        self.senders: set[tuple[str, int]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.senders.add(addr[:2])
        self.transport.sendto(self.prefix + data, addr)  # type: ignore[attr-defined]


class Origins:
    """Echo origins on loopback, run by an asyncio loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._closers: list[Any] = []
        self.udp: dict[tuple[str, int], _UdpEcho] = {}

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def tcp(
        self, port: int, host: str = "127.0.0.1", *, tag: bool = False, eof_marker: bytes = b""
    ) -> Any:
        async def start() -> asyncio.AbstractServer:
            return await self.loop.create_server(
                lambda: _TcpEcho(tag, eof_marker), host, port, reuse_address=True
            )

        server = self._run(start())
        self._closers.append(server.close)
        return server

    def udp_echo(self, port: int, host: str = "127.0.0.1") -> _UdpEcho:
        async def start() -> _UdpEcho:
            _, protocol = await self.loop.create_datagram_endpoint(
                lambda: _UdpEcho(port), local_addr=(host, port)
            )
            return protocol

        protocol = self._run(start())
        self._closers.append(protocol.transport.close)
        self.udp[(host, port)] = protocol
        return protocol

    def close(self) -> None:
        for close in self._closers:
            self.loop.call_soon_threadsafe(close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


# ---- origins that read client-IP headers, and their clients --------------------------


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class TcpOrigin:
    """A TCP origin. It optionally reads a PROXY header first (recorded in `headers`),
    then either echoes or, with `name`, answers every connection with its name."""

    def __init__(self, host: str, port: int, *, proxy_header: bool = False, name: str = "") -> None:
        self.host, self.port = host, port
        self.proxy_header = proxy_header
        self.name = name.encode()
        self.headers: list[ref.Parsed] = []
        self.errors: list[str] = []
        self.accepted = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> TcpOrigin:
        sock = socket.socket(family_of(self.host), socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, args=(sock,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: new connections are refused (as when the process dies)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _accept_loop(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with conn:
            try:
                if self.proxy_header:
                    self.headers.append(ref.read_proxy_header(conn))
                if self.name:
                    conn.sendall(self.name)
                    return
                while data := conn.recv(65536):
                    conn.sendall(data)
            except (OSError, ref.SpecViolation) as e:
                self.errors.append(repr(e))


class UdpOrigin:
    """A UDP origin that parses each datagram's header (v2 or SPP) with the reference
    reader and answers with the payload; with `echo_spp` the reply carries the SPP
    header back, as some SPP origins do."""

    def __init__(
        self, host: str, port: int, *, header: str = "off", echo_spp: bool = False
    ) -> None:
        self.host, self.port = host, port
        self.header = header  # off | proxy_v2 | spp
        self.echo_spp = echo_spp
        self.received: list[bytes] = []
        self.headers: list[Any] = []
        self.errors: list[str] = []
        self._sock = socket.socket(family_of(host), socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> UdpOrigin:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                datagram, peer = self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append(datagram)
            try:
                if self.header == "proxy_v2":
                    parsed = ref.parse_v2(datagram)
                    self.headers.append(parsed)
                    reply = datagram[parsed.size :]
                elif self.header == "spp":
                    client, proxy, payload = ref.parse_spp(datagram)
                    self.headers.append((client, proxy))
                    reply = datagram if self.echo_spp else payload
                else:
                    reply = datagram
            except ref.SpecViolation as e:
                self.errors.append(repr(e))
                continue
            self._sock.sendto(reply, peer)


def tcp_exchange(
    dest: tuple[str, int], payload: bytes, *, source: str | None = None, timeout: float = 5.0
) -> tuple[bytes, tuple[str, int]]:
    """Connect (from `source` when given), send, half-close, read to EOF.

    Returns what came back and the client's own address."""
    with socket.socket(family_of(dest[0]), socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        if source is not None:
            s.bind((source, 0))
        s.connect(dest)
        local = s.getsockname()[:2]
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks), local


def tcp_refused(dest: tuple[str, int], *, source: str) -> bool:
    """Whether the agent closes a connection from `source` without relaying anything.

    The agent aborts a denied connection (RST) right after accept; depending on timing
    the client sees a reset, "not connected" on shutdown, or a plain EOF."""
    try:
        reply, _ = tcp_exchange(dest, b"refuse me", source=source)
    except OSError:
        return True
    return reply == b""


def udp_exchange(
    dest: tuple[str, int], payloads: list[bytes], *, source: str | None = None, timeout: float = 2.0
) -> tuple[list[bytes], tuple[str, int]]:
    """Send each payload from one socket and collect one reply per payload (or fewer on timeout)."""
    with socket.socket(family_of(dest[0]), socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.bind((source or ("::1" if ":" in dest[0] else "127.0.0.1"), 0))
        local = s.getsockname()[:2]
        replies = []
        for payload in payloads:
            s.sendto(payload, dest)
            try:
                replies.append(s.recvfrom(65536)[0])
            except TimeoutError:
                break
        return replies, local
