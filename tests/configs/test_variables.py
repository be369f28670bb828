"""Variables: types and conversion, every value source, precedence, validation, sensitivity."""

from __future__ import annotations

import pytest

from tests.configs.support import errors

DECLS = """
variable "port" {
  type = number
  default = 1
}
variable "name" {
  type = string
  default = "default"
}
output "got" {
  value = [var.port, var.name]
}
"""


def got(config):
    assert config.diagnostics == [], [str(d) for d in config.diagnostics]
    return config.outputs["got"].value


def test_defaults(load):
    assert got(load(DECLS)) == [1, "default"]


def test_environment_overrides_default(load):
    config = load(DECLS, environ={"L4PLAN_VAR_port": "2", "L4PLAN_VAR_unrelated": "x"})
    assert got(config) == [2, "default"]


def test_l4vars_files_override_environment_in_alphabetical_order(load):
    config = load(
        {
            "main.l4.hcl": DECLS,
            "a.l4vars": 'port = 3\nname = "from-a"\n',
            "b.auto.l4vars": "port = 4\n",
        },
        environ={"L4PLAN_VAR_port": "2"},
    )
    assert got(config) == [4, "from-a"]
    assert set(config.files) == {"main.l4.hcl", "a.l4vars", "b.auto.l4vars"}


def test_var_file_overrides_l4vars_and_var_overrides_var_file(load, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "prod.vars").write_text('port = 5\nname = "prod"\n')
    (tmp_path / "later.vars").write_text("port = 6\n")
    config = load(
        {"main.l4.hcl": DECLS, "a.l4vars": "port = 3\n"},
        var_files=["sub/prod.vars", str(tmp_path / "later.vars")],
        var_args=["name=cli"],
    )
    assert got(config) == [6, "cli"]
    config = load(DECLS, var_files=["sub/prod.vars"], var_args=["port=7", "port=8"])
    assert got(config) == [8, "prod"]


@pytest.mark.parametrize(
    ("type_", "text", "expected"),
    [
        ("number", "80", 80),
        ("number", "2.5", 2.5),
        ("bool", "true", True),
        ("string", "80", "80"),
        ("string", "[1, 2]", "[1, 2]"),
        ("any", "[1]", "[1]"),
        ("list(number)", '[80, "443"]', [80, 443]),
        ("set(string)", '["b", "a", "b"]', ["a", "b"]),
        ("map(bool)", '{a = true, b = "false"}', {"a": True, "b": False}),
        ("tuple([string, number])", '[1, "2"]', ["1", 2]),
        (
            "object({ host = string, port = optional(number, 80), tls = optional(bool) })",
            '{host = "h", extra = 1}',
            {"host": "h", "port": 80, "tls": None},
        ),
        ("list(object({ p = number }))", '[{p = 1}, {p = "2"}]', [{"p": 1}, {"p": 2}]),
    ],
)
def test_command_line_values_convert_to_the_declared_type(load, type_, text, expected):
    config = load(
        f'variable "v" {{\n  type = {type_}\n}}\noutput "got" {{\n  value = var.v\n}}\n',
        var_args=[f"v={text}"],
    )
    assert got(config) == expected


def test_environment_values_parse_like_command_line_values(load):
    config = load(
        'variable "v" {\n  type = list(string)\n}\noutput "got" {\n  value = var.v\n}\n',
        environ={"L4PLAN_VAR_v": '["a", "b"]'},
    )
    assert got(config) == ["a", "b"]


def test_untyped_defaults_keep_their_structure(load):
    config = load(
        'variable "v" {\n  default = {a = [1]}\n}\noutput "got" {\n  value = var.v.a\n}\n'
    )
    assert got(config) == [1]


def test_config_records_values_and_sensitive_names(load):
    config = load(
        'variable "token" {\n  type = string\n  sensitive = true\n}\n'
        'variable "n" {\n  default = 1\n  description = "a number"\n}\n',
        var_args=["token=s3cret"],
    )
    assert config.diagnostics == []
    assert config.variables == {"token": "s3cret", "n": 1}
    assert config.sensitive_variables == {"token"}


def test_null_value_and_nullable(load):
    files = {
        "main.l4.hcl": 'variable "a" {\n  default = "d"\n  nullable = false\n}\n'
        'variable "b" {\n  default = "d"\n}\n'
        'output "got" {\n  value = [var.a, var.b]\n}\n',
        "x.l4vars": "a = null\nb = null\n",
    }
    assert got(load(files)) == ["d", None]


# ---- problems


def test_required_variable_without_value_is_l4e017(load):
    config = load('\nvariable "token" {\n  type = string\n}\n')
    assert errors(config) == [("L4E017", "main.l4.hcl", 2, 1)]
    assert 'no value for required variable "token"' in config.diagnostics[0].message
    assert config.diagnostics[0].address == "var.token"


