"""End-to-end test tools: the agent as a real subprocess, and origins that read headers.

Origins run in threads with blocking sockets and parse client-IP headers with the
independent reference reader (pp_reference), never with l4agent.protocols.proxyproto.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.agent_features import pp_reference as ref

ROOT = Path(__file__).resolve().parents[2]
_request_ids = itertools.count(1)


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        super().__init__(json.dumps(error))


class AgentProcess:
    """`l4plan-agent` on a loopback control port with a temporary state directory."""

    def __init__(self, state_dir: Path, control_port: int, *args: str) -> None:
        self.control_port = control_port
        self.state_dir = state_dir
        self.log_path = state_dir / "agent.log"
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.revision = 0

    def start(self, timeout: float = 15.0) -> AgentProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "proxy-agent")])
        command = [
            sys.executable,
            "-c",
            "import sys; from l4agent.cli import main; sys.exit(main())",
            "--control",
            f"127.0.0.1:{self.control_port}",
            "--state-dir",
            str(self.state_dir),
            *self.args,
        ]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError, RpcError, http.client.HTTPException):
                if self.rpc("Health.Check", {})["status"] == "SERVING":
                    self.revision = self.rpc("Agent.Info", {})["revision"]
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"agent not serving after {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=10)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def rpc(self, method: str, params: dict[str, Any]) -> Any:
        request = {"jsonrpc": "2.0", "id": next(_request_ids), "method": method, "params": params}
        _, _, body = self._request("POST", "/rpc", json.dumps(request).encode())
        answer = json.loads(body)
        if "error" in answer:
            raise RpcError(answer["error"])
        return answer["result"]

    def apply(
        self, apps: dict[str, dict[str, Any]], delete: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        result = self.rpc(
            "Config.Apply",
            {
                "expected_revision": self.revision,
                "upsert": [{"name": name, "spec": spec} for name, spec in apps.items()],
                "delete": list(delete),
                "request_id": f"features-{next(_request_ids)}",
            },
        )
        self.revision = result["revision"]
        return result

    def status(self, name: str) -> dict[str, Any]:
        [app] = self.rpc("Status.Get", {"names": [name]})["apps"]
        return app

    def get(self, path: str) -> tuple[int, dict, bytes]:
        return self._request("GET", path)


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


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
