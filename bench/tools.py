"""Run one measurement with a load tool and return what it measured.

The tools: iperf3 and wrk (independent of this project), and `bench/load.py` (the
project's own generators, for what those tools cannot do: UDP request/response from
several processes, TCP bulk into a PROXY v2 origin, idle connections held open).
Each runs as a child process bounded by its own time limit (`-t`, `-d`, `--seconds`)
and killed past `TOOL_TIMEOUT`; the own generators also stop at a count.

Every function returns an `Outcome`: the figure, the work done (what the proxy's CPU
time is divided by) and extra columns. Targets are 127.0.0.1 only; `prefix` runs the
tool inside another network namespace (`ip netns exec NAME`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procs

TOOL_TIMEOUT = 30.0
WRK_SCRIPT = Path(__file__).with_name("wrk-report.lua")
HOLD_SECONDS = 20.0  # the longest idle connections are held


class ToolError(RuntimeError):
    """The tool failed or reported an error; the measurement is recorded as failed."""


@dataclass
class Outcome:
    value: float
    work: float  # GB for bulk, a count otherwise: proxy CPU is divided by it
    seconds: float
    errors: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)  # e.g. the offered rate was not reached


def _run(
    command: Sequence[str], prefix: Sequence[str], *, env: dict[str, str] | None = None
) -> str:
    binary = shutil.which(command[0])
    if binary is None:
        raise ToolError(f"{command[0]} is not installed (bench/run.sh installs it)")
    try:
        done = subprocess.run(
            [*prefix, binary, *command[1:]], capture_output=True, timeout=TOOL_TIMEOUT, env=env
        )
    except subprocess.TimeoutExpired as e:
        raise ToolError(f"{command[0]} did not finish within {TOOL_TIMEOUT:g}s") from e
    out = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        tail = (done.stderr.decode(errors="replace") or out).strip()[-400:]
        raise ToolError(f"{command[0]} exited with {done.returncode}: {tail}")
    return out


def _iperf3(port: int, seconds: float, prefix: Sequence[str], *args: str) -> dict[str, Any]:
    out = _run(
        ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(max(1, round(seconds))),
         "-J", "--connect-timeout", "3000", *args],
        prefix,
    )  # fmt: skip
    try:
        result = json.loads(out)
    except ValueError as e:
        raise ToolError(f"iperf3 printed no JSON: {out[-300:]}") from e
    if "error" in result:
        raise ToolError(f"iperf3: {result['error']}")
    return result["end"]  # type: ignore[no-any-return]


def iperf_tcp(streams: int) -> Callable[[int, float, Sequence[str]], Outcome]:
    def run(port: int, seconds: float, prefix: Sequence[str]) -> Outcome:
        received = _iperf3(port, seconds, prefix, "-P", str(streams))["sum_received"]
        return Outcome(
            value=received["bits_per_second"] / 1e9,
            work=received["bytes"] / 1e9,
            seconds=received["seconds"],
        )

    return run


def iperf_udp(length: int, pps: int) -> Callable[[int, float, Sequence[str]], Outcome]:
    """`pps` datagrams of `length` bytes per second; the figure is the delivered rate
    (thousand datagrams/s), with the loss the server counted."""

    def run(port: int, seconds: float, prefix: Sequence[str]) -> Outcome:
        bitrate = length * 8 * pps
        end = _iperf3(port, seconds, prefix, "-u", "-l", str(length), "-b", str(bitrate))
        sent, received = end["sum_sent"], end["sum_received"]
        delivered = received["packets"] - received["lost_packets"]
        flags = []
        if sent["packets"] < 0.95 * pps * sent["seconds"]:
            flags.append(f"offered {sent['packets'] / sent['seconds']:,.0f}/s of {pps:,}/s")
        return Outcome(
            value=delivered / received["seconds"] / 1e3,
            work=max(delivered, 1),
            seconds=received["seconds"],
            extra={"loss_pct": received["lost_percent"]},
            flags=flags,
        )

    return run


def wrk(close: bool, connections: int = 32) -> Callable[[int, float, Sequence[str]], Outcome]:
    """HTTP GET of a 3-byte answer from `connections` connections over 2 threads;
    `close`: `Connection: close`, so every request is a new TCP connection."""

    def run(port: int, seconds: float, prefix: Sequence[str]) -> Outcome:
        args = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s",
                "--timeout", "2s", "-s", str(WRK_SCRIPT)]  # fmt: skip
        if close:
            args += ["-H", "Connection: close"]
        out = _run([*args, f"http://127.0.0.1:{port}/"], prefix)
        line = next((ln for ln in out.splitlines() if ln.startswith("{")), None)
        if line is None:
            raise ToolError(f"wrk printed no summary: {out[-300:]}")
        r = json.loads(line)
        seconds_run = r["duration_us"] / 1e6
        errors = sum(r[k] for k in ("connect_errors", "read_errors", "write_errors"))
        errors += r["status_errors"] + r["timeouts"]
        if not r["requests"]:
            raise ToolError(f"wrk completed no request ({errors} errors)")
        return Outcome(
            value=r["requests"] / seconds_run,
            work=r["requests"],
            seconds=seconds_run,
            errors=errors,
            extra={"p99_ms": r["p99_us"] / 1e3},
        )

    return run


def _load(kind: str, port: int, seconds: float, *args: str) -> list[str]:
    return procs.python_module(
        "bench.load", kind, "--port", str(port), "--seconds", f"{seconds:g}", *args
    )


def bulk_own(streams: int) -> Callable[[int, float, Sequence[str]], Outcome]:
    """bench/load.py's bulk sender: 1 MiB writes; only bytes the sink confirms count."""

    def run(port: int, seconds: float, prefix: Sequence[str]) -> Outcome:
        out = json.loads(
            _run(
                _load("bulk", port, seconds, "--streams", str(streams)),
                prefix,
                env=procs.python_env(),
            )
        )
        return Outcome(
            value=out["bytes"] * 8 / out["seconds"] / 1e9,
            work=out["bytes"] / 1e9,
            seconds=out["seconds"],
            errors=out["errors"],
        )

    return run


