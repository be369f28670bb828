"""Network namespaces for the kernel-path tests: client ⇄ agent ⇄ origin.

::

    client ns                agent ns                          origin ns
    192.0.2.2/24 (+ .10-.29)  192.0.2.1/24   198.51.100.1/24    198.51.100.2-4/24
    2001:db8:1::2/64          2001:db8:1::1  2001:db8:2::1      2001:db8:2::2-4/64
           veth c ─────────────── veth a1   veth a2 ──────────────── veth o

The agent namespace forwards (ip_forward, IPv6 forwarding) and holds the nftables
table; nothing routes between client and origin without it (the origin only knows
its own subnet, so a reply can only reach the client through the agent's
masquerade). Sockets are opened inside a namespace by threads that entered it
with setns(2): the namespace is per thread, and a socket stays in the namespace it
was created in, so the test process itself can drive hundreds of connections
without starting a process per connection.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import selectors
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_counter = itertools.count()

CLIENT4, AGENT4_C, AGENT4_O = "192.0.2.2", "192.0.2.1", "198.51.100.1"
ORIGIN4 = ["198.51.100.2", "198.51.100.3", "198.51.100.4"]
CLIENT6, AGENT6_C, AGENT6_O = "2001:db8:1::2", "2001:db8:1::1", "2001:db8:2::1"
ORIGIN6 = ["2001:db8:2::2", "2001:db8:2::3", "2001:db8:2::4"]
EXTRA_CLIENTS4 = [f"192.0.2.{i}" for i in range(10, 30)]


def missing_privileges() -> str | None:
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "kernel-path tests need root (network namespaces and nftables)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"kernel-path tests need {tool!r} (scripts/setup.sh installs it)"
    return None


def sh(*args: str, ns: str | None = None, check: bool = True) -> str:
    argv = ["ip", "netns", "exec", ns, *args] if ns else list(args)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


def _enter(name: str) -> None:
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


class Namespace:
    """A named network namespace with a few threads living inside it."""

    def __init__(self, name: str, *, create: bool = True, threads: int = 4) -> None:
        """`threads`: how many calls can run inside at once."""
        self.name = name
        if create:
            sh("ip", "netns", "add", name)
        self._pool = ThreadPoolExecutor(threads, f"ns-{name}", initializer=_enter, initargs=(name,))

    def sh(self, *args: str, check: bool = True) -> str:
        return sh(*args, ns=self.name, check=check)

    def ip_batch(self, commands: list[str]) -> None:
        """Several ``ip`` commands in one process (``ip -n NS -batch -``)."""
        argv = ["ip", "-n", self.name, "-batch", "-"]
        proc = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True,
                              text=True, timeout=20, check=False)  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"ip -batch in {self.name}: {proc.stderr.strip()}")

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` in a thread inside this namespace (sockets it opens live here)."""
        return self._pool.submit(fn, *args).result(timeout=20)

    def socket(self, family: int, kind: int) -> socket.socket:
        return self.call(socket.socket, family, kind)

    def connect(self, address: str, port: int, *, source: str | None = None,
                timeout: float = 3.0) -> socket.socket:  # fmt: skip
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = self.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        if source:
            sock.bind((source, 0))
        try:
            sock.connect((address, port))
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self, *, delete: bool = True) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if delete:
            sh("ip", "netns", "del", self.name, check=False)


class Topology:
    """The three namespaces; `close()` removes them (and with them every veth,
    address, nftables table and conntrack entry made inside)."""

    def __init__(self) -> None:
        tag = f"l4k{os.getpid() % 100000}x{next(_counter)}"
        self.namespaces: list[Namespace] = []
        self._names = [f"{tag}c", f"{tag}a", f"{tag}o"]
        try:
            # one ip process for the namespaces and both veth pairs (tests stay fast)
            c, a, o = self._names
            host_batch(
                [f"netns add {n}" for n in self._names]
                + [f"link add {tag}c0 netns {c} type veth peer name {tag}a0 netns {a}",
                   f"link add {tag}a1 netns {a} type veth peer name {tag}o0 netns {o}"]
            )  # fmt: skip
            self.client = self._add(c)
            self.agent = self._add(a)
            self.origin = self._add(o)
            self._wire(tag)
        except BaseException:
            self.close()
            raise

    def _add(self, name: str) -> Namespace:
        ns = Namespace(name, create=False)
        self.namespaces.append(ns)
        return ns

    def _wire(self, tag: str) -> None:
        c, a, o = self.client, self.agent, self.origin
        a.call(_enable_forwarding)  # a thread inside the namespace writes its sysctls
        plan = [
            (c, f"{tag}c0", [f"{CLIENT4}/24", *(f"{x}/24" for x in EXTRA_CLIENTS4)], [CLIENT6]),
            (a, f"{tag}a0", [f"{AGENT4_C}/24"], [AGENT6_C]),
            (a, f"{tag}a1", [f"{AGENT4_O}/24"], [AGENT6_O]),
            (o, f"{tag}o0", [f"{x}/24" for x in ORIGIN4], ORIGIN6),
        ]
        batches: dict[str, list[str]] = {ns.name: ["link set lo up"] for ns in (c, a, o)}
        for ns, dev, v4, v6 in plan:
            batches[ns.name] += [f"addr add {addr} dev {dev}" for addr in v4]
            batches[ns.name] += [f"addr add {addr}/64 dev {dev} nodad" for addr in v6]
            batches[ns.name].append(f"link set {dev} up")
        for ns in (c, a, o):
            ns.ip_batch(batches[ns.name])

    def close(self) -> None:
        for ns in reversed(self.namespaces):
            ns.close(delete=False)
        self.namespaces.clear()
        names, self._names = self._names, []
        # every namespace we named, also when creating them failed half-way
        host_batch([f"netns del {n}" for n in names], check=False, force=True)


