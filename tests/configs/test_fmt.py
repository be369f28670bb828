"""`l4plan fmt`: the canonical layout keeps meaning and every comment, and is idempotent.

The fixtures in tests/fixtures/fmt come in pairs, `NAME.in.EXT` and the expected
`NAME.out.EXT`. Meaning is checked two ways that do not depend on the formatter:
python-hcl2's `loads` (comments left out) gives the same dict, and the parse trees
are equal once line breaks and comments are removed. The command line is exercised
as a real process.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import hcl2
import pytest
from hcl2.utils import SerializationOptions
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from l4plan.configs.hcl.fmt import format_source
from l4plan.diagnostics import DiagnosticError

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "fmt"
EXAMPLES = REPO / "examples"
ENTRY = "from l4plan.cli.main import main; main()"

INPUTS = sorted(FIXTURES.glob("*.in.*"))
EXAMPLE_FILES = sorted(
    p for p in EXAMPLES.rglob("*") if p.is_file() and p.name.endswith((".hcl", ".l4vars"))
)
ALL_SOURCES = INPUTS + sorted(FIXTURES.glob("*.out.*")) + EXAMPLE_FILES


def _expected(path: Path) -> Path:
    return path.with_name(path.name.replace(".in.", ".out."))


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _fmt(text: str) -> str:
    return format_source(text, filename="test.hcl")


def _id(path: Path) -> str:
    return str(path.relative_to(REPO))


# --------------------------------------------------------------------------- oracles

NO_COMMENTS = SerializationOptions(with_comments=False)
COMMENT = re.compile(r"#[^\n]*|//[^\n]*|/\*[\s\S]*?\*/")
# token types into which python-hcl2 merges a preceding line break or comment
MERGING_OPERATORS = {
    "PLUS": "+",
    "ASTERISK": "*",
    "SLASH": "/",
    "PERCENT": "%",
    "DOUBLE_EQ": "==",
    "NEQ": "!=",
    "LT": "<",
    "GT": ">",
    "LEQ": "<=",
    "GEQ": ">=",
    "DOUBLE_AMP": "&&",
    "DOUBLE_PIPE": "||",
    "QMARK": "?",
}


def comments(text: str) -> list[str]:
    """Every comment in source order (line comments without trailing blanks)."""
    found: list[str] = []
    for token in hcl2.parses_to_tree(text).scan_values(lambda v: isinstance(v, Token)):
        if token.type == "NL_OR_COMMENT" or token.type in MERGING_OPERATORS:
            for comment in COMMENT.findall(str(token)):
                block = comment.startswith("/*")
                found.append(comment.replace("\r\n", "\n") if block else comment.rstrip())
    return found


def meaning(text: str) -> dict:
    return hcl2.loads(text, serialization_options=NO_COMMENTS)


def shape(node: Tree | Token) -> tuple:
    """The parse tree without line breaks, comments or the blanks inside tokens. A
    minus before a number literal is the negative literal: python-hcl2 lexes `-4096`
    after some tokens (`? 0 : -4096`) as one literal and `- 4096` as an operator, and
    fmt writes a unary operator against its operand, as `terraform fmt` does."""
    if isinstance(node, Token):
        if node.type in MERGING_OPERATORS:
            return (node.type,)
        return (node.type, str(node).strip(" \t"))
    negative = _negative_literal(node)
    if negative is not None:
        return negative
    kept = [
        child
        for child in node.children
        if not (isinstance(child, Tree) and child.data == "new_line_or_comment")
        and not (isinstance(child, Token) and child.type == "NL_OR_COMMENT")
    ]
    return (str(node.data), tuple(shape(child) for child in kept))


def _negative_literal(node: Tree) -> tuple | None:
    """The shape of `-N` for a unary minus applied to the number literal N."""
    if node.data != "unary_op" or len(node.children) != 2:
        return None
    sign, operand = node.children
    if not (isinstance(sign, Token) and sign.type == "MINUS" and isinstance(operand, Tree)):
        return None
    literal = operand.children[0] if operand.data == "expr_term" and operand.children else None
    if not (isinstance(literal, Tree) and literal.data in ("int_lit", "float_lit")):
        return None
    (token,) = literal.children
    return ("expr_term", ((literal.data, ((token.type, "-" + str(token).strip(" \t")),)),))


def _trailing_blanks(text: str) -> list[str]:
    return [line for line in text.split("\n") if line != line.rstrip()]


# --------------------------------------------------------------------------- fixtures


def test_fixtures_are_present():
    assert {p.name for p in INPUTS} >= {"comments.in.hcl", "layout.in.hcl", "verbatim.in.hcl"}
    assert all(_expected(p).is_file() for p in INPUTS)
    assert len(comments(_read(FIXTURES / "comments.in.hcl"))) >= 25


@pytest.mark.parametrize("source", INPUTS, ids=_id)
def test_fixture_formats_to_its_expected_output(source: Path):
    assert _fmt(_read(source)) == _read(_expected(source))


@pytest.mark.parametrize("source", ALL_SOURCES, ids=_id)
def test_formatting_is_idempotent(source: Path):
    once = _fmt(_read(source))
    assert _fmt(once) == once


@pytest.mark.parametrize("source", ALL_SOURCES, ids=_id)
def test_formatting_keeps_meaning(source: Path):
    text = _read(source)
    formatted = _fmt(text)
    assert meaning(formatted) == meaning(text)
    assert shape(hcl2.parses_to_tree(formatted)) == shape(hcl2.parses_to_tree(text))


@pytest.mark.parametrize("source", ALL_SOURCES, ids=_id)
def test_formatting_keeps_every_comment(source: Path):
    text = _read(source)
    assert comments(_fmt(text)) == comments(text)


@pytest.mark.parametrize("source", EXAMPLE_FILES, ids=_id)
def test_example_is_canonical(source: Path):
    assert _fmt(_read(source)) == _read(source)


def test_fmt_check_passes_on_the_examples():
    if not EXAMPLE_FILES:
        pytest.skip("no examples yet")
    result = run_fmt("--check", "--recursive", "examples", cwd=REPO)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# --------------------------------------------------------------------------- layout rules


def test_assignments_in_a_run_align_their_equals_signs():
    text = 'b {\n  a = 1\n  long_name = "x"\n  mid = [1, 2]\n}\n'
    assert _fmt(text) == 'b {\n  a         = 1\n  long_name = "x"\n  mid       = [1, 2]\n}\n'


@pytest.mark.parametrize(
    ("separator", "expected_separator"),
    [
        ("\n", "\n"),  # a blank line
        ("  # a comment line\n", "  # a comment line\n"),
        ("  inner { x = 1 }\n", "  inner { x = 1 }\n"),  # a nested block
        ('  multi = [\n    "v",\n  ]\n', '  multi = [\n    "v",\n  ]\n'),  # a multi-line value
    ],
)
def test_a_run_of_assignments_ends_at(separator: str, expected_separator: str):
    text = f"b {{\n  a = 1\n  bb = 2\n{separator}  long_name = 3\n  c = 4\n}}\n"
    expected = (
        f"b {{\n  a  = 1\n  bb = 2\n{expected_separator}  long_name = 3\n  c         = 4\n}}\n"
    )
    assert _fmt(text) == expected


def test_end_of_line_comments_do_not_join_or_break_a_run():
    text = "b {\n  a = 1 # one\n  long = 2   // two\n}\n"
    assert _fmt(text) == "b {\n  a    = 1 # one\n  long = 2 // two\n}\n"


def test_top_level_blocks_are_separated_by_exactly_one_blank_line():
    text = '\n\n\na {}\nb "x" {\n  y = 1\n}\n\n\n\n# about c\nc {}\nd = 1\ne = 2\nf {}\n\n\n'
    expected = 'a {}\n\nb "x" {\n  y = 1\n}\n\n# about c\nc {}\n\nd = 1\ne = 2\n\nf {}\n'
    assert _fmt(text) == expected


def test_blank_lines_inside_a_block_are_kept_but_collapsed():
    text = "b {\n  x = 1\n\n\n\n  y = 2\n}\n"
    assert _fmt(text) == "b {\n  x = 1\n\n  y = 2\n}\n"


def test_indentation_is_two_spaces_per_level():
    text = 'a {\n\tb "x" {\n          c {\n d = 1\n     }\n}\n      }\n'
    assert _fmt(text) == 'a {\n  b "x" {\n    c {\n      d = 1\n    }\n  }\n}\n'


def test_full_line_comments_are_indented_to_their_level():
    text = "a {\n# one\n        // two\n  b {\n/* three */\n  }\n}\n"
    assert _fmt(text) == "a {\n  # one\n  // two\n  b {\n    /* three */\n  }\n}\n"


def test_one_space_around_binary_operators_and_after_commas():
    text = "x = f(1,2)+[3 ,4][0]*-var.y==!var.z\n"
    assert _fmt(text) == "x = f(1, 2) + [3, 4][0] * -var.y == !var.z\n"


def test_single_line_block_keeps_one_attribute_and_expands_several():
    text = 'a { x = 1 }\nb { x = 1  y = "2" }\nc { d { e = 1 } }\n'
    expected = 'a { x = 1 }\n\nb {\n  x = 1\n  y = "2"\n}\n\nc {\n  d { e = 1 }\n}\n'
    assert _fmt(text) == expected


def test_multi_line_collections_keep_their_line_breaks():
    text = 'x = [\n1,\n      2]\ny = f(\n"a",\n  "b")\nz = {\nk = 1\n}\n'
    expected = 'x = [\n  1,\n  2]\ny = f(\n  "a",\n  "b")\nz = {\n  k = 1\n}\n'
    assert _fmt(text) == expected


def test_strings_and_heredocs_are_copied_byte_for_byte():
    heredoc = "<<EOT\n  two  spaces  \n\tTab\n # EOT here\nEOT"
    string = '"${ var.a  +  1 }  %{ if x }y%{ endif }  # no comment"'
    text = f"a = {string}\nb = {heredoc}\n"
    formatted = _fmt(text)
    assert string in formatted
    assert heredoc + "\n" in formatted


def test_trailing_whitespace_goes_and_the_file_ends_with_one_newline():
    formatted = _fmt("a = 1   \t\n# note   \nb = 2")
    assert formatted == "a = 1\n# note\nb = 2\n"
    assert _trailing_blanks(formatted) == []


@pytest.mark.parametrize("text", ["", "\n", "  \n\t\n\n"])
def test_an_empty_file_stays_empty(text: str):
    assert _fmt(text) == ""


def test_a_file_of_comments_only():
    assert _fmt("\n# one   \n\n\n// two\n\n") == "# one\n\n// two\n"


def test_crlf_line_endings_become_lf_without_changing_meaning():
    text = 'a = 1\r\nb {\r\n  c = "x" # crlf\r\n  d = <<EOT\r\nline\r\nEOT\r\n}\r\n'
    formatted = _fmt(text)
    assert formatted == 'a = 1\n\nb {\n  c = "x" # crlf\n  d = <<EOT\r\nline\r\nEOT\n}\n'
    assert meaning(formatted) == meaning(text)
    assert _fmt(formatted) == formatted


def test_a_byte_order_mark_is_dropped():
    assert _fmt("\ufeffa=1\n") == "a = 1\n"


def test_the_opening_brace_joins_the_block_header():
    # python-hcl2's `loads` turns that line break into a block label, so only the
    # parse-tree oracle applies here
    text = 'resource "l4_site" "main"\n{\n  name = "x"\n}\nb # why\n{\n}\n'
    formatted = _fmt(text)
    assert formatted == 'resource "l4_site" "main" {\n  name = "x"\n}\n\nb # why\n{\n}\n'
    assert shape(hcl2.parses_to_tree(formatted)) == shape(hcl2.parses_to_tree(text))
    assert comments(formatted) == comments(text)


def test_a_line_starting_with_an_operator_keeps_its_comment():
    text = "x = var.a # why\n+ var.b\n"
    formatted = _fmt(text)
    assert formatted == "x = var.a # why\n  + var.b\n"
    assert meaning(formatted) == meaning(text)


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("a = }\n", 1, 5, 'unexpected "}"; expected an expression'),
        ("b {\n  a = 1\n", 3, 1, 'unexpected end of file; expected "}"'),
        ('r "a" {\n  x = [1, 2\n}\n', 3, 1, 'unexpected "}"'),
        ("x = foo(1 2)\n", 1, 11, 'unexpected "2"'),
        ("a = 1\n@\n", 2, 1, 'unexpected "@"'),
        ("a = <<EOT\nno end\n", 1, 5, "EOT alone on its closing line"),
    ],
)
def test_a_syntax_error_names_file_line_and_column(text: str, line: int, column: int, message: str):
    with pytest.raises(DiagnosticError) as caught:
        format_source(text, filename="conf/main.l4.hcl")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "L4E000"
    assert (diagnostic.file, diagnostic.line, diagnostic.column) == (
        "conf/main.l4.hcl",
        line,
        column,
    )
    assert diagnostic.message.startswith("syntax error: ")
    assert message in diagnostic.message


# --------------------------------------------------------------------------- properties

NAMES = ["a", "b", "port", "edge_port", "x1", "my-name"]


@dataclass(frozen=True)
class Gap:
    """Room between two tokens: `lines` where the grammar allows a line break there,
    `space` where at least one blank must keep the tokens apart."""

    lines: bool = False
    space: bool = False


@st.composite
def gaps(draw: st.DrawFn, gap: Gap) -> str:
    spaces = " " * draw(st.integers(1 if gap.space else 0, 2))
    choice = draw(st.integers(0, 9)) if gap.lines else 0
    if choice >= 8:
        comment = draw(st.sampled_from(["# c\n", "// d  \n", "/* e */", "/* f\n g */ "]))
        return spaces + comment + " " * draw(st.integers(0, 4))
    if choice >= 6:
        return "\n" + " " * draw(st.integers(0, 6))
    return spaces


LEAVES = st.sampled_from(
    [
        "0",
        "-7",
        "4096",
        "1.5",
        "2e3",
        "true",
        "null",
        '"plain"',
        '"a  b"',
        '"${var.x   +1}"',
        '"%{ if c }y%{ endif }"',
        '"#no-comment"',
        "var.a",
        "l4_site.main.id",
        "a[0]",
        "a.*.b",
        "a[*].b",
        "x.0",
    ]
).map(lambda text: [text])


def _separated(items: list[list], trailing_comma: bool) -> list:
    out: list = []
    for position, item in enumerate(items):
        out += [*item, Gap(lines=True)]
        if position < len(items) - 1 or trailing_comma:
            out += [",", Gap(lines=True)]
    return out


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> list:
    """An expression as tokens and gaps."""
    if depth >= 3:
        return draw(LEAVES)
    sub = expressions(depth + 1)
    kind = draw(st.integers(0, 9))
    if kind <= 3:
        return draw(LEAVES)
    if kind == 4:
        items = draw(st.lists(sub, max_size=3))
        return ["[", Gap(lines=True), *_separated(items, draw(st.booleans())), "]"]
    if kind == 5:
        keys = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
        out: list = ["{", Gap(lines=True)]
        for key in keys:
            separator = draw(st.sampled_from(["=", ":"]))
            end = draw(st.sampled_from([",", "\n"]))
            out += [key, Gap(), separator, Gap(), *draw(sub), end, Gap(lines=True)]
        return [*out, "}"]
    if kind == 6:
        name = draw(st.sampled_from(["length", "join", "provider::p::f"]))
        args = draw(st.lists(sub, max_size=3))
        return [name, "(", Gap(lines=True), *_separated(args, False), ")"]
    if kind == 7:
        operator = draw(st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "<=", "&&", "||"]))
        out = [*draw(sub), Gap(space=True), operator, Gap(lines=True, space=True), *draw(sub)]
        return ["(", *out, ")"] if draw(st.booleans()) else out
    if kind == 8:
        if draw(st.booleans()):
            return [draw(st.sampled_from(["!", "-"])), *draw(LEAVES)]
        between = Gap(lines=True, space=True)
        return [*draw(sub), Gap(space=True), "?", between, *draw(sub), between, ":", between]
    if draw(st.booleans()):
        head = ["[", "for", Gap(space=True), "k", ",", Gap(), "v", Gap(space=True), "in"]
        return [*head, Gap(space=True), *draw(sub), Gap(), ":", Gap(), *draw(sub), "]"]
    head = ["{", Gap(), "for", Gap(space=True), "k", Gap(space=True), "in", Gap(space=True)]
    return [*head, *draw(sub), Gap(), ":", Gap(), "k", Gap(), "=>", Gap(), *draw(sub), "}"]


@st.composite
def bodies(draw: st.DrawFn, depth: int = 0) -> str:
    """A body of attributes and blocks with random blanks, line breaks and comments."""
    out: list[str] = []
    for name in draw(st.lists(st.sampled_from(NAMES), max_size=5, unique=True)):
        lead = draw(st.sampled_from(["\n", "\n\n\n", "\n# about\n", "\n  // about  \n", "\n/**/ "]))
        out.append(lead + " " * draw(st.integers(0, 4)))
        shape_choice = draw(st.integers(0, 9))
        if depth < 2 and shape_choice <= 2:
            labels = draw(st.lists(st.sampled_from(['"x"', '"y z"', "plain"]), max_size=2))
            close = draw(st.sampled_from(["\n}", " }", "\n    }"]))
            out.append(" ".join([name, *labels]) + " {" + draw(bodies(depth + 1)) + close)
        elif shape_choice == 3:
            out.append(f"{name} = <<EOT\n  keep   this  \nEOT\n")
        else:
            value = "".join(
                draw(gaps(piece)) if isinstance(piece, Gap) else piece
                for piece in draw(expressions())
            )
            eol = draw(st.sampled_from(["", "", " # eol", "  // eol  ", " /* eol */"]))
            out.append(f"{name}{' ' * draw(st.integers(0, 3))}={value}{eol}\n")
    return "".join(out) + "\n"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(bodies())
@example("x1=0 + 0 ? 0 :  - 4096\n")  # written `-4096`: one literal for python-hcl2
def test_random_configurations_round_trip(text: str):
    try:
        tree = hcl2.parses_to_tree(text)
    except UnexpectedInput:
        assume(False)
    formatted = _fmt(text)
    assert _fmt(formatted) == formatted
    assert shape(hcl2.parses_to_tree(formatted)) == shape(tree)
    assert comments(formatted) == comments(text)
    assert [line for line in _trailing_blanks(formatted) if "keep" not in line] == []
    try:
        before = meaning(text)
    except TypeError:  # python-hcl2's loads fails on some `for` expressions
        return
    assert meaning(formatted) == before


# --------------------------------------------------------------------------- command line


def run_fmt(
    *args: str, cwd: Path, stdin: str | None = None, before: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`l4plan [BEFORE...] fmt ARGS...` as a real process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("L4PLAN_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "proxy-agent")])
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *before, "fmt", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


UGLY = 'resource "l4_site" "main" {\nname="example.com" # the zone\n  plan   =  "enterprise"\n}\n'
PRETTY = (
    'resource "l4_site" "main" {\n  name = "example.com" # the zone\n  plan = "enterprise"\n}\n'
)


def test_cli_check_lists_and_fails_without_writing(tmp_path: Path):
    (tmp_path / "main.l4.hcl").write_text(UGLY)
    (tmp_path / "ok.hcl").write_text(PRETTY)
    result = run_fmt("--check", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (1, "main.l4.hcl\n", "")
    assert (tmp_path / "main.l4.hcl").read_text() == UGLY


def test_cli_writes_lists_and_then_has_nothing_to_do(tmp_path: Path):
    target = tmp_path / "main.l4.hcl"
    target.write_text(UGLY)
    target.chmod(0o640)
    (tmp_path / "vars.l4vars").write_text("port=80\n")
    (tmp_path / "README.md").write_text("a=1\n")
    result = run_fmt(cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "main.l4.hcl\nvars.l4vars\n")
    assert target.read_text() == PRETTY
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert (tmp_path / "vars.l4vars").read_text() == "port = 80\n"
    assert (tmp_path / "README.md").read_text() == "a=1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "main.l4.hcl", "vars.l4vars"]
    again = run_fmt("--check", cwd=tmp_path)
    assert (again.returncode, again.stdout) == (0, "")


def test_cli_diff_shows_the_change(tmp_path: Path):
    (tmp_path / "main.l4.hcl").write_text(UGLY)
    result = run_fmt("--diff", "--no-write", "--no-list", "main.l4.hcl", cwd=tmp_path)
    assert result.returncode == 0
    assert "--- old/main.l4.hcl\n+++ new/main.l4.hcl\n" in result.stdout
    assert '\n-name="example.com" # the zone\n' in result.stdout
    assert '\n+  name = "example.com" # the zone\n' in result.stdout
    assert (tmp_path / "main.l4.hcl").read_text() == UGLY


def test_cli_syntax_error_names_file_line_and_column(tmp_path: Path):
    (tmp_path / "a_bad.hcl").write_text('variable "x" {\n  default = }\n}\n')
    (tmp_path / "b_good.hcl").write_text(UGLY)
    result = run_fmt(cwd=tmp_path)
    assert result.returncode == 1
    assert 'a_bad.hcl:2:13: error: syntax error: unexpected "}"' in result.stderr
    assert "  default = }" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "a_bad.hcl").read_text() == 'variable "x" {\n  default = }\n}\n'
    assert (tmp_path / "b_good.hcl").read_text() == PRETTY  # the other file is still done


def test_cli_reports_a_file_that_is_not_utf8(tmp_path: Path):
    (tmp_path / "latin1.hcl").write_bytes(b'a = 1\nname = "caf\xe9"\n')
    result = run_fmt("--check", cwd=tmp_path)
    assert result.returncode == 1
    assert "latin1.hcl:2:12: error: the file is not valid UTF-8" in result.stderr


def test_cli_missing_target_is_an_error(tmp_path: Path):
    result = run_fmt("nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert "no file or directory at nowhere" in result.stderr


def test_cli_recursive_reaches_subdirectories_but_not_hidden_ones(tmp_path: Path):
    for folder in ("env/prod", ".cache"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "main.l4.hcl").write_text(UGLY)
    assert run_fmt("--check", cwd=tmp_path).returncode == 0  # nothing at the top
    result = run_fmt("--recursive", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "env/prod/main.l4.hcl\n")
    assert (tmp_path / "env/prod/main.l4.hcl").read_text() == PRETTY
    assert (tmp_path / ".cache/main.l4.hcl").read_text() == UGLY


def test_cli_formats_standard_input(tmp_path: Path):
    result = run_fmt("-", cwd=tmp_path, stdin=UGLY)
    assert (result.returncode, result.stdout) == (0, PRETTY)
    check = run_fmt("--check", "-", cwd=tmp_path, stdin=UGLY)
    assert (check.returncode, check.stdout) == (1, "")


def test_cli_chdir_option(tmp_path: Path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "main.l4.hcl").write_text(UGLY)
    result = run_fmt("--check", cwd=tmp_path, before=("-C", "conf"))
    assert (result.returncode, result.stdout, result.stderr) == (1, "main.l4.hcl\n", "")


def test_strip_markers_in_interpolations_are_kept():
    # the loader accepts `${~ ... ~}` (HCL's spec); fmt parses with the same grammar
    text = 'locals {\n  a = "x ${~ "b" ~} y"\n  b = "${~1}"\n}\n'
    assert format_source(text, filename="main.l4.hcl") == text
