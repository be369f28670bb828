"""The canonical layout of HCL source, as printed by `l4plan fmt`.

`format_source` parses into the raw lark tree of the loader's grammar (grammar.py,
which keeps every comment in `new_line_or_comment` tokens) and prints it back with
canonical whitespace only, the
way Terraform's `hclwrite` does: the tree is flattened into a stream of atoms
(printable tokens), line breaks and structure markers; the stream is cut into lines;
each line gets its indentation from the constructs still open at its start; runs of
single-line assignments get their `=` aligned. Strings, heredocs and comment texts
are copied byte for byte, so the meaning of the file never changes. docs/fmt.md lists
the rules and the decisions behind them.
"""

from __future__ import annotations

from lark.exceptions import UnexpectedInput

from l4plan.configs.hcl.fmt.errors import syntax_diagnostic
from l4plan.configs.hcl.fmt.flatten import Flattener
from l4plan.configs.hcl.fmt.items import BYTE_ORDER_MARK, SYNTAX_ERROR_CODE
from l4plan.configs.hcl.fmt.layout import layout_lines, render
from l4plan.configs.hcl.grammar import layout_parser
from l4plan.diagnostics import Diagnostic, DiagnosticError, Pos

__all__ = ["format_source"]


def format_source(text: str, *, filename: str) -> str:
    """The canonical layout of `text`; raises DiagnosticError when it does not parse.

    `filename` only names the file in the diagnostic. A leading byte order mark is
    dropped: the canonical file is plain UTF-8.
    """
    text = text.removeprefix(BYTE_ORDER_MARK)
    source = text + "\n"  # the grammar needs a final newline
    try:
        tree = layout_parser().parse(source)
    except UnexpectedInput as exc:
        raise DiagnosticError([syntax_diagnostic(exc, text, filename)]) from None
    printer = Flattener(source)
    try:
        printer.start(tree)
    except RecursionError:
        pos = Pos(filename, 1, 1)
        message = "expressions are nested too deeply to format"
        raise DiagnosticError([Diagnostic.at(SYNTAX_ERROR_CODE, message, pos)]) from None
    return render(layout_lines(printer.items))
