"""`l4plan graph`: the dependency graph as DOT, the plan graph, and cycles."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import l4plan.cli.plan  # noqa: F401  (registers plan, show, graph)
from l4plan.cli.main import cli
from tests.plans.hcl import ACL, application, offline, record_apply, rule, write_config

GAME = application("game", "play", [rule("18080")])


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, offline(args))


def _edges(dot: str) -> set[tuple[str, str]]:
    edges = set()
    for line in dot.splitlines():
        if " -> " in line:
            src, dst = line.strip().rstrip(";").split(" -> ")
            edges.add((src.strip('"'), dst.split(" [")[0].strip('"')))
    return edges


def test_graph_prints_dot_of_references_and_depends_on(workdir: Path) -> None:
    lb = """
resource "l4_load_balancer" "pool" {
  site   = l4_site.main.id
  domain = "lb.example.com"
  origin {
    address = "127.0.0.1"
  }
}
"""
    user = application("web", "web", [rule("18090")], extra="depends_on = [l4_load_balancer.pool]")
    write_config(workdir, ACL, GAME, lb, user)
    result = run("graph")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("digraph l4plan {")
    assert _edges(result.stdout) == {
        ("l4_application.game", "l4_site.main"),
        ("l4_application.web", "l4_site.main"),
        ("l4_application.web", "l4_load_balancer.pool"),
        ("l4_ip_access_rule.office", "l4_site.main"),
        ("l4_load_balancer.pool", "l4_site.main"),
    }


def test_graph_keys_of_expanded_instances_are_quoted(workdir: Path) -> None:
    each = application(
        "game", "${each.key}", [rule("${each.value}")], extra='for_each = { eu = "18001" }'
    )
    write_config(workdir, each)
    dot = run("graph").stdout
    assert '"l4_application.game[\\"eu\\"]" -> "l4_site.main";' in dot


def test_plan_graph_labels_actions_and_orders_deletions(workdir: Path) -> None:
    write_config(workdir, ACL, GAME)
    record_apply(workdir)
    write_config(workdir, site=False)
    result = run("graph", "--type", "plan")
    assert result.exit_code == 0, result.output
    assert '[label = "- l4_site.main"]' in result.stdout
    # the site's deletion waits for its dependents' deletions
    assert _edges(result.stdout) == {
        ("l4_site.main", "l4_application.game"),
        ("l4_site.main", "l4_ip_access_rule.office"),
    }


def test_plan_graph_leaves_import_blocks_out(workdir: Path) -> None:
    """`graph --type plan` reads no agent, so it cannot import: the target shows as the
    creation the state implies instead of failing with an error about --refresh=false."""
    block = 'import {\n  to = l4_application.game\n  id = "play.example.com"\n}\n'
    write_config(workdir, GAME, block)
    result = run("graph", "--type", "plan")
    assert result.exit_code == 0, result.output
    assert '[label = "+ l4_application.game"]' in result.stdout


def _site_needing(name: str, other: str) -> str:
    return f"""
resource "l4_site" "{name}" {{
  name       = "{name}.example"
  plan       = "enterprise"
  depends_on = [l4_site.{other}]
}}
"""


def test_cycle_prints_the_cycle(workdir: Path) -> None:
    write_config(workdir, _site_needing("a", "b"), _site_needing("b", "a"), site=False)
    result = run("graph")
    assert result.exit_code == 1
    assert "L4E015" in result.stderr
    assert "l4_site.a" in result.stderr and "l4_site.b" in result.stderr
    assert "->" in result.stderr
    plan = run("plan")
    assert plan.exit_code == 1 and "L4E015" in plan.stderr


def test_graph_of_a_broken_configuration_is_an_error(workdir: Path) -> None:
    write_config(
        workdir,
        application("game", "play", [rule("18080")]).replace("l4_site.main.id", "l4_site.nope.id"),
    )
    result = run("graph")
    assert result.exit_code == 1
    assert "L4E015" in result.stderr and "l4_site.nope" in result.stderr
