"""Child processes of a benchmark: start them, measure their CPU time, stop them.

CPU time comes from /proc/PID/stat (user + system, all threads) summed over a process
and its descendants (nginx workers, agent worker processes). On a shared machine CPU
seconds per unit of work are much steadier than wall-clock rates.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def python_env() -> dict[str, str]:
    """The environment for Python children: l4plan and l4agent importable from the checkout."""
    env = dict(os.environ)
    paths = [str(ROOT), str(ROOT / "proxy-agent")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # the command name (field 2) may hold spaces; what follows ")" is fixed
            return f.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` in the process tree."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by `pid` and its live descendants."""
    total = 0
    for p in [pid, *descendants(pid)]:
        fields = _stat_fields(p)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def tree_size(pid: int) -> tuple[int, int]:
    """(processes, threads) of `pid` and its live descendants."""
    tree = [pid, *descendants(pid)]
    threads = 0
    for p in tree:
        fields = _stat_fields(p)
        if fields is not None:
            threads += int(fields[17])  # field 20: num_threads
    return len(tree), threads


def machine_ticks() -> tuple[int, int]:
    """(all, idle) CPU ticks of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields[:8]), fields[3] + fields[4]  # user..steal; idle + iowait


def listening(pid: int, port: int, *, udp: bool = False) -> bool:
    """Whether `port` is listening (TCP) or bound (UDP) in the network namespace of
    `pid`, read from /proc/PID/net: no probe connection (an iperf3 server would take
    one for a test), and it works for a process inside another namespace."""
    state = "07" if udp else "0A"  # TCP_CLOSE for a bound UDP socket, TCP_LISTEN
    for table in ("udp", "udp6") if udp else ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                        return True
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return False


def wait_listening(
    proc: subprocess.Popen[bytes],
    port: int,
    what: str,
    log: Path,
    timeout: float = 15.0,
    *,
    udp: bool = False,
) -> None:
    """Wait until `proc`'s namespace has `port` listening; fail if `proc` exits first,
    quoting the end of its `log`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:].strip() if log.exists() else ""
            raise RuntimeError(
                f"{what} exited with status {proc.returncode} while starting: {tail}"
            )
        if listening(proc.pid, port, udp=udp):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:g}s")


def tree_pss_kib(pid: int) -> int:
    """Proportional set size (KiB) of `pid` and its live descendants: pages shared
    between an nginx master and its workers count once in all."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(ln.split()[1]) for ln in f if ln.startswith("Pss:"))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total


def raise_nofile(wanted: int) -> int:
    """Raise RLIMIT_NOFILE (soft and, as root, hard) to `wanted` for this process and
    the children it starts; return the soft limit reached."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limits in ((wanted, max(hard, wanted)), (min(wanted, hard), hard)):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            break
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _start_time(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[19] if fields is not None else None  # field 22: start time in ticks


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process, then SIGKILL it and any of its descendants left behind.

    A descendant is killed only if it is still the same process (same start time),
    never a later process that reused its id.
    """
    if proc.poll() is not None:
        return
    below = {pid: _start_time(pid) for pid in descendants(proc.pid)}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
    for pid, started in below.items():
        if started is not None and _start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
