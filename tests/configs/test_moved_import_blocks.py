"""`moved` and `import` blocks: what loading reads from them and what it refuses
(L4E019, L4E020), at the block's file and line."""

from __future__ import annotations

import pytest

from l4plan.configs.hcl.fmt import format_source
from l4plan.configs.model import ImportBlock, MovedBlock
from l4plan.diagnostics import Pos
from tests.configs.conftest import Loader

BASE = """
agent "a" {
  endpoint = "http://127.0.0.1:1"
}

resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.a]
}

variable "apps" {
  default = { eu = "eu.example.com", us = "us.example.com" }
}

resource "l4_application" "regional" {
  for_each = var.apps

  site   = l4_site.main.id
  domain = each.key
  agents = [agent.a]

  rule {
    protocol    = "tcp"
    edge_port   = "80"
    origin_type = "ip"
    origin      = "127.0.0.1"
    origin_port = "81"
  }
}
"""
BASE_LINES = BASE.count("\n")


def _errors(config) -> list[tuple[str, int, str]]:
    return [(d.code, d.line, d.message) for d in config.diagnostics]


def test_moved_blocks_are_read_with_their_positions(load: Loader) -> None:
    config = load(
        BASE
        + """
moved {
  from = l4_application.old
  to   = l4_application.regional["eu"]
}

moved {
  from = l4_application.older[0]
  to   = l4_application.old
}
"""
    )
    assert config.diagnostics == []
    first, second = BASE_LINES + 2, BASE_LINES + 7
    assert config.moved == [
        MovedBlock(
            "l4_application.old", 'l4_application.regional["eu"]', Pos("main.l4.hcl", first, 1)
        ),
        MovedBlock("l4_application.older[0]", "l4_application.old", Pos("main.l4.hcl", second, 1)),
    ]


def test_import_blocks_with_for_each_give_one_target_per_key(load: Loader) -> None:
    config = load(
        BASE
        + """
import {
  for_each = var.apps
  to       = l4_application.regional[each.key]
  id       = "${each.key}.example.com"
}
"""
    )
    assert config.diagnostics == []
    pos = Pos("main.l4.hcl", BASE_LINES + 2, 1)
    assert config.imports == [
        ImportBlock('l4_application.regional["eu"]', "eu.example.com", pos),
        ImportBlock('l4_application.regional["us"]', "us.example.com", pos),
    ]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            "moved {\n  from = l4_application.regional\n  to   = l4_application.new\n}",
            "Moved object still exists: this statement declares a move from "
            "l4_application.regional, but that resource is still declared at main.l4.hcl:16:1",
        ),
        (
            "moved {\n  from = l4_site.old\n  to   = l4_application.new\n}",
            "Resource type mismatch",
        ),
        (
            "moved {\n  from = l4_application.old\n  to   = l4_application.old\n}",
            "Redundant move statement",
        ),
        (
            'moved {\n  from = "l4_application.old"\n  to   = l4_application.new\n}',
            "from must be a resource address",
        ),
        (
            "moved {\n  from = l4_application.old[var.x]\n  to   = l4_application.new\n}",
            "from: an instance key is a whole number or a string written as a literal",
        ),
        (
            "moved {\n  from = l4_application.old[-1]\n  to   = l4_application.new\n}",
            "from: an instance key is a whole number or a string written as a literal",
        ),
        ("moved {\n  from = l4_application.old\n}", 'a moved block needs "to"'),
        (
            'moved {\n  from = l4_application.old\n  to = l4_application.b\n  id = "x"\n}',
            'a moved block has no attribute "id"',
        ),
    ],
)
def test_moved_blocks_terraform_refuses_are_L4E019(load: Loader, block: str, message: str) -> None:
    config = load(BASE + "\n" + block + "\n")
    errors = _errors(config)
    assert len(errors) == 1, errors
    code, line, text = errors[0]
    assert code == "L4E019"
    assert BASE_LINES + 2 <= line <= BASE_LINES + 5
    assert message in text
    assert config.moved == []


