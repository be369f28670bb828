"""The LALR driver accepts exactly what lark accepts with python-hcl2's grammar."""

from __future__ import annotations

import json

import hcl2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark.exceptions import LarkError

from l4plan.configs.hcl import lalr
from l4plan.configs.hcl.builder import Builder
from l4plan.configs.hcl.grammar import parser
from l4plan.configs.hcl.heredocs import HeredocParser
from l4plan.configs.hcl.sources import parse_expression, parse_source
from l4plan.configs.hcl.syntax import SyntaxProblem

VALID = [
    "",
    "\n\n",
    "# only a comment\n",
    "a = 1",
    'a = 1 // trailing\nb = "x" # hash\n/* block\ncomment */ c = 3\n',
    "a = 1\r\nb = 2\r\n",
    "a = [\n  1,\n  2,\n]\n",
    "a = {\n  x = 1,\n  y = 2\n}\n",
    "a = 1\n  + 2\n  * 3\n",
    "a = x\n  ? 1\n  : 2\n",
    "a = x &&\n  y\n",
    "in = 1\nfor = 2\nif = 3\nfor_each = 4\n",
    'block "label" other {\n  nested {\n  }\n}\n',
    "a = f(\n  1,\n  [2, 3]...\n)\n",
    'a = "${x} and %{ if y }z%{ endif } $${lit}"\n',
    "a = <<EOT\nline ${x}\nEOT\nb = <<-EOT\n    x\n    EOT\n",
    "a = <<EOT\r\ncrlf\r\nEOT\r\n",
    'a = [for k, v in m : v if k != "x"]\nb = {for x in l : x => x...}\n',
    'a = x[*].y[0]\nb = x.*.y\nc = x.0.y["z"]\n',
    "a = -1\nb = !true\nc = -x\n",
    "a = 1.5e-3\n",
    "a = {}\nb = []\nc = f()\n",
]

INVALID = [
    "a =\n",
    "a = 1 2\n",
    "a = [1 2]\n",
    "block {\n",
    "}\n",
    'a = "unterminated\n',
    "a = @\n",
    "a = <<EOT\nno end\n",
    "a = {x = 1 y}\n",
    "= 1\n",
    "a = (1\n",
    "a = 1 +\n",
    "a = x ? 1\n",
    "a.b = 1\n",
]


def _lark_accepts(text: str) -> bool:
    try:
        parser().parse(text + "\n")
    except LarkError:
        return False
    return True


def _fast_accepts(text: str) -> bool:
    builder = Builder("t.hcl", HeredocParser("t.hcl", parse_expression).parse)
    try:
        return lalr.parse(lalr.tables(parser()), text, builder) is not None
    except SyntaxProblem:
        return True  # parsed; the language then rejects a construct


@pytest.mark.parametrize("text", VALID)
def test_valid_inputs_parse(text):
    assert _lark_accepts(text)
    assert _fast_accepts(text)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_inputs_are_rejected_and_described_by_lark(text):
    assert not _lark_accepts(text)
    assert not _fast_accepts(text)
    body, problem = parse_source("t.hcl", text)
    assert body is None
    assert problem is not None
    assert (problem.code, problem.file) == ("L4E000", "t.hcl")
    assert problem.line >= 1
    assert problem.column >= 1


def test_the_driver_uses_python_hcl2s_grammar():
    """hcl2.parses_to_tree and the driver agree on what parses (same grammar file)."""
    for text in VALID:
        hcl2.parses_to_tree(text)
    for text in INVALID:
        with pytest.raises(LarkError):
            hcl2.parses_to_tree(text)


FRAGMENTS = [
    "a",
    "b",
    " ",
    "\n",
    "=",
    "1",
    "2.5",
    '"s"',
    '"${x}"',
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    ",",
    ".",
    "+",
    "-",
    "*",
    "?",
    ":",
    "==",
    "&&",
    "!",
    "for",
    "in",
    "if",
    "=>",
    "...",
    "[*]",
    ".*",
    "# c\n",
    "true",
    "null",
    "f(",
    "<<EOT\nx\nEOT\n",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=14))
def test_acceptance_matches_lark_on_random_token_soup(parts):
    text = "".join(parts)
    assert _fast_accepts(text) == _lark_accepts(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "a = 1\n",
                'b "l" {\n',
                "}\n",
                "c = [\n",
                "1,\n",
                "]\n",
                "d = x\n",
                "  + y\n",
                "e = {\n",
                "k = v\n",
                "# note\n",
                "\n",
            ]
        ),
        max_size=10,
    )
)
def test_acceptance_matches_lark_on_random_lines(lines):
    text = "".join(lines)
    assert _fast_accepts(text) == _lark_accepts(text)


def test_cached_tables_are_the_tables_lark_builds(tmp_path, monkeypatch):
    from l4plan.configs.hcl import grammar

    built = lalr.tables(parser())
    data = json.loads(json.dumps(lalr.to_json(built)))
    loaded = lalr.from_json(data)
    assert lalr.to_json(loaded) == lalr.to_json(built)
    text = 'resource "l4_site" "a" {\n  name = "a.com"\n  plan = "enterprise"\n}\n'
    assert lalr.parse(
        loaded, text, Builder("t.hcl", HeredocParser("t.hcl", parse_expression).parse)
    )
    # a cache file that cannot be read is rebuilt, not trusted
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    grammar.parse_tables.cache_clear()
    try:
        path = grammar._tables_path()
        path.parent.mkdir(parents=True)
        path.write_text("{not json", encoding="utf-8")
        assert lalr.to_json(grammar.parse_tables()) == lalr.to_json(built)
        assert json.loads(path.read_text(encoding="utf-8")) == data
    finally:
        grammar.parse_tables.cache_clear()


def test_loaded_tables_compile_only_the_scanners_a_parse_needs():
    """Compiling every scanner costs more than parsing a small file: a state's
    scanners are compiled when it first lexes, and a parse visits a few states."""
    loaded = lalr.from_json(json.loads(json.dumps(lalr.to_json(lalr.tables(parser())))))
    assert all(entry is None for entry in loaded.scanners)
    text = 'resource "l4_site" "a" {\n  name = "a.com"\n}\n'
    builder = Builder("t.hcl", HeredocParser("t.hcl", parse_expression).parse)
    assert lalr.parse(loaded, text, builder) is not None
    lexed = [entry for entry in loaded.scanners if entry is not None]
    assert 0 < len(lexed) < len(loaded.scanners) // 10


def test_tables_naming_a_missing_pattern_are_malformed():
    data = json.loads(json.dumps(lalr.to_json(lalr.tables(parser()))))
    data["scanners"][0][0] = [len(data["patterns"])]
    with pytest.raises(ValueError, match="pattern"):
        lalr.from_json(data)