def test_unconvertible_values_name_the_variable_and_source(load):
    config = load(
        {"main.l4.hcl": DECLS, "z.l4vars": '\nname = ["x"]\n'},
        var_args=["port=eighty"],
    )
    assert sorted(errors(config)) == [
        ("L4E017", "main.l4.hcl", 2, 1),
        ("L4E017", "z.l4vars", 2, 1),
    ]
    messages = sorted(d.message for d in config.diagnostics)
    assert messages[0] == (
        'invalid value for variable "name" from z.l4vars:2: expected string: '
        "a string is required, got list"
    )
    assert messages[1] == (
        'invalid value for variable "port" from --var "port": expected number: '
        'a number is required, got string "eighty"'
    )


def test_environment_source_is_named(load):
    config = load(DECLS, environ={"L4PLAN_VAR_port": "x"})
    assert "from environment variable L4PLAN_VAR_port" in config.diagnostics[0].message


def test_undeclared_variable_on_the_command_line_is_l4e015(load):
    config = load(DECLS, var_args=["prot=1"])
    assert [d.code for d in config.diagnostics] == ["L4E015"]
    assert 'no variable "prot" is declared' in config.diagnostics[0].message
    assert 'did you mean "port"?' in config.diagnostics[0].message


def test_undeclared_variable_in_a_file_is_l4e015_at_its_line(load):
    config = load({"main.l4.hcl": DECLS, "x.l4vars": "port = 2\n\nnmae = 1\n"})
    assert errors(config) == [("L4E015", "x.l4vars", 3, 1)]


def test_malformed_var_argument(load):
    config = load(DECLS, var_args=["port"])
    assert [d.code for d in config.diagnostics] == ["L4E000"]
    assert "expected NAME=VALUE" in config.diagnostics[0].message


def test_missing_var_file(load):
    config = load(DECLS, var_files=["nope.vars"])
    assert [(d.code, d.file) for d in config.diagnostics] == [("L4E000", "nope.vars")]


def test_syntax_error_in_a_var_file(load):
    config = load({"main.l4.hcl": DECLS, "x.l4vars": "port = \n"})
    assert errors(config) == [("L4E000", "x.l4vars", 1, 8)]


def test_unparseable_complex_command_line_value(load):
    config = load('variable "v" {\n  type = list(number)\n}\n', var_args=["v=[1,"])
    assert [d.code for d in config.diagnostics] == ["L4E017"]
    message = config.diagnostics[0].message
    assert message.startswith('invalid value for variable "v" from --var "v": syntax error')
    assert "_ =" not in message


def test_var_file_values_cannot_refer_to_anything(load):
    config = load({"main.l4.hcl": DECLS, "x.l4vars": "port = var.port\n"})
    assert [d.code for d in config.diagnostics] == ["L4E016"]


def test_default_that_does_not_match_the_type(load):
    config = load('variable "v" {\n  type = number\n  default = "x"\n}\n')
    assert errors(config) == [("L4E017", "main.l4.hcl", 3, 13)]


@pytest.mark.parametrize(
    ("body", "line", "column", "needle"),
    [
        ("  type = strin\n", 2, 10, "invalid type"),
        ("  type = list(string, number)\n", 2, 10, "takes one element type"),
        ("  default = local.x\n", 2, 13, "must be a literal value"),
        ('  sensitive = "maybe"\n', 2, 15, "a bool is required"),
        ("  typo = 1\n", 2, 3, 'unknown attribute "typo" in variable "v"'),
        ("  check {\n  }\n", 2, 3, 'unknown block "check"'),
        ('  validation {\n    error_message = "x"\n  }\n', 2, 3, 'needs "condition"'),
    ],
)
def test_bad_variable_declarations_are_l4e016(load, body, line, column, needle):
    config = load(f'variable "v" {{\n{body}}}\n', var_args=["v=1"])
    assert errors(config) == [("L4E016", "main.l4.hcl", line, column)]
    assert needle in config.diagnostics[0].message


# ---- validation


def test_validation_failure_reports_the_error_message(load):
    text = (
        'variable "port" {\n  type = number\n  default = 80\n'
        "  validation {\n    condition     = var.port >= 1024\n"
        '    error_message = "port must be 1024 or above, got ${var.port}"\n  }\n}\n'
    )
    config = load(text)
    assert errors(config) == [("L4E017", "main.l4.hcl", 5, 5)]
    assert config.diagnostics[0].message == "port must be 1024 or above, got 80"
    assert load(text, var_args=["port=2048"]).diagnostics == []


def test_several_validations_each_report(load):
    text = (
        'variable "s" {\n  default = "abc"\n'
        '  validation {\n    condition = length(var.s) > 5\n    error_message = "too short"\n  }\n'
        '  validation {\n    condition = startswith(var.s, "x")\n'
        '    error_message = "no x"\n  }\n}\n'
    )
    config = load(text)
    assert [d.message for d in config.diagnostics] == ["too short", "no x"]


def test_validation_condition_must_be_bool_and_may_not_use_locals(load):
    config = load(
        'variable "s" {\n  default = "a"\n  validation {\n    condition = var.s\n'
        '    error_message = "x"\n  }\n}\n'
    )
    assert [d.code for d in config.diagnostics] == ["L4E016"]
    config = load(
        'locals {\n  l = 1\n}\nvariable "s" {\n  default = "a"\n  validation {\n'
        '    condition = local.l == 1\n    error_message = "x"\n  }\n}\n'
    )
    assert [d.code for d in config.diagnostics] == ["L4E015"]
