"""Terraform-shaped diff lines: symbols, indentation, values, colours.

A line at nesting `level` puts its symbol so that the text starts at column
`4 + 4 * level`; three-character symbols (`-/+`) stretch to the left, as in
Terraform's output. Closing brackets line up with the text of their opening line.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import click

from l4plan.configs.model import UNKNOWN

UNKNOWN_TEXT = "(known after apply)"
SENSITIVE_TEXT = "(sensitive value)"
FORCES = "# forces replacement"

_COLORS = {"+": "green", "-": "red", "~": "yellow"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class Lines:
    """Collects output lines; colours symbols when `color` is on."""

    def __init__(self, color: bool) -> None:
        self.color = color
        self.lines: list[str] = []

    def style(self, text: str, **kwargs: Any) -> str:
        return click.style(text, **kwargs) if self.color else text

    def symbol(self, sym: str) -> str:
        if not self.color or sym == " ":
            return sym
        return "".join(click.style(ch, fg=_COLORS[ch]) if ch in _COLORS else ch for ch in sym)

    def add(self, level: int, sym: str, text: str, *, forces: bool = False) -> None:
        pad = 2 + 4 * level - (len(sym) - 1)
        suffix = " " + self.style(FORCES, fg="red") if forces else ""
        self.lines.append(" " * pad + self.symbol(sym) + " " + text + suffix)

    def close(self, level: int, text: str = "}") -> None:
        self.lines.append(" " * (4 + 4 * level) + text)

    def comment(self, level: int, text: str) -> None:
        self.lines.append(" " * (4 + 4 * level) + self.style(f"# {text}", dim=True))

    def blank(self) -> None:
        self.lines.append("")

    def text(self, text: str = "") -> None:
        self.lines.append(text)

    def render(self) -> str:
        return "\n".join(self.lines)


def scalar(value: Any) -> str:
    if value is UNKNOWN:
        return UNKNOWN_TEXT
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def key_text(key: str) -> str:
    return key if _IDENT.match(key) else json.dumps(key, ensure_ascii=False)


def is_complex(value: Any) -> bool:
    return isinstance(value, list | dict) and bool(value)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def emit_value(
    out: Lines,
    level: int,
    sym: str,
    head: str,
    value: Any,
    *,
    sensitive: bool = False,
    tail: str = "",
    forces: bool = False,
    item_sym: str | None = None,
) -> None:
    """Write `head` + value; lists and maps span lines, their items marked
    `item_sym` (by default `sym`)."""
    inner = sym if item_sym is None else item_sym
    if sensitive:
        out.add(level, sym, head + SENSITIVE_TEXT + tail, forces=forces)
    elif isinstance(value, list) and value:
        out.add(level, sym, head + "[", forces=forces)
        for item in value:
            emit_value(out, level + 1, inner, "", item, tail=",")
        out.close(level, "]" + tail)
    elif isinstance(value, dict) and value:
        out.add(level, sym, head + "{", forces=forces)
        width = max(len(key_text(k)) for k in value)
        for k in sorted(value):
            emit_value(out, level + 1, inner, f"{key_text(k):<{width}} = ", value[k])
        out.close(level, "}" + tail)
    else:
        out.add(level, sym, head + scalar(value) + tail, forces=forces)


def emit_update(
    out: Lines,
    level: int,
    head: str,
    before: Any,
    after: Any,
    *,
    sensitive: bool = False,
    forces: bool = False,
    unordered: bool = False,
) -> None:
    """Write a changed value as Terraform does: `~ x = a -> b`, or item by item."""
    if sensitive:
        out.add(level, "~", head + SENSITIVE_TEXT, forces=forces)
    elif after is UNKNOWN:
        emit_value(
            out, level, "~", head, before, tail=" -> " + UNKNOWN_TEXT, forces=forces, item_sym=" "
        )
    elif isinstance(before, list) and isinstance(after, list):
        _emit_list_update(out, level, head, before, after, unordered=unordered, forces=forces)
    elif isinstance(before, dict) and isinstance(after, dict):
        _emit_map_update(out, level, head, before, after, forces=forces)
    elif is_complex(before) or is_complex(after):
        if before is None:
            emit_value(out, level, "+", head, after, forces=forces)
        elif after is None:
            emit_value(out, level, "-", head, before, tail=" -> null", forces=forces)
        else:
            emit_value(out, level, "-", head, before, forces=forces)
            emit_value(out, level, "+", head, after)
    else:
        out.add(level, "~", f"{head}{scalar(before)} -> {scalar(after)}", forces=forces)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _emit_list_update(
    out: Lines,
    level: int,
    head: str,
    before: list[Any],
    after: list[Any],
    *,
    unordered: bool,
    forces: bool,
) -> None:
    if unordered:
        before, after = sorted(before, key=_canon), sorted(after, key=_canon)
    out.add(level, "~", head + "[", forces=forces)
    hidden = 0
    matcher = difflib.SequenceMatcher(
        None, [_canon(v) for v in before], [_canon(v) for v in after], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            hidden += i2 - i1
            continue
        for item in before[i1:i2]:
            emit_value(out, level + 1, "-", "", item, tail=",")
        for item in after[j1:j2]:
            emit_value(out, level + 1, "+", "", item, tail=",")
    if hidden:
        out.comment(level + 1, f"({plural(hidden, 'unchanged element')} hidden)")
    out.close(level, "]")


def _emit_map_update(
    out: Lines,
    level: int,
    head: str,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    forces: bool,
) -> None:
    out.add(level, "~", head + "{", forces=forces)
    keys = sorted(set(before) | set(after))
    width = max((len(key_text(k)) for k in keys), default=0)
    hidden = 0
    for k in keys:
        name = f"{key_text(k):<{width}} = "
        if k not in after:
            emit_value(out, level + 1, "-", name, before[k], tail=" -> null")
        elif k not in before:
            emit_value(out, level + 1, "+", name, after[k])
        elif before[k] != after[k]:
            emit_update(out, level + 1, name, before[k], after[k])
        else:
            hidden += 1
    if hidden:
        out.comment(level + 1, f"({plural(hidden, 'unchanged element')} hidden)")
    out.close(level, "}")
