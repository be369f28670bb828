"""Problems that stop a configuration from loading are L4E000 diagnostics with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from l4plan.configs import load_config
from tests.configs.support import errors


@pytest.mark.parametrize(
    ("text", "line", "column", "needle"),
    [
        ("locals {\n  a = \n}\n", 2, 7, "unexpected end of line, expected an expression"),
        ('resource "l4_site" "x" {\n  name = "a"\n', 2, 13, 'expected "}"'),
        ('locals {\n  a = "abc\n}\n', 2, 8, 'a closing quote (")'),
        ("locals {\n  a = 1 @ 2\n}\n", 2, 9, 'unexpected character "@"'),
        ("locals {\n  a = 1 2\n}\n", 2, 9, 'unexpected "2", expected "}" or a new line'),
        ("locals {\n  a = [1 2]\n}\n", 2, 10, 'expected "]", "," or a new line'),
        (
            "locals {\n  a = <<EOT\nhello\n}\n",
            2,
            7,
            'heredoc "<<EOT" (its closing marker is missing)',
        ),
    ],
)
def test_syntax_errors_name_file_line_column_and_quote_the_line(load, text, line, column, needle):
    config = load(text)
    assert errors(config) == [("L4E000", "main.l4.hcl", line, column)]
    message = config.diagnostics[0].message
    assert needle in message
    assert message.endswith("in: " + text.splitlines()[line - 1].strip())


def test_syntax_error_in_second_file_names_that_file(load):
    config = load({"a.l4.hcl": "locals {\n  x = 1\n}\n", "b.hcl": "\n\nlocals {\n  y = [\n}\n"})
    assert errors(config) == [("L4E000", "b.hcl", 5, 1)]


def test_every_file_is_read_once_and_kept(load):
    config = load({"a.l4.hcl": "locals {\n  x = 1\n}\n", "b.hcl": "locals {\n  y = 2\n}\n"})
    assert config.diagnostics == []
    assert set(config.files) == {"a.l4.hcl", "b.hcl"}


def test_non_utf8_file_points_at_the_first_bad_byte(load):
    config = load({"x.hcl": b'locals {\n  a = "caf\xe9"\n}\n'})
    assert errors(config) == [("L4E000", "x.hcl", 2, 11)]
    assert "not valid UTF-8" in config.diagnostics[0].message


def test_byte_order_mark_is_accepted(load):
    config = load({"x.hcl": '\ufefflocals {\n  a = "x"\n}\n'.encode()})
    assert config.diagnostics == []


def test_directory_without_configuration_files(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("not HCL")
    config = load_config(tmp_path, environ={})
    assert [d.code for d in config.diagnostics] == ["L4E000"]
    assert "no configuration files" in config.diagnostics[0].message
    assert config.diagnostics[0].file == str(tmp_path)


def test_missing_directory(tmp_path: Path):
    config = load_config(tmp_path / "nope", environ={})
    assert [d.code for d in config.diagnostics] == ["L4E000"]
    assert "is not a directory" in config.diagnostics[0].message


def test_only_hcl_suffixes_are_configuration(load):
    config = load(
        {"main.l4.hcl": "locals {\n  a = 1\n}\n", "broken.txt": "{{{", "x.hcl.bak": "{{{"}
    )
    assert config.diagnostics == []


@pytest.mark.parametrize(
    ("text", "line", "column", "needle"),
    [
        ('provider "x" {\n}\n', 1, 1, 'unknown block type "provider"'),
        ('resource "l4_sitee" "x" {\n}\n', 1, 10, 'did you mean "l4_site"?'),
        ('resource "l4_site" {\n}\n', 1, 1, "two labels"),
        ("variable {\n}\n", 1, 1, "one label"),
        ('locals "x" {\n}\n', 1, 1, "no labels"),
        ("a = 1\n", 1, 1, 'unexpected attribute "a" outside of any block'),
        ('resource "l4_site" "x" {\n  name = "a"\n  name = "b"\n}\n', 3, 3, "set twice"),
        ("locals {\n  a = 1\n}\nlocals {\n  a = 2\n}\n", 5, 3, 'duplicate local value "a"'),
        ('locals {\n  a = "x\\qy"\n}\n', 2, 9, 'invalid escape sequence "\\q"'),
        ('locals {\n  a = "%{ if true }x"\n}\n', 2, 8, "%{if} has no matching %{endif}"),
        ('locals {\n  a = "x%{ endif }"\n}\n', 2, 9, "%{endif} without a matching opening"),
        ('locals {\n  "b" = 1\n}\n', 2, 3, "syntax error: unexpected"),
        ('resource "l4_site" "${x}" {\n}\n', 1, 23, "label cannot contain interpolation"),
        ("locals {\n  a = x::y::z(1)\n}\n", 2, 7, "provider functions"),
    ],
)
def test_structural_problems(load, text, line, column, needle):
    config = load(text)
    assert ("L4E000", "main.l4.hcl", line, column) in errors(config)
    assert any(needle in d.message for d in config.diagnostics)


def test_duplicate_resource_agent_variable_output(load):
    config = load(
        'resource "l4_site" "x" {\n  name = "a"\n}\n'
        'resource "l4_site" "x" {\n  name = "b"\n}\n'
        'agent "a" {\n  endpoint = "http://127.0.0.1:1"\n}\n'
        'agent "a" {\n  endpoint = "http://127.0.0.1:2"\n}\n'
        'variable "v" {\n  default = 1\n}\nvariable "v" {\n  default = 2\n}\n'
        'output "o" {\n  value = 1\n}\noutput "o" {\n  value = 2\n}\n'
    )
    assert errors(config) == [
        ("L4E000", "main.l4.hcl", 4, 1),
        ("L4E000", "main.l4.hcl", 10, 1),
        ("L4E000", "main.l4.hcl", 16, 1),
        ("L4E000", "main.l4.hcl", 22, 1),
    ]
    messages = [d.message for d in config.diagnostics]
    assert messages[0] == 'duplicate resource "l4_site" "x": already declared at main.l4.hcl:1:1'
    assert config.diagnostics[0].address == "l4_site.x"
    assert 'duplicate agent "a"' in messages[1]
    assert 'duplicate variable "v"' in messages[2]
    assert 'duplicate output "o"' in messages[3]
    # the first declaration still counts
    assert config.resources["l4_site.x"].attrs["name"] == "a"


def test_duplicate_across_files_names_both(load):
    config = load(
        {
            "a.l4.hcl": 'resource "l4_site" "x" {\n  name = "a"\n}\n',
            "b.l4.hcl": '\nresource "l4_site" "x" {\n  name = "b"\n}\n',
        }
    )
    assert errors(config) == [("L4E000", "b.l4.hcl", 2, 1)]
    assert "already declared at a.l4.hcl:1:1" in config.diagnostics[0].message


def test_a_broken_file_does_not_hide_problems_in_others(load):
    config = load({"a.hcl": "locals {\n", "b.hcl": "nope {\n}\n"})
    assert errors(config) == [("L4E000", "a.hcl", 1, 9), ("L4E000", "b.hcl", 1, 1)]
