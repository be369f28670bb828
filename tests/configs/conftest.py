"""Shared fixtures for configuration-language tests: write HCL into a directory and load it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "proxy-agent"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from l4plan.configs import load_config  # noqa: E402
from l4plan.configs.model import Config  # noqa: E402

Loader = Callable[..., Config]


@pytest.fixture
def load(tmp_path: Path) -> Loader:
    """load(text_or_files, **load_config kwargs): write files into tmp_path and load them.

    A string is written to main.l4.hcl; a dict maps file names to contents. The
    environment defaults to empty so the machine's L4PLAN_VAR_* never leak in.
    """

    def _load(files: str | dict[str, str | bytes], **kwargs: object) -> Config:
        if isinstance(files, str):
            files = {"main.l4.hcl": files}
        for name, content in files.items():
            target = tmp_path / name
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        kwargs.setdefault("environ", {})
        return load_config(tmp_path, **kwargs)  # type: ignore[arg-type]

    return _load


def errors(config: Config) -> list[tuple[str, str, int, int]]:
    """(code, file, line, column) of every diagnostic, for compact assertions."""
    return [(d.code, d.file, d.line, d.column) for d in config.diagnostics]