def test_two_moves_that_disagree_are_ambiguous(load: Loader) -> None:
    config = load(
        BASE
        + """
moved {
  from = l4_application.old
  to   = l4_application.a
}

moved {
  from = l4_application.old
  to   = l4_application.b
}

moved {
  from = l4_application.other
  to   = l4_application.a
}
"""
    )
    errors = _errors(config)
    assert [(c, line) for c, line, _ in errors] == [
        ("L4E019", BASE_LINES + 7),
        ("L4E019", BASE_LINES + 12),
    ]
    assert (
        f"Ambiguous move statements: the statement at main.l4.hcl:{BASE_LINES + 2}:1 declared "
        "that l4_application.old moved to l4_application.a, but this statement instead "
        "declares that it moved to l4_application.b" in errors[0][2]
    )
    assert "declares that l4_application.other moved there" in errors[1][2]


def test_a_chain_of_moves_that_comes_back_is_a_cycle(load: Loader) -> None:
    config = load(
        BASE
        + """
moved {
  from = l4_application.a
  to   = l4_application.b
}

moved {
  from = l4_application.b
  to   = l4_application.c
}

moved {
  from = l4_application.c
  to   = l4_application.a
}
"""
    )
    errors = _errors(config)
    assert len(errors) == 1 and errors[0][0] == "L4E019"
    assert "Cyclic dependency in move statements" in errors[0][2]
    assert "l4_application.c → l4_application.a" in errors[0][2]
    assert config.moved == []


def test_a_chain_through_an_instance_of_a_moved_resource_is_a_cycle(load: Loader) -> None:
    """Moving a resource chains into moving one of its instances (Terraform's rule,
    also the order the plan moves state in), so this pair comes back to its start."""
    config = load(
        BASE
        + """
moved {
  from = l4_application.a
  to   = l4_application.b
}

moved {
  from = l4_application.b["k"]
  to   = l4_application.a["k"]
}
"""
    )
    errors = _errors(config)
    assert len(errors) == 1 and errors[0][0] == "L4E019"
    assert "Cyclic dependency in move statements" in errors[0][2]
    assert 'l4_application.b["k"] → l4_application.a["k"]' in errors[0][2]
    assert config.moved == []


def test_moves_of_different_instances_do_not_chain(load: Loader) -> None:
    config = load(
        BASE
        + """
moved {
  from = l4_application.a["1"]
  to   = l4_application.b["1"]
}

moved {
  from = l4_application.b["2"]
  to   = l4_application.a["2"]
}
"""
    )
    assert config.diagnostics == [] and len(config.moved) == 2


def test_a_chain_without_a_cycle_is_accepted(load: Loader) -> None:
    config = load(
        BASE
        + """
moved {
  from = l4_application.b
  to   = l4_application.c
}

moved {
  from = l4_application.a
  to   = l4_application.b
}
"""
    )
    assert config.diagnostics == []
    assert [(m.from_address, m.to_address) for m in config.moved] == [
        ("l4_application.b", "l4_application.c"),
        ("l4_application.a", "l4_application.b"),
    ]


def test_moving_into_and_out_of_instances_of_a_declared_resource(load: Loader) -> None:
    """`regional` is declared with for_each, so its no-key instance is not: moves
    into its keys and out of keys it does not have are fine."""
    config = load(
        BASE
        + """
moved {
  from = l4_application.regional
  to   = l4_application.regional["eu"]
}

moved {
  from = l4_application.regional["gone"]
  to   = l4_application.single
}
"""
    )
    assert config.diagnostics == []
    assert len(config.moved) == 2


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            'import {\n  to = l4_application.game\n  id = "play.example.com"\n}',
            "Configuration for import target does not exist: the configuration for "
            "l4_application.game does not exist",
        ),
        (
            'import {\n  to = l4_application.regional["asia"]\n  id = "asia.example.com"\n}',
            'l4_application.regional has no instance l4_application.regional["asia"]',
        ),
        (
            'import {\n  to = l4_application.regional["eu"]\n  id = "us.example.com"\n}',
            'is configured with domain "eu.example.com", not "us.example.com"',
        ),
        (
            'import {\n  to = l4_site.main\n  id = "example.com"\n}',
            "only an l4_application can be imported",
        ),
        (
            'import {\n  to = l4_application.regional["eu"]\n  id = 7\n}',
            "must be the application's domain, a string known at plan time (not a string)",
        ),
        (
            'import {\n  count = 1\n  to = l4_application.regional["eu"]\n'
            '  id = "eu.example.com"\n}',
            'an import block has no attribute "count"',
        ),
        ('import {\n  to = l4_application.regional["eu"]\n}', 'an import block needs "id"'),
    ],
)
def test_import_blocks_terraform_refuses_are_L4E020(load: Loader, block: str, message: str) -> None:
    config = load(BASE + "\n" + block + "\n")
    errors = _errors(config)
    assert len(errors) == 1, errors
    code, line, text = errors[0]
    assert code == "L4E020"
    assert BASE_LINES + 2 <= line <= BASE_LINES + 5
    assert message in text
    assert config.imports == []


