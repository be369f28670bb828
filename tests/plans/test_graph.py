from __future__ import annotations

from l4plan.graph import build_graph, to_dot
from tests.plans.factory import app, config, rule, site


def test_edges_point_from_dependent_to_dependency() -> None:
    cfg = config(site(), app("game", "play.example.com", [rule("80")]))
    graph = build_graph(cfg)
    assert set(graph.nodes) == {"l4_site.main", "l4_application.game"}
    assert list(graph.edges) == [("l4_application.game", "l4_site.main")]
    assert graph.nodes["l4_application.game"]["type"] == "l4_application"


def test_references_to_undeclared_addresses_are_left_to_the_loader() -> None:
    res = app("game", "play.example.com", [rule("80")], site_name="missing")
    graph = build_graph(config(res))
    assert list(graph.edges) == []


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
