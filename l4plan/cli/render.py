"""Human rendering of diagnostics, Terraform style, shared by every command.

Error: rule[0].edge_port "80,80" is malformed: ...

  on main.l4.hcl line 12, in resource "l4_application" "game":
  12:     edge_port = "80,80"
                          ^
  (L4E003)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import click

from l4plan.diagnostics import Diagnostic

_RESOURCE = re.compile(r"^(l4_[a-z_]+)\.([A-Za-z0-9_-]+)")
_NAME_END = re.compile(r"[.\[]")
_BLOCKS = {"agent": "agent", "var": "variable", "output": "output"}


def block_label(address: str) -> str:
    """The block an address lives in: `resource "l4_application" "game"`, `agent "hz1"`."""
    m = _RESOURCE.match(address)
    if m:
        return f'resource "{m.group(1)}" "{m.group(2)}"'
    kind, _, name = address.partition(".")
    if kind == "local":
        return "locals"
    if kind in _BLOCKS and name:
        return f'{_BLOCKS[kind]} "{_NAME_END.split(name)[0]}"'
    return ""


class _Sources:
    """Source lines per file, split once however many diagnostics point into a file."""

    def __init__(self, config_files: dict[str, str]):
        self._files = config_files
        self._lines: dict[str, list[str]] = {}

    def lines(self, file: str) -> list[str]:
        if file not in self._lines:
            self._lines[file] = self._files.get(file, "").splitlines()
        return self._lines[file]


def _source_lines(diag: Diagnostic, sources: _Sources) -> list[str]:
    lines = sources.lines(diag.file)
    if not 1 <= diag.line <= len(lines):
        return []
    text = lines[diag.line - 1]
    gutter = f"  {diag.line}: "
    column = min(max(diag.column, 1), len(text) + 1)
    # keep tabs so the caret lines up under them
    lead = "".join(c if c == "\t" else " " for c in text[: column - 1])
    return [f"{gutter}{text}", " " * len(gutter) + lead + "^"]


def _render(diag: Diagnostic, sources: _Sources, color: bool) -> str:
    title = "Error" if diag.is_error else "Warning"
    head = f"{title}:"
    if color:
        head = click.style(head, fg="red" if diag.is_error else "yellow", bold=True)
    lines = [f"{head} {diag.message}"]
    located = bool(diag.file) and diag.line >= 1  # not for "no files in DIR" and the like
    if located:
        where = f"  on {diag.file} line {diag.line}"
        label = block_label(diag.address)
        lines += ["", f"{where}, in {label}:" if label else f"{where}:"]
        lines += _source_lines(diag, sources)
    code = f"  ({diag.code})" if located else f"({diag.code})"
    lines.append(click.style(code, dim=True) if color else code)
    return "\n".join(lines)


def render_diagnostics(
    diags: Iterable[Diagnostic], config_files: dict[str, str], color: bool
) -> str:
    """Every diagnostic, separated by blank lines; ends with a newline when non-empty."""
    sources = _Sources(config_files)
    blocks = [_render(d, sources, color) for d in diags]
    return "\n\n".join(blocks) + "\n" if blocks else ""
