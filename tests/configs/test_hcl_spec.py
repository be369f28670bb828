"""Cases from HCL's native syntax specification and its specsuite that l4plan must agree with."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"a ${~ "b" ~} c"', "abc"),
        ('"a\n  ${~ "b"} c"', "ab c"),
        ('"a ${"b" ~}\n  c"', "a bc"),
        ('"${~ 1 ~}"', 1),  # still a single interpolation: the value itself
        ('"x ${~1~} y"', "x1y"),
    ],
)
def test_strip_markers_in_interpolations(value_of, expression, expected):
    assert value_of(expression) == expected


def test_strip_markers_in_heredoc_interpolations(value_of):
    assert value_of('<<EOT\na   ${~ "b" ~}\n  c\nEOT\n') == "abc\n"


def test_strip_marker_interpolation_errors_point_inside(problem_of):
    code, line, column, _ = problem_of('"${~ nope ~}"')
    assert (code, line, column) == ("L4E015", 2, 16)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"an\\u0303os"', "a\u00f1os"),
        ('"an\u0303os"', "a\u00f1os"),
        ('"${"x"}e\\u0301"', "x\u00e9"),
        ("<<EOT\nan\u0303os\nEOT\n", "a\u00f1os\n"),
    ],
)
def test_string_literals_are_nfc_normalised(value_of, expression, expected):
    assert value_of(expression) == expected


# The specsuite's flush heredocs (hashicorp/hcl specsuite/tests/expressions/heredoc.hcl):
# the smallest number of leading whitespace characters of the lines, counting any
# Unicode space as one character, is removed from every line.
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("    Foo\n    Bar\n    Baz\n  ", "Foo\nBar\nBaz\n"),
        ("    Foo\n      Bar\n    Baz\n  ", "Foo\n  Bar\nBaz\n"),
        ("    Foo\n  Bar\n    Baz\n  ", "  Foo\nBar\n  Baz\n"),
        ("\tFoo\n  Bar\n  Baz\n  ", "Foo\n Bar\n Baz\n"),
        ("   \u2003\u2003Foo\n    Bar\n    Baz\n  ", "\u2003Foo\nBar\nBaz\n"),
        ("\u3000Foo\n\u3000Bar\n", "Foo\nBar\n"),
        ("    Foo\n\n    Bar\n\n    Baz\n  ", "Foo\n\nBar\n\nBaz\n"),
        ("    Foo\n  ${local.space_bar}\n    Baz\n  ", "  Foo\n  Bar\n  Baz\n"),
    ],
)
def test_flush_heredoc_removes_the_common_leading_whitespace(value_of, body, expected):
    prelude = 'locals {\n  space_bar = "  Bar"\n}\n'
    assert value_of(f"<<-EOT\n{body}EOT\n", prelude) == expected
