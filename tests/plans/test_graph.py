from __future__ import annotations

import networkx as nx

from l4plan.graph import build_graph, cycle_diagnostics, dependency_order, to_dot
from l4plan.graph.build import find_cycles
from tests.plans.factory import app, config, instance, rule, site


def test_edges_point_from_dependent_to_dependency() -> None:
    cfg = config(site(), app("game", "play.example.com", [rule("80")]))
    graph = build_graph(cfg)
    assert set(graph.nodes) == {"l4_site.main", "l4_application.game"}
    assert list(graph.edges) == [("l4_application.game", "l4_site.main")]
    assert graph.nodes["l4_application.game"]["type"] == "l4_application"


def test_dependency_order_puts_dependencies_first_and_breaks_ties_by_address() -> None:
    cfg = config(
        app("b", "b.example.com", [rule("81")]),
        app("a", "a.example.com", [rule("80")]),
        site(),
    )
    graph = build_graph(cfg)
    assert dependency_order(graph) == [
        "l4_site.main",
        "l4_application.a",
        "l4_application.b",
    ]
    assert dependency_order(graph, {"l4_application.b", "l4_site.main"}) == [
        "l4_site.main",
        "l4_application.b",
    ]


def test_references_to_undeclared_addresses_are_left_to_the_loader() -> None:
    res = app("game", "play.example.com", [rule("80")], site_name="missing")
    graph = build_graph(config(res))
    assert list(graph.edges) == []


def test_cycle_is_l4e015_and_prints_the_cycle() -> None:
    a = instance("l4_site", "a", {"name": "a.example"}, depends_on=["l4_site.b"])
    b = instance("l4_site", "b", {"name": "b.example"}, depends_on=["l4_site.c"])
    c = instance("l4_site", "c", {"name": "c.example"}, depends_on=["l4_site.a"])
    cfg = config(a, b, c, site())
    diags = cycle_diagnostics(build_graph(cfg), cfg)
    assert len(diags) == 1
    d = diags[0]
    assert d.code == "L4E015" and d.is_error
    assert "l4_site.a -> l4_site.b -> l4_site.c -> l4_site.a" in d.message
    assert d.address == "l4_site.a"
    assert (d.file, d.line, d.column) == ("main.l4.hcl", 1, 1)


def test_self_reference_is_a_cycle() -> None:
    a = instance("l4_site", "a", {"name": "a.example"}, depends_on=["l4_site.a"])
    assert find_cycles(build_graph(config(a))) == [["l4_site.a", "l4_site.a"]]


def test_acyclic_graph_has_no_cycle_diagnostics() -> None:
    cfg = config(site(), app("game", "play.example.com", [rule("80")]))
    assert cycle_diagnostics(build_graph(cfg), cfg) == []


def test_dot_quotes_instance_keys_and_lists_every_edge() -> None:
    eu = app("game", "eu.example.com", [rule("80")], key="eu")
    first = app("web", "web.example.com", [rule("81")], key=0)
    dot = to_dot(build_graph(config(site(), eu, first)))
    assert dot.startswith("digraph l4plan {\n")
    assert dot.rstrip().endswith("}")
    assert '"l4_application.game[\\"eu\\"]" -> "l4_site.main";' in dot
    assert '"l4_application.web[0]" -> "l4_site.main";' in dot
    assert '"l4_site.main" [label = "l4_site.main"];' in dot


def test_every_dot_edge_names_declared_nodes_and_labels_apply() -> None:
    cfg = config(site(), app("game", "play.example.com", [rule("80")]))
    dot = to_dot(build_graph(cfg), labels={"l4_site.main": "+ l4_site.main"})
    nodes = {line.split(" [")[0].strip() for line in dot.splitlines() if "[label" in line}
    for line in dot.splitlines():
        if " -> " in line:
            src, dst = line.strip().rstrip(";").split(" -> ")
            assert src in nodes and dst.split(" [")[0] in nodes
    assert '[label = "+ l4_site.main"]' in dot


def test_dot_highlights_given_edges() -> None:
    graph = nx.DiGraph([("a", "b")])
    assert '"a" -> "b" [color = "red"];' in to_dot(graph, highlight={("a", "b")})
