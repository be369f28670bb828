"""`l4plan-agent`: command-line flags → `Settings`, then run the daemon."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
from pathlib import Path

from l4agent import __version__, preflight
from l4agent.control.store import ConfigStore, StateDirError
from l4agent.daemon import Agent, StartupError
from l4agent.dataplane.sockets import raise_nofile_limit
from l4agent.logs import setup_logging
from l4agent.loop import new_event_loop
from l4agent.preflight import read_token
from l4agent.settings import (
    REQUEST_LOG_CAPACITY,
    RelaySettings,
    Settings,
    cpu_count,
    parse_duration,
    parse_size,
)

log = logging.getLogger("l4agent")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _workers(text: str) -> int:
    """--workers, whose default may come from $L4PLAN_AGENT_WORKERS: say so."""
    try:
        return _positive(text)
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(
            f"{e} (given with --workers or L4PLAN_AGENT_WORKERS)"
        ) from None


def _address(text: str) -> tuple[str, int]:
    """HOST:PORT or [IPv6]:PORT."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:7700)")
    if host.startswith("[") != host.endswith("]"):
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. [::1]:7700)")
    if host.startswith("["):
        host = host[1:-1]
    return host, int(port)


def _bind(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="l4plan-agent",
        description="proxy-agent: the JSON-RPC controlled TCP/UDP data plane of l4plan.",
    )
    p.add_argument("--version", action="version", version=f"l4plan-agent {__version__}")
    p.add_argument(
        "--control",
        type=_address,
        required=True,
        metavar="HOST:PORT",
        help="control API address (POST /rpc, GET /metrics), e.g. 127.0.0.1:7700",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        required=True,
        metavar="DIR",
        help="where the configuration and node id are kept (created if missing)",
    )
    p.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="file holding the bearer token callers must send (required off loopback)",
    )
    p.add_argument(
        "--tls-cert", type=Path, metavar="FILE", help="TLS certificate (PEM) for the control API"
    )
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="TLS private key (PEM)")
    p.add_argument(
        "--bind",
        type=_bind,
        action="append",
        default=[],
        metavar="ADDR",
        help="address listeners bind to; once per family (default 0.0.0.0 and ::)",
    )
    p.add_argument(
        "--drain-timeout",
        type=_duration,
        default=30.0,
        metavar="DURATION",
        help="how long removed listeners' connections may finish (default 30s)",
    )
    p.add_argument(
        "--connect-timeout",
        type=_duration,
        default=5.0,
        metavar="DURATION",
        help="timeout of one connect to an origin (default 5s)",
    )
    p.add_argument(
        "--idle-timeout",
        type=_duration,
        default=600.0,
        metavar="DURATION",
        help="close TCP connections idle this long, 0 = never (default 10m)",
    )
    p.add_argument(
        "--udp-idle-timeout",
        type=_duration,
        default=60.0,
        metavar="DURATION",
        help="forget UDP flows idle this long (default 60s)",
    )
    p.add_argument(
        "--udp-max-flows",
        type=_positive,
        default=65536,
        metavar="N",
        help="UDP flow table size per process (default 65536)",
    )
    p.add_argument(
        "--splice",
        action="store_true",
        help="relay TCP bytes with os.splice (zero-copy, 3 times the fds; see docs/agent.md)",
    )
    p.add_argument(
        "--fast-path",
        choices=("auto", "on", "off"),
        default=os.environ.get("L4PLAN_AGENT_FAST_PATH", "auto"),
        help="forward rules without passthrough in the kernel (nftables): auto uses it when "
        "nft and CAP_NET_ADMIN are there, on refuses to start without (default "
        "$L4PLAN_AGENT_FAST_PATH, else auto)",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default=os.environ.get("L4PLAN_AGENT_WORKERS") or cpu_count(),
        metavar="N",
        help="data-plane processes sharing the listeners (default $L4PLAN_AGENT_WORKERS, "
        "else the number of CPUs this process may use)",
    )
    p.add_argument(
        "--max-request-bytes",
        type=_size,
        default=8 << 20,
        metavar="SIZE",
        help="largest control request body (default 8MiB)",
    )
    p.add_argument(
        "--max-listeners",
        type=_positive,
        default=16384,
        metavar="N",
        help="most listening sockets the configuration may need (default 16384)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="check the flags, token file, state directory, persisted configuration and "
        "TLS files as a start would, print one line and exit without serving (binds nothing)",
    )
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    return p


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SettingsError(ValueError):
    """Flags that do not make a configuration: every problem, each naming its flag."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Validated settings; raises SettingsError naming every problem for the operator."""
    problems: list[str] = []
    token = None
    if args.token_file is not None:
        try:
            token = read_token(args.token_file)
        except ValueError as e:
            problems.append(str(e))
    host, _ = args.control
    if args.token_file is None and not is_loopback(host):
        problems.append(
            f"--control {host} is not a loopback address: give --token-file so that "
            "only holders of the token can change the configuration"
        )
    if args.fast_path not in ("auto", "on", "off"):
        problems.append(f"--fast-path (or L4PLAN_AGENT_FAST_PATH) must be auto, on or off, "
                        f"not {args.fast_path!r}")  # fmt: skip
    if (args.tls_cert is None) != (args.tls_key is None):
        problems.append("--tls-cert and --tls-key go together")
    bind = {"ipv4": "0.0.0.0", "ipv6": "::"}
    given: set[str] = set()
    for address in args.bind:
        family = "ipv6" if ":" in address else "ipv4"
        if family in given:
            problems.append(f"--bind: more than one {family} address")
        given.add(family)
        bind[family] = address
    if problems:
        raise SettingsError(problems)
    relay = RelaySettings(
        bind=bind,
        connect_timeout=args.connect_timeout,
        idle_timeout=args.idle_timeout,
        udp_idle_timeout=args.udp_idle_timeout,
        udp_max_flows=args.udp_max_flows,
        drain_timeout=args.drain_timeout,
        reuse_port=args.workers > 1,
        splice=args.splice,
    )
    return Settings(
        control=args.control,
        state_dir=args.state_dir,
        token=token,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        relay=relay,
        workers=args.workers,
        max_request_bytes=args.max_request_bytes,
        max_listeners=args.max_listeners,
        log_format=args.log_format,
        log_level=args.log_level,
        fast_path=args.fast_path,
    )


