"""Paths into attribute values: unknown and sensitive marks, masking, mirrors.

A mirror is Terraform's way to mark parts of a value in JSON (`after_unknown`,
`before_sensitive`): the value's shape with `true` where the mark applies; objects
leave unmarked keys out, lists keep positions with `false`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from l4plan.configs.model import UNKNOWN, is_wholly_known
from l4plan.plans.model import Path

_INDEX = re.compile(r"\[(\d+|\"[^\"]*\")\]")


def parse_path(dotted: str) -> Path:
    """`rule.0.origin` or `rule[0].origin` -> ("rule", 0, "origin")."""
    dotted = _INDEX.sub(lambda m: "." + m.group(1).strip('"'), dotted)
    return tuple(int(p) if p.isdigit() else p for p in dotted.split(".") if p)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def covered(paths: Iterable[Path], path: Path) -> bool:
    """Whether `path` or one of its parents is in `paths`."""
    marked = set(paths)
    return any(path[:n] in marked for n in range(len(path) + 1))


def unknown_paths(value: Any, prefix: Path = ()) -> list[Path]:
    if value is UNKNOWN:
        return [prefix]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in unknown_paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in unknown_paths(v, (*prefix, i))]
    return []


def unknown_mirror(value: Any) -> Any:
    """The mirror of where `value` is unknown; False when it is wholly known."""
    if value is UNKNOWN:
        return True
    if is_wholly_known(value):
        return False
    if isinstance(value, dict):
        return {k: m for k, v in value.items() if (m := unknown_mirror(v)) is not False}
    return [unknown_mirror(v) for v in value]


def to_mirror(paths: Iterable[Path]) -> dict[str, Any]:
    """Paths -> a mirror object (the root is always an object)."""
    root: dict[str, Any] = {}
    for path in sorted(set(paths), key=len):
        if not path:
            continue
        _mark(root, path)
    return root


def _mark(node: Any, path: Path) -> None:
    head, rest = path[0], path[1:]
    if isinstance(node, list):
        assert isinstance(head, int)
        node.extend([False] * (head + 1 - len(node)))
        if not rest:
            node[head] = True
        elif node[head] is not True:
            if node[head] is False:
                node[head] = [] if isinstance(rest[0], int) else {}
            _mark(node[head], rest)
        return
    if not rest:
        node[head] = True
    elif node.get(head) is not True:
        if head not in node:
            node[head] = [] if isinstance(rest[0], int) else {}
        _mark(node[head], rest)


def from_mirror(mirror: Any, prefix: Path = ()) -> set[Path]:
    if mirror is True:
        return {prefix}
    if isinstance(mirror, dict):
        return {p for k, v in mirror.items() for p in from_mirror(v, (*prefix, k))}
    if isinstance(mirror, list):
        return {p for i, v in enumerate(mirror) for p in from_mirror(v, (*prefix, i))}
    return set()


def _parent(root: Any, path: Path) -> Any:
    """The container holding `path[-1]`, or None when the path does not exist."""
    node = root
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(node, dict) and path[-1] in node:
        return node
    if isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
        return node
    return None


def replace_at(value: Any, paths: Iterable[Path], replacement: Any) -> Any:
    """A copy of `value` with whatever sits at each existing path replaced."""
    result = copy.deepcopy(value)
    for path in sorted(set(paths), key=len):
        if not path:
            return replacement
        parent = _parent(result, path)
        if parent is not None:
            parent[path[-1]] = replacement
    return result


def with_unknowns(value: Any, paths: Iterable[Path]) -> Any:
    """Put UNKNOWN back at `paths` (the reverse of nulling unknowns for JSON)."""
    return replace_at(value, paths, UNKNOWN)
