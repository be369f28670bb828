"""Helpers for configuration-language tests (importable, unlike conftest.py)."""

from __future__ import annotations

from l4plan.configs.model import Config


def errors(config: Config) -> list[tuple[str, str, int, int]]:
    """(code, file, line, column) of every diagnostic, for compact assertions."""
    return [(d.code, d.file, d.line, d.column) for d in config.diagnostics]
