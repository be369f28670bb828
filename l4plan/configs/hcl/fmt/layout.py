"""Cutting the item stream into lines, indenting them, aligning `=`, printing them."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from l4plan.configs.hcl.fmt.items import (
    CLOSERS,
    INDENT_WIDTH,
    NEWLINE,
    OPENERS,
    Atom,
    Close,
    Item,
    ItemEnd,
    ItemStart,
    Kind,
    Open,
    Role,
)

# --------------------------------------------------------------------------- layout


@dataclass(slots=True)
class _Line:
    items: list[Item]
    indent: int = 0

    @property
    def atoms(self) -> list[Atom]:
        return [item for item in self.items if isinstance(item, Atom)]

    @property
    def blank(self) -> bool:
        return not any(isinstance(item, Atom) for item in self.items)


def layout_lines(items: list[Item]) -> list[_Line]:
    lines = _normalize_blank_lines(_split_lines(items))
    _separate_top_level_blocks(lines)
    _indent(lines)
    return lines


def _split_lines(items: list[Item]) -> list[_Line]:
    lines = [_Line([])]
    for item in items:
        if item is NEWLINE:
            lines.append(_Line([]))
        else:
            lines[-1].items.append(item)
    return lines


def _normalize_blank_lines(lines: list[_Line]) -> list[_Line]:
    """No blank line at either end of the file, never two in a row.

    Markers on a dropped blank line move to the next line that is kept.
    """
    kept: list[_Line] = []
    carried: list[Item] = []
    for line in lines:
        if line.blank:
            carried.extend(line.items)
            if kept and not kept[-1].blank:
                kept.append(_Line([]))
            continue
        kept.append(_Line(carried + line.items))
        carried = []
    while kept and kept[-1].blank:
        kept.pop()
    if carried and kept:
        kept[-1].items.extend(carried)
    return kept


def _separate_top_level_blocks(lines: list[_Line]) -> None:
    """One blank line between a top-level block and its neighbours.

    The blank line goes right after the earlier item, so comments written directly
    above the next item stay attached to it.
    """
    spans: list[tuple[int, int, bool]] = []  # (first line, last line, is a block)
    for number, line in enumerate(lines):
        for item in line.items:
            if isinstance(item, ItemStart):
                spans.append((number, number, item.is_block))
            elif isinstance(item, ItemEnd):
                first, _, is_block = spans[-1]
                spans[-1] = (first, number, is_block)
    insert_after: list[int] = []
    for (_, end, block_a), (start, _, block_b) in pairwise(spans):
        if (block_a or block_b) and not any(lines[n].blank for n in range(end + 1, start)):
            insert_after.append(end)
    for number in reversed(insert_after):
        lines.insert(number + 1, _Line([]))


def _indent(lines: list[_Line]) -> None:
    """Two spaces per open construct, counted per line as `terraform fmt` does.

    A line is indented one level deeper than the line on which the innermost construct
    still open at its start was opened; a line that starts by closing a construct is
    indented like the line that opened it. So `foo([` followed by an element and `])`
    indents the element once, not twice.
    """
    opened_on: list[int] = []
    for number, line in enumerate(lines):
        last_closed: int | None = None
        opens = 0  # constructs opened on this line before its first atom
        position = 0
        while position < len(line.items) and not isinstance(line.items[position], Atom):
            item = line.items[position]
            if isinstance(item, Close):
                last_closed = opened_on.pop()
            elif isinstance(item, Open):
                opens += 1
            position += 1
        if position < len(line.items):
            first = line.items[position]
            assert isinstance(first, Atom)
            if first.kind in CLOSERS and last_closed is not None:
                line.indent = lines[last_closed].indent
            elif opened_on:
                line.indent = lines[opened_on[-1]].indent + INDENT_WIDTH
        opened_on.extend([number] * opens)
        for item in line.items[position:]:
            if isinstance(item, Close):
                opened_on.pop()
            elif isinstance(item, Open):
                opened_on.append(number)


def _space_between(before: Kind, after: Kind) -> bool:
    """Whether one space separates two atoms on a line (after hclwrite's rules)."""
    if before is Kind.COMMENT or after is Kind.COMMENT:
        return True
    if after in (Kind.COMMA, Kind.ELLIPSIS, Kind.OBJ_COLON, Kind.PAREN_CLOSE, Kind.BRACKET_CLOSE):
        return False
    if before is Kind.COMMA:
        return True
    if Kind.DOT in (before, after) or Kind.SPLAT in (before, after):
        return False
    if Kind.COLONS in (before, after):
        return False
    if after in (Kind.CALL_OPEN, Kind.INDEX_OPEN) or before is Kind.UNARY:
        return False
    if before is Kind.BRACE_OPEN:
        return after is not Kind.BRACE_CLOSE
    if after is Kind.BRACE_CLOSE:
        return True
    return before not in OPENERS


def _join(atoms: list[Atom], aligned: tuple[Atom, int] | None = None) -> str:
    """The atoms of one line; `aligned` is an `=` with the spaces to put before it."""
    parts = [atoms[0].text]
    for before, after in pairwise(atoms):
        if aligned is not None and after is aligned[0]:
            parts.append(" " * aligned[1])
        elif _space_between(before.kind, after.kind):
            parts.append(" ")
        parts.append(after.text)
    return "".join(parts)


def _assignment_lead(atoms: list[Atom]) -> tuple[Atom, int] | None:
    """The `=` and the width before it when the line is one single-line assignment.

    A trailing comma (object element) and a trailing comment may follow the value.
    """
    first = atoms[0]
    if first.role is not Role.START:
        return None
    values = [atom for atom in atoms if atom.kind is not Kind.COMMENT]
    last = values[-1]
    if last.kind is Kind.COMMA and len(values) > 1:
        last = values[-2]
    if last.role is not Role.END or last.assignment != first.assignment:
        return None
    for position, atom in enumerate(atoms):
        if atom.role is Role.EQ and atom.assignment == first.assignment:
            lead = atoms[:position]
            if any("\n" in a.text for a in lead):
                return None
            return atom, len(_join(lead))
    return None


def render(lines: list[_Line]) -> str:
    """Text of the laid-out lines, with the `=` of each run of assignments aligned.

    A run is a sequence of consecutive lines at one indentation, each holding one
    single-line assignment; blank lines, comment lines, block headers and anything
    else end it, as does a line whose value spans lines (a heredoc).
    """
    aligned: dict[int, tuple[Atom, int]] = {}
    run: list[tuple[int, Atom, int]] = []  # (line number, its `=`, width before it)

    def close_run() -> None:
        widest = max((lead for _, _, lead in run), default=0)
        for number, eq, lead in run:
            aligned[number] = (eq, widest - lead + 1)
        run.clear()

    for number, line in enumerate(lines):
        atoms = line.atoms
        assignment = _assignment_lead(atoms) if atoms else None
        if assignment is None or (run and lines[run[-1][0]].indent != line.indent):
            close_run()
        if assignment is not None:
            run.append((number, *assignment))
            if any("\n" in atom.text for atom in atoms):
                close_run()
    close_run()

    out = []
    for number, line in enumerate(lines):
        atoms = line.atoms
        if not atoms:
            out.append("")
            continue
        out.append(" " * line.indent + _join(atoms, aligned.get(number)))
    return "\n".join(out) + "\n" if out else ""