def check(args: argparse.Namespace) -> int:
    """`--check`: every start-up check but binding; one line each, nothing served.

    Exits as the start would: 2 for flags that make no configuration, 1 for a state
    directory, persisted configuration, certificate or fast path that cannot be used."""
    try:
        settings_from_args(args)
        flag_problems: list[str] = []
    except SettingsError as e:
        flag_problems = e.problems
    report = preflight.check_environment(
        args.state_dir, args.tls_cert, args.tls_key, args.fast_path, REQUEST_LOG_CAPACITY
    )
    for problem in [*flag_problems, *report.problems]:
        print(f"l4plan-agent: error: {problem}", file=sys.stderr)
    if flag_problems:
        return 2
    if report.problems:
        return 1
    host, port = args.control
    print(
        f"l4plan-agent: configuration OK (control {host}:{port}, state directory "
        f"{args.state_dir} at revision {report.revision} with {report.apps} applications; "
        "ports are bound only at start)"
    )
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.check:
        sys.exit(check(args))
    try:
        settings = settings_from_args(args)
    except SettingsError as e:
        parser.error(str(e))
    setup_logging(settings.log_format, settings.log_level)
    raise_nofile_limit()
    store = ConfigStore(settings.state_dir)
    try:
        preflight.check_state_dir(settings.state_dir)
        store.open()
        snapshot = preflight.load_config(store, settings.request_id_cache)
    except StateDirError as e:
        log.error("%s", e)
        sys.exit(1)
    tls = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        try:
            tls = preflight.load_tls(settings.tls_cert, settings.tls_key)
        except preflight.TlsError as e:
            log.error("%s", e)
            sys.exit(1)
    agent = Agent(settings, store, snapshot, tls)
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(agent.run())
    except (OSError, StartupError) as e:
        log.error("cannot start: %s", e)
        sys.exit(1)
    sys.exit(0)
