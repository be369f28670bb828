"""The configuration layer stays in small modules, one concern each (docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[2] / "l4plan" / "configs"
MAX_LINES = 450


def test_no_configs_module_is_over_450_lines():
    sizes = {
        str(p.relative_to(CONFIGS)): len(p.read_text(encoding="utf-8").splitlines())
        for p in CONFIGS.rglob("*.py")
    }
    assert len(sizes) > 40
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_every_configs_package_says_what_it_holds():
    for init in CONFIGS.rglob("__init__.py"):
        assert init.read_text(encoding="utf-8").lstrip().startswith('"""'), init
