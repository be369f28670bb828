"""`l4plan validate`: exit codes, human and JSON output, loading errors, colours."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from l4plan.cli.render import block_label, render_diagnostics
from l4plan.diagnostics import Diagnostic

RunCli = Callable[..., subprocess.CompletedProcess[str]]
RunTty = Callable[..., str]

REPO = Path(__file__).resolve().parents[2]
DIAGNOSTICS_SCHEMA = json.loads((REPO / "schemas" / "diagnostics.schema.json").read_text())
ANSI = re.compile(r"\x1b\[[0-9;]*m")

VALID = """
variable "edge_port" {
  type    = string
  default = "18080"
}

agent "hz1" {
  endpoint    = "http://127.0.0.1:7700"
  public_ipv4 = "127.0.0.1"
}

resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.hz1]
  EXTRA_SITE
}

resource "l4_application" "game" {
  site   = l4_site.main.id
  domain = "play"

  rule {
    protocol    = "tcp"
    edge_port   = var.edge_port
    origin_type = "ip"
    origin      = "127.0.0.1"
  }

  rule {
    protocol    = "udp"
    edge_port   = "80, 90-85"
    origin_type = "ip"
    origin      = "127.0.0.1"
  }
}
"""


def write(directory: Path, text: str, name: str = "main.l4.hcl") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def valid_config(extra_site: str = "") -> str:
    return VALID.replace('"80, 90-85"', '"80, 85-90"').replace("EXTRA_SITE", extra_site)


def line_with(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def json_report(result: subprocess.CompletedProcess[str]) -> dict:
    report = json.loads(result.stdout)
    Draft202012Validator(DIAGNOSTICS_SCHEMA).validate(report)
    return report


def test_valid_configuration(tmp_path: Path, l4plan: RunCli):
    result = l4plan("validate", cwd=write(tmp_path, valid_config()))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Success! The configuration is valid.\n"
    assert result.stderr == ""


def test_invalid_configuration_human_output(tmp_path: Path, l4plan: RunCli):
    text = VALID.replace("EXTRA_SITE", "")
    result = l4plan("validate", cwd=write(tmp_path, text))
    assert result.returncode == 1
    assert result.stdout == ""
    line = line_with(text, "90-85")
    source = text.splitlines()[line - 1]
    expected_caret = " " * (len(f"  {line}: ") + source.index("90-85")) + "^"
    lines = result.stderr.splitlines()
    assert lines[0].startswith('Error: rule[1].edge_port "80, 90-85" is malformed: range "90-85"')
    assert lines[1:6] == [
        "",
        f'  on main.l4.hcl line {line}, in resource "l4_application" "game":',
        f"  {line}: {source}",
        expected_caret,
        "  (L4E003)",
    ]
    assert "Traceback" not in result.stderr


def test_json_output(tmp_path: Path, l4plan: RunCli):
    text = VALID.replace("EXTRA_SITE", "")
    result = l4plan("validate", "--json", cwd=write(tmp_path, text))
    assert result.returncode == 1
    report = json_report(result)
    assert report["valid"] is False
    [diag] = report["diagnostics"]
    assert diag["code"] == "L4E003" and diag["severity"] == "error"
    assert diag["address"] == "l4_application.game"
    assert (diag["file"], diag["line"]) == ("main.l4.hcl", line_with(text, "90-85"))


def test_json_output_when_valid(tmp_path: Path, l4plan: RunCli):
    result = l4plan("validate", "--json", cwd=write(tmp_path, valid_config()))
    assert result.returncode == 0
    assert json_report(result) == {"valid": True, "diagnostics": []}


def test_warnings_are_shown_above_success(tmp_path: Path, l4plan: RunCli):
    soon = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    site = f'ddos_protection {{\n    mode = "full"\n    expires_at = "{soon}"\n  }}'
    result = l4plan("validate", cwd=write(tmp_path, valid_config(site)))
    assert result.returncode == 0
    assert result.stderr.startswith("Warning: ddos_protection expires in 2 days")
    assert "(L4W002)" in result.stderr
    assert result.stdout == "Success! The configuration is valid.\n"
    report = json_report(l4plan("validate", "--json", cwd=tmp_path))
    assert report["valid"] is True and [d["code"] for d in report["diagnostics"]] == ["L4W002"]


def test_chdir_and_variables(tmp_path: Path, l4plan: RunCli):
    config = write(tmp_path / "conf", valid_config())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert l4plan("-C", str(config), "validate", cwd=elsewhere).returncode == 0
    result = l4plan("-C", str(config), "validate", "--json", "--var", "edge_port=0", cwd=elsewhere)
    assert result.returncode == 1
    [diag] = json_report(result)["diagnostics"]
    assert diag["code"] == "L4E003" and "port 0" in diag["message"]
    assert diag["line"] == line_with(valid_config(), "var.edge_port")
    (tmp_path / "prod.l4vars").write_text('edge_port = "70000"\n')
    result = l4plan("validate", "--var-file", str(tmp_path / "prod.l4vars"), cwd=config)
    assert result.returncode == 1 and "port 70000" in result.stderr


def test_missing_chdir_is_an_error_not_a_traceback(tmp_path: Path, l4plan: RunCli):
    result = l4plan("-C", str(tmp_path / "nope"), "validate", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "nope" in result.stderr


# -- loading problems are diagnostics too ------------------------------------------------

LOADING_CASES = [
    # (id, files, code, file, line)
    ("syntax", {"main.l4.hcl": 'resource "l4_site" "a" {\n  name = \n}\n'}, "L4E000", 2),
    ("non-utf8", {"main.l4.hcl": b"# caf\xe9\n"}, "L4E000", 1),
    ("unknown-block", {"main.l4.hcl": 'servce "x" {\n}\n'}, "L4E000", 1),
    (
        "duplicate-address",
        {"main.l4.hcl": valid_config() + 'resource "l4_site" "main" {\n  name = "b.com"\n}\n'},
        "L4E000",
        len(valid_config().splitlines()) + 1,
    ),
    (
        "undeclared-variable",
        {"main.l4.hcl": valid_config().replace("var.edge_port", "var.edge_prot")},
        "L4E015",
        line_with(valid_config(), "var.edge_port"),
    ),
    (
        "variable-validation",
        {
            "main.l4.hcl": valid_config().replace(
                'default = "18080"',
                'default = ""\n  validation {\n    condition     = length(var.edge_port) > 0\n'
                '    error_message = "edge_port must not be empty."\n  }',
            )
        },
        "L4E017",
        0,
    ),
]


@pytest.mark.parametrize(
    ("files", "code", "line"),
    [pytest.param(*case[1:], id=case[0]) for case in LOADING_CASES],
)
def test_loading_problems(tmp_path: Path, l4plan: RunCli, files: dict, code: str, line: int):
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = l4plan("validate", "--json", cwd=tmp_path)
    assert result.returncode == 1
    report = json_report(result)
    codes = [d["code"] for d in report["diagnostics"]]
    assert code in codes, report
    diag = report["diagnostics"][codes.index(code)]
    assert diag["file"] == "main.l4.hcl" and diag["line"] >= 1
    if line:
        assert diag["line"] == line
    human = l4plan("validate", cwd=tmp_path)
    assert human.returncode == 1
    assert f"({code})" in human.stderr and "Traceback" not in human.stderr


def test_empty_directory(tmp_path: Path, l4plan: RunCli):
    result = l4plan("validate", "--json", cwd=tmp_path)
    assert result.returncode == 1
    report = json_report(result)
    assert [d["code"] for d in report["diagnostics"]] == ["L4E000"]


# -- colours -------------------------------------------------------------------------


def test_colour_on_a_terminal_and_off_with_no_color(tmp_path: Path, l4plan_tty: RunTty):
    config = write(tmp_path, VALID.replace("EXTRA_SITE", ""))
    coloured = l4plan_tty("validate", cwd=config)
    assert "Error:" in coloured and ANSI.search(coloured)
    plain = l4plan_tty("validate", cwd=config, env={"NO_COLOR": "1"})
    assert "Error:" in plain and not ANSI.search(plain)
    flag = l4plan_tty("--no-color", "validate", cwd=config)
    assert "Error:" in flag and not ANSI.search(flag)


# -- the renderer other commands share ------------------------------------------------


def test_render_diagnostics_layout():
    files = {"a.l4.hcl": 'resource "l4_site" "s" {\n\tplan = "gold"\n}\n'}
    diags = [
        Diagnostic("L4E016", "error", "plan is wrong", "l4_site.s", "a.l4.hcl", 2, 2),
        Diagnostic("L4W001", "warning", "expired", "", "", 0, 0),
        Diagnostic("L4E000", "error", "no files in /x", "", "/x", 0, 0),
    ]
    text = render_diagnostics(diags, files, color=False)
    assert text == (
        "Error: plan is wrong\n\n"
        '  on a.l4.hcl line 2, in resource "l4_site" "s":\n'
        '  2: \tplan = "gold"\n'
        "     \t^\n"
        "  (L4E016)\n\n"
        "Warning: expired\n"
        "(L4W001)\n\n"
        "Error: no files in /x\n"
        "(L4E000)\n"
    )
    coloured = render_diagnostics(diags, files, color=True)
    assert ANSI.search(coloured) and ANSI.sub("", coloured) == text
    assert render_diagnostics([], files, color=False) == ""


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ('l4_application.game["eu"]', 'resource "l4_application" "game"'),
        ("l4_site.main[0]", 'resource "l4_site" "main"'),
        ("agent.hz1", 'agent "hz1"'),
        ("var.token", 'variable "token"'),
        ("local.origin", "locals"),
        ("output.endpoints", 'output "endpoints"'),
        ("", ""),
    ],
)
def test_block_labels(address: str, label: str):
    assert block_label(address) == label
