"""`l4plan fmt`: rewrite configuration files in the canonical layout.

Behaves like `terraform fmt`: targets are files or directories (default: the current
directory; `-` reads standard input and writes the result to standard output); the
names of files that change are listed; `--check` changes nothing and exits 1 when a
file would change; a file that does not parse is reported with file, line and column
and makes the command exit 1.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Iterator
from enum import Enum
from pathlib import Path

import click

from l4plan import codes
from l4plan.cli.context import CliContext
from l4plan.configs.hcl.fmt import format_source
from l4plan.diagnostics import Diagnostic, DiagnosticError, Pos

# Files a directory target contributes: configurations (*.hcl, *.l4.hcl) and
# variable files (*.l4vars), which are HCL too.
SUFFIXES = (".hcl", ".l4vars")
STDIN = "-"


class Outcome(Enum):
    """What happened to one file."""

    SAME = "same"
    CHANGED = "changed"
    FAILED = "failed"


@click.command("fmt")
@click.argument("targets", nargs=-1, metavar="[DIR|FILE|-]...")
@click.option(
    "--list/--no-list",
    "list_files",
    default=True,
    show_default=True,
    help="List files whose formatting differs.",
)
@click.option(
    "--write/--no-write",
    default=True,
    show_default=True,
    help="Write the result to the source file instead of only listing it.",
)
@click.option("--diff", "show_diff", is_flag=True, help="Print the differences.")
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; exit 1 when any file is not in canonical layout.",
)
@click.option("--recursive", is_flag=True, help="Also process subdirectories.")
@click.pass_obj
def fmt_command(
    obj: CliContext,
    targets: tuple[str, ...],
    list_files: bool,
    write: bool,
    show_diff: bool,
    check: bool,
    recursive: bool,
) -> None:
    """Rewrite configuration files in the canonical layout, keeping every comment."""
    targets = targets or (".",)
    for target in targets:
        if target != STDIN and not Path(target).exists():
            raise click.ClickException(f"no file or directory at {target}")
    write = write and not check
    outcomes: set[Outcome] = set()
    for target in targets:
        if target == STDIN:
            outcomes.add(_format_stdin(write=write, show_diff=show_diff, color=obj.color))
            continue
        for file in _files(Path(target), recursive=recursive):
            outcomes.add(
                _format_file(
                    file, list_files=list_files, write=write, show_diff=show_diff, color=obj.color
                )
            )
    if Outcome.FAILED in outcomes or (check and Outcome.CHANGED in outcomes):
        raise click.exceptions.Exit(1)


def _files(path: Path, *, recursive: bool) -> Iterator[Path]:
    """The files `path` names: itself, or the HCL files in it (sorted; no dot-dirs)."""
    if not path.is_dir():
        yield path
        return
    if not recursive:
        yield from sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))
        return
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.endswith(SUFFIXES):
                yield Path(root) / name


def _format_file(
    path: Path, *, list_files: bool, write: bool, show_diff: bool, color: bool
) -> Outcome:
    """Format one file, telling whether it changed or could not be formatted."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        _print_diagnostic(
            Diagnostic.at(codes.LOAD, f"cannot read: {exc.strerror}", Pos(name, 0, 0)), None, color
        )
        return Outcome.FAILED
    text = _decode(data, name, color)
    if text is None:
        return Outcome.FAILED
    formatted = _format(text, name, color)
    if formatted is None:
        return Outcome.FAILED
    if formatted == text:
        return Outcome.SAME
    if list_files:
        click.echo(name)
    if show_diff:
        click.echo(_diff(text, formatted, name), nl=False)
    if write:
        _write_atomically(path, formatted)
    return Outcome.CHANGED


def _format_stdin(*, write: bool, show_diff: bool, color: bool) -> Outcome:
    data = click.get_binary_stream("stdin").read()
    text = _decode(data, "<stdin>", color)
    if text is None:
        return Outcome.FAILED
    formatted = _format(text, "<stdin>", color)
    if formatted is None:
        return Outcome.FAILED
    if show_diff and formatted != text:
        click.echo(_diff(text, formatted, "<stdin>"), nl=False)
    if write:
        click.echo(formatted, nl=False)
    return Outcome.SAME if formatted == text else Outcome.CHANGED


def _decode(data: bytes, name: str, color: bool) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        message = f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x})"
        _print_diagnostic(Diagnostic.at(codes.LOAD, message, Pos(name, line, column)), None, color)
        return None


def _format(text: str, name: str, color: bool) -> str | None:
    try:
        return format_source(text, filename=name)
    except DiagnosticError as exc:
        for diagnostic in exc.diagnostics:
            _print_diagnostic(diagnostic, text, color)
        return None


def _print_diagnostic(diagnostic: Diagnostic, text: str | None, color: bool) -> None:
    """`file:line:col: error: message`, then the source line with a caret."""
    label = click.style("error", fg="red", bold=True) if color else "error"
    where = f"{diagnostic.location}: " if diagnostic.line else f"{diagnostic.file}: "
    click.echo(f"{where}{label}: {diagnostic.message}", err=True)
    if text is None or diagnostic.line < 1:
        return
    lines = text.splitlines()
    if diagnostic.line > len(lines):
        return
    source_line = lines[diagnostic.line - 1].replace("\t", " ")
    gutter = f"{diagnostic.line:>5} | "
    click.echo(f"{gutter}{source_line}", err=True)
    click.echo(" " * (len(gutter) - 2) + "| " + " " * (diagnostic.column - 1) + "^", err=True)


def _diff(old: str, new: str, name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"old/{name}",
        tofile=f"new/{name}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` by a fully written copy, keeping its permission bits."""
    mode = path.stat().st_mode & 0o7777
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".fmt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