def udp_rr(processes: int, flows: int) -> Callable[[int, float, Sequence[str]], Outcome]:
    """`processes` generator processes at once, `flows` client sockets each, every
    socket one request in flight; the figure is the sum of their rates."""

    def run(port: int, seconds: float, prefix: Sequence[str]) -> Outcome:
        command = [*prefix, *_load("udp", port, seconds, "--concurrency", str(flows),
                                   "--max-count", "1000000")]  # fmt: skip
        running = [
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=procs.python_env()
            )
            for _ in range(processes)
        ]
        outs = []
        try:
            for proc in running:
                stdout, stderr = proc.communicate(timeout=TOOL_TIMEOUT)
                if proc.returncode != 0:
                    raise ToolError(f"bench.load udp: {stderr.decode(errors='replace')[-300:]}")
                outs.append(json.loads(stdout))
        finally:
            for proc in running:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        count = sum(o["count"] for o in outs)
        return Outcome(
            value=sum(o["per_s"] for o in outs),
            work=max(count, 1),
            seconds=max(o["seconds"] for o in outs),
            errors=sum(o["lost"] + o["errors"] for o in outs),
        )

    return run


def idle_memory(
    count: int, memory: Callable[[], int | None]
) -> Callable[[int, float, Sequence[str]], Outcome]:
    """Open `count` connections (each exchanges 16 B with the echo origin, so both
    sides of the proxy exist), hold them idle, and read the proxy's PSS; the figure is
    (PSS held - PSS before) / connections, in KiB."""

    def run(port: int, seconds: float, prefix: Sequence[str]) -> Outcome:
        before = memory()
        command = [*prefix, *_load("hold", port, HOLD_SECONDS, "--max-count", str(count))]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=procs.python_env())  # fmt: skip
        assert proc.stdout is not None
        try:
            line = proc.stdout.readline()  # the generator prints once every connection is up
            held_mem = memory()
            _, stderr = proc.communicate(timeout=TOOL_TIMEOUT)  # closes stdin: let go
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not line:
            raise ToolError(f"bench.load hold: {stderr.decode(errors='replace')[-300:]}")
        out = json.loads(line)
        if before is None or held_mem is None or not out["held"]:
            raise ToolError("no memory figure: no proxy process, or no connection held")
        return Outcome(
            value=(held_mem - before) / out["held"],
            work=out["held"],
            seconds=out["seconds"],
            errors=out["errors"],
            extra={"held": out["held"], "mib_held": held_mem / 1024},
        )

    return run
