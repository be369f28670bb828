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


@pytest.fixture
def value_of(load: Loader) -> Callable[..., object]:
    """value_of(expression, prelude=""): the value of an expression, via an output.

    Fails the test if loading reported any diagnostic.
    """

    def _value_of(expression: str, prelude: str = "") -> object:
        config = load(f'{prelude}\noutput "x" {{\n  value = {expression}\n}}\n')
        assert config.diagnostics == [], [str(d) for d in config.diagnostics]
        return config.outputs["x"].value

    return _value_of


@pytest.fixture
def problem_of(load: Loader) -> Callable[..., tuple[str, int, int, str]]:
    """problem_of(expression, prelude=""): (code, line, column, message) of its single diagnostic.

    The expression sits on line 2 + the prelude's lines, starting at column 11.
    """

    def _problem_of(expression: str, prelude: str = "") -> tuple[str, int, int, str]:
        config = load(f'{prelude}output "x" {{\n  value = {expression}\n}}\n')
        assert len(config.diagnostics) == 1, [str(d) for d in config.diagnostics]
        d = config.diagnostics[0]
        return d.code, d.line, d.column, d.message

    return _problem_of
