"""Agent settings (from the command line) and the duration / size syntax of its flags."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_SIZE = re.compile(r"^(\d+)(B|KiB|MiB|GiB|k|K|M|G)?$")
_UNIT_BYTES = {None: 1, "B": 1, "KiB": 1024, "k": 1024, "K": 1024, "MiB": 1 << 20, "M": 1 << 20}
_UNIT_BYTES |= {"GiB": 1 << 30, "G": 1 << 30}
REQUEST_LOG_CAPACITY = 1024  # request_id results remembered (docs/agent.md, section 10)


def parse_duration(text: str) -> float:
    """'500ms', '30s', '5m', '1h' or a bare number of seconds → seconds."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a duration (examples: 500ms, 30s, 5m)")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def parse_size(text: str) -> int:
    """'8MiB', '512KiB', '1048576' → bytes."""
    m = _SIZE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a size (examples: 8MiB, 512KiB, 65536)")
    return int(m.group(1)) * _UNIT_BYTES[m.group(2)]


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask, which a container or
    `taskset` narrows), else every CPU: the default number of data-plane processes."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(slots=True)
class RelaySettings:
    """What every data-plane process needs (sent to worker processes as JSON)."""

    bind: dict[str, str] = field(default_factory=lambda: {"ipv4": "0.0.0.0", "ipv6": "::"})
    connect_timeout: float = 5.0
    idle_timeout: float = 600.0
    udp_idle_timeout: float = 60.0
    udp_max_flows: int = 65536
    drain_timeout: float = 30.0
    reuse_port: bool = False
    splice: bool = False  # relay TCP with os.splice (splice_relay) instead of Protocols
    kernel_shadow: bool = False  # the kernel path forwards some rules: workers leave them

    def to_json(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]

    @classmethod
    def from_json(cls, data: dict[str, object]) -> RelaySettings:
        return cls(**data)  # type: ignore[arg-type]


@dataclass(slots=True)
class Settings:
    control: tuple[str, int]
    state_dir: Path
    token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    relay: RelaySettings = field(default_factory=RelaySettings)
    workers: int = 1
    max_request_bytes: int = 8 << 20
    max_batch: int = 64
    max_listeners: int = 16384
    request_id_cache: int = REQUEST_LOG_CAPACITY
    log_format: str = "text"
    log_level: str = "info"
    # auto | on | off (docs/kernel-fast-path.md); the command line defaults to auto, an
    # agent built in-process to off
    fast_path: str = "off"
