"""Per-invocation settings shared by every command."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(slots=True)
class CliContext:
    workdir: Path
    color: bool