def host_batch(commands: list[str], *, check: bool = True, force: bool = False) -> None:
    """Several ``ip`` commands in one process; with `force`, go on after a failure."""
    if not commands:
        return
    argv = ["ip", *(["-force"] if force else []), "-batch", "-"]
    proc = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True,
                          text=True, timeout=20, check=False)  # fmt: skip
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip -batch: {proc.stderr.strip()}")


def _enable_forwarding() -> None:
    for path in ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"):
        with open(path, "w") as f:
            f.write("1")


class EchoServer:
    """TCP and UDP origins in one thread of a namespace.

    A TCP connection first receives ``"<local ip> <local port> <peer ip>\\n"`` (which
    origin address and port got it, and whom it saw), then an echo of what it sends.
    A UDP datagram is answered with the same line followed by the datagram.
    """

    def __init__(self, ns: Namespace, endpoints: list[tuple[str, str, int]]) -> None:
        self.sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self.sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self.conns: set[socket.socket] = set()
        self._listeners: list[socket.socket] = []
        for proto, address, port in endpoints:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
            sock = ns.socket(family, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            if proto == "tcp":
                sock.listen(512)
            sock.setblocking(False)
            self._listeners.append(sock)
            self.sel.register(sock, selectors.EVENT_READ, (proto, None))
        self._stop = False
        self.thread = threading.Thread(target=self._run, name="echo", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop:
            for key, _ in self.sel.select(timeout=0.5):
                kind, _data = key.data
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                with contextlib.suppress(OSError):
                    if kind == "tcp":
                        self._accept(sock)
                    elif kind == "udp":
                        payload, peer = sock.recvfrom(65535)
                        sock.sendto(_hello(sock, peer) + payload, peer)
                    elif kind == "conn":
                        self._echo(sock)

    def _accept(self, listener: socket.socket) -> None:
        conn, peer = listener.accept()
        conn.setblocking(True)
        conn.sendall(_hello(conn, peer))
        conn.setblocking(False)
        self.conns.add(conn)
        self.sel.register(conn, selectors.EVENT_READ, ("conn", None))

    def _echo(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(conn)
            self.conns.discard(conn)
            conn.close()
            return
        conn.setblocking(True)
        conn.sendall(data)
        conn.setblocking(False)

    def close(self) -> None:
        self._stop = True
        self._wake_w.send(b"x")
        self.thread.join(timeout=5)
        for sock in [*self._listeners, *self.conns, self._wake_r, self._wake_w]:
            sock.close()
        self.sel.close()


def _hello(sock: socket.socket, peer: tuple[Any, ...]) -> bytes:
    local = sock.getsockname()
    return f"{local[0]} {local[1]} {peer[0]}\n".encode()


def read_line(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data.decode().strip()


def tcp_hello(ns: Namespace, address: str, port: int, *, source: str | None = None) -> list[str]:
    """Connect, read the origin's line, close: [origin ip, origin port, seen client ip]."""
    with ns.connect(address, port, source=source) as sock:
        return read_line(sock).split()


def udp_ask(ns: Namespace, address: str, port: int, payload: bytes = b"ping",
            timeout: float = 2.0) -> tuple[list[str], bytes]:  # fmt: skip
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with ns.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, (address, port))
        data = sock.recv(65535)
    head, _, rest = data.partition(b"\n")
    return head.decode().split(), rest


@contextlib.contextmanager
def echo(ns: Namespace, endpoints: list[tuple[str, str, int]]) -> Iterator[EchoServer]:
    server = EchoServer(ns, endpoints)
    try:
        yield server
    finally:
        server.close()
