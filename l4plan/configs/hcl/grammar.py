"""python-hcl2's grammar, as l4plan parses it, lark's LALR parser built from it, and the
driver tables `lalr.parse` runs, cached between processes.

Building lark's parser and extracting the tables takes longer than parsing a small
configuration, so the tables are kept as JSON (no code: safe to read) in the
user's cache directory, under a name that hashes the grammar and the installed
files of lark and python-hcl2 (so an upgrade of either builds them again). lark
and python-hcl2 are imported only when the tables are built or a syntax error is
described.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from l4plan.configs.hcl import lalr

if TYPE_CHECKING:
    from lark import Lark

# python-hcl2's grammar lacks HCL's strip markers in interpolations (`${~ x ~}`);
# its directives have them. The one rule is extended the same way.
_INTERPOLATION_RULE = "interpolation: INTERP_START expression RBRACE"
_INTERPOLATION_WITH_STRIP = (
    "interpolation: INTERP_START STRIP_MARKER? expression STRIP_MARKER? RBRACE"
)
_TABLES_FORMAT = "1"


def _origin(package: str) -> str:
    """The `__init__.py` of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None, f"{package} is a dependency"
    return spec.origin


@cache
def grammar() -> str:
    """python-hcl2's `hcl2.lark`, with strip markers allowed in interpolations."""
    text = (Path(_origin("hcl2")).parent / "hcl2.lark").read_text(encoding="utf-8")
    if _INTERPOLATION_RULE not in text:
        raise RuntimeError(f"hcl2.lark has no rule {_INTERPOLATION_RULE!r} to extend")
    return text.replace(_INTERPOLATION_RULE, _INTERPOLATION_WITH_STRIP)


@cache
def parser() -> Lark:
    return _lark(propagate_positions=False)


@cache
def layout_parser() -> Lark:
    """The same grammar with node positions, for `fmt`, which copies source spans."""
    return _lark(propagate_positions=True)


def _lark(*, propagate_positions: bool) -> Lark:
    from hcl2.postlexer import PostLexer
    from lark import Lark

    return Lark(
        grammar(),
        parser="lalr",
        propagate_positions=propagate_positions,
        postlex=PostLexer(),
        cache=True,
    )


@cache
def parse_tables() -> lalr.Tables:
    """The driver tables, from the cache when it holds them for this grammar."""
    try:
        path = _tables_path()
    except (OSError, RuntimeError):  # no home directory: no cache
        return lalr.tables(parser())
    try:
        return lalr.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    tables = lalr.tables(parser())
    _store(path, tables)
    return tables


def _store(path: Path, tables: lalr.Tables) -> None:
    """Write the tables to the cache atomically; without a cache directory, do nothing
    (every process then builds them)."""
    import tempfile  # only a process that built the tables writes them

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
        ) as f:
            json.dump(lalr.to_json(tables), f)
        os.replace(f.name, path)
    except OSError:
        pass


def _tables_path() -> Path:
    installed = [_TABLES_FORMAT]
    for package in ("lark", "hcl2"):
        origin = Path(_origin(package))
        stat = origin.stat()
        installed.append(f"{origin}:{stat.st_size}:{stat.st_mtime_ns}")
    key = hashlib.sha256("\0".join([*installed, grammar()]).encode()).hexdigest()[:20]
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "l4plan" / f"hcl-tables-{key}.json"
