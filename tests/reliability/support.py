"""Helpers of the reliability tests: agents on the suite's own ports, origins that
misbehave on purpose, and loopback clients that check a listener forwards."""

from __future__ import annotations

import contextlib
import resource
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.agent.harness import Agent, app, rule  # noqa: F401  (re-exported for the tests)
from tests.ports import RELIABILITY, free_block, free_port


def free() -> int:
    return free_port(RELIABILITY)


def free_range(size: int) -> int:
    return free_block(RELIABILITY, size)


def agent(tmp: Path, name: str, *flags: str, token: str | None = None) -> Agent:
    """An agent (not started) whose control port is in the suite's range."""
    return Agent(tmp / name, *flags, token=token, control_port=free())


def forwards(port: int, payload: bytes = b"ping", timeout: float = 5.0) -> bool:
    """True when a connection to 127.0.0.1:`port` echoes `payload` (through an echo
    origin)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(len(payload) - len(got))
                if not chunk:
                    return False
                got += chunk
            return got == payload
    except OSError:
        return False


@contextlib.contextmanager
def nofile(at_least: int) -> Iterator[int]:
    """Raise this process's soft RLIMIT_NOFILE (up to the hard limit) for a test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, at_least), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    try:
        yield want
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ---- origins that misbehave ---------------------------------------------------------


class SilentOrigin:
    """Accepts every connection and never sends a byte (nor closes)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", port), backlog=128)
        self.sock.settimeout(0.2)
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                self.held.append(conn)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        for conn in self.held:
            conn.close()
        self.sock.close()


class ResettingOrigin(SilentOrigin):
    """Accepts, then resets the connection at once (SO_LINGER 0)."""

    def _run(self) -> None:
        import struct

        while not self.stopped.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()


class BlackholeOrigin:
    """A listening socket that never accepts, its backlog filled up first: the kernel
    drops further SYNs, so a connect to it neither succeeds nor fails until the
    connecting side gives up (net.ipv4.tcp_abort_on_overflow is 0 by default)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(0)
        self.fillers: list[socket.socket] = []
        for _ in range(8):  # a backlog of 0 still queues one or two
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                s.connect(("127.0.0.1", port))
            self.fillers.append(s)
            if not _connects(port, 0.3):
                break

    def close(self) -> None:
        for s in self.fillers:
            s.close()
        self.sock.close()


def _connects(port: int, timeout: float) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def process_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` for the duration (the tests run as root)."""
    import subprocess

    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path, name: str = "filler") -> Path:
    """Write a file in `directory` until its file system is full."""
    import errno

    path = directory / name
    chunk = b"\0" * 4096
    with open(path, "ab", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    with contextlib.suppress(OSError), open(path, "ab", buffering=0) as f:
        while True:
            f.write(b"\0")
    return path


def tcp_echo(origins: Any, port: int, backlog: int = 4096) -> None:
    """A TCP echo origin on the harness's loop with a deep accept queue: the harness's
    own origins keep asyncio's default backlog of 100, which thousands of connections
    opened at once overflow (the agent's connects to it would then time out)."""
    import asyncio

    from tests.agent.harness import _TcpEcho

    async def start() -> asyncio.AbstractServer:
        return await origins.loop.create_server(
            lambda: _TcpEcho(False, b""), "127.0.0.1", port, reuse_address=True, backlog=backlog
        )

    server = asyncio.run_coroutine_threadsafe(start(), origins.loop).result(10)
    origins._closers.append(server.close)