def test_two_imports_of_one_address_are_refused(load: Loader) -> None:
    config = load(
        BASE
        + """
import {
  to = l4_application.regional["eu"]
  id = "eu.example.com"
}

import {
  for_each = toset(["eu"])
  to       = l4_application.regional[each.key]
  id       = "eu.example.com"
}
"""
    )
    errors = _errors(config)
    assert [(c, line) for c, line, _ in errors] == [("L4E020", BASE_LINES + 7)]
    assert 'Duplicate import configuration for l4_application.regional["eu"]' in errors[0][2]
    assert len(config.imports) == 1


def test_an_import_for_each_that_is_not_a_collection_is_refused(load: Loader) -> None:
    config = load(
        BASE
        + """
import {
  for_each = 3
  to       = l4_application.regional[each.key]
  id       = each.value
}
"""
    )
    errors = _errors(config)
    assert len(errors) == 1 and errors[0][1] == BASE_LINES + 3
    assert "for_each must be a map or a set of strings" in errors[0][2]


def test_fmt_lays_out_moved_and_import_blocks_canonically() -> None:
    source = (
        'moved {\n    from = l4_application.old\n  to = l4_application.new[ "eu" ]\n}\n'
        "import {\n  for_each = var.apps\n     to = l4_application.new[each.key]\n"
        "  id = each.value\n}\n"
    )
    canonical = (
        'moved {\n  from = l4_application.old\n  to   = l4_application.new["eu"]\n}\n\n'
        "import {\n  for_each = var.apps\n  to       = l4_application.new[each.key]\n"
        "  id       = each.value\n}\n"
    )
    assert format_source(source, filename="main.l4.hcl") == canonical
    assert format_source(canonical, filename="main.l4.hcl") == canonical


def test_an_import_into_a_resource_with_no_instances_is_refused(load: Loader) -> None:
    """`count = 0` evaluates to no instance: the block names a target that does not
    exist (it used to pass loading and fail the plan with a traceback)."""
    config = load(
        BASE.replace("for_each = var.apps", "for_each = {}")
        + """
import {
  to = l4_application.regional["eu"]
  id = "eu.example.com"
}
"""
    )
    errors = _errors(config)
    assert [code for code, _, _ in errors] == ["L4E020"], errors
    assert (
        'l4_application.regional has no instance l4_application.regional["eu"] (it has none)'
        in errors[0][2]
    )
    assert config.imports == []


def test_an_import_key_that_fails_to_evaluate_is_reported_once(load: Loader) -> None:
    config = load(
        BASE
        + """
import {
  for_each = toset(["eu"])
  to       = l4_application.regional[var.nope]
  id       = "eu.example.com"
}
"""
    )
    errors = _errors(config)
    assert len(errors) == 1 and errors[0][0] == "L4E015", errors
    assert config.imports == []


def test_a_non_ascii_key_is_one_address_in_configuration_and_state(load: Loader) -> None:
    """The configuration and the state commands write an instance key alike, so a
    move to a non-ASCII key lands where the configuration declares it."""
    from l4plan.states.addresses import parse_address

    config = load(BASE.replace('eu = "eu.example.com"', '"é" = "e.example.com"'))
    address = 'l4_application.regional["é"]'
    assert address in config.resources
    assert str(parse_address(address)) == address
