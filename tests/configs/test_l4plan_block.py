"""The l4plan block: required_version and the backend."""

from __future__ import annotations

import pytest

from l4plan import __version__
from l4plan.configs.evaluation.versions import check_required_version
from l4plan.configs.model import BackendConfig
from tests.configs.support import errors


def test_default_backend_is_local(load):
    config = load("locals {\n  a = 1\n}\n")
    assert config.backend == BackendConfig()
    assert config.required_version is None


def test_pg_backend_and_required_version(load):
    config = load(
        'variable "pg" {\n  default = "postgresql://postgres@127.0.0.1/test"\n}\n'
        'l4plan {\n  required_version = ">= 0.1, < 1.0"\n'
        '  backend "pg" {\n    conn_str = var.pg\n    schema_name = "l4plan"\n  }\n}\n'
    )
    assert config.diagnostics == []
    assert config.required_version == ">= 0.1, < 1.0"
    assert config.backend.type == "pg"
    assert config.backend.options == {
        "conn_str": "postgresql://postgres@127.0.0.1/test",
        "schema_name": "l4plan",
    }
    assert (config.backend.pos.line, config.backend.pos.column) == (6, 3)


def test_local_backend_path(load):
    config = load('l4plan {\n  backend "local" {\n    path = "s.json"\n  }\n}\n')
    assert config.backend.type == "local"
    assert config.backend.options == {"path": "s.json"}


def test_version_mismatch_is_l4e016(load):
    config = load('l4plan {\n  required_version = ">= 9.0"\n}\n')
    assert errors(config) == [("L4E016", "main.l4.hcl", 2, 22)]
    assert config.diagnostics[0].message == (
        f"this configuration requires l4plan >= 9.0, but this is l4plan {__version__}; "
        "install a matching version or change required_version"
    )


@pytest.mark.parametrize(
    ("constraint", "ok"),
    [
        (">= 0.1", True),
        ("0.1.0", True),
        ("= 0.1.0", True),
        ("!= 0.1.0", False),
        ("> 0.1.0", False),
        ("< 0.2", True),
        ("<= 0.0.9", False),
        ("~> 0.1", True),
        ("~> 0.1.0", True),
        ("~> 0.0.5", False),
        ("~> 1", False),
        (">= 0.1, < 0.1.0", False),
        ("v0.1.0", True),
    ],
)
def test_required_version_constraints(constraint, ok):
    assert (check_required_version(constraint, "0.1.0") is None) is ok


def test_bad_constraint_text(load):
    config = load('l4plan {\n  required_version = "newest"\n}\n')
    assert [d.code for d in config.diagnostics] == ["L4E016"]
    assert "is not a version constraint" in config.diagnostics[0].message


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ('  backend "s3" {\n  }\n', 2, 'one label, "local" or "pg"'),
        ('  backend "pg" {\n    conn = "x"\n  }\n', 3, 'unknown option "conn" for the pg backend'),
        ('  backend "local" {\n    path = 5\n  }\n', 3, "must be a string"),
        ('  backend "local" {\n    path = local.p\n  }\n', 3, "only literal values and variables"),
        ('  backend "local" {\n  }\n  backend "pg" {\n  }\n', 4, "only one backend block"),
        ("  version = 1\n", 2, 'unknown attribute "version" in the l4plan block'),
        ("  required_version = 1\n", 2, "required_version must be a string"),
    ],
)
def test_l4plan_block_problems_are_l4e016(load, body, line, needle):
    config = load(f"locals {{\n  p = 1\n}}\nl4plan {{\n{body}}}\n")
    assert [(d.code, d.line - 3) for d in config.diagnostics] == [("L4E016", line)]
    assert needle in config.diagnostics[0].message


def test_two_l4plan_blocks(load):
    config = load("l4plan {\n}\nl4plan {\n}\n")
    assert errors(config) == [("L4E000", "main.l4.hcl", 3, 1)]
