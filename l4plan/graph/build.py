"""Build the resource graph from references and `depends_on`, and find cycles.

Edges follow Terraform's convention: an edge `A -> B` means "A depends on B", so
`B` is created (and updated) before `A` and destroyed after it. `dependency_order`
gives the creation order.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic


def build_graph(config: Config) -> nx.DiGraph:
    """One node per resource instance address, an edge to each instance it depends on.

    Node attributes: `type`, `name`, `key`. References to addresses that are not in
    the configuration are left out: the loader reports those (L4E015).
    """
    graph = nx.DiGraph()
    for address, res in config.resources.items():
        graph.add_node(address, type=res.type, name=res.name, key=res.key)
    for address, res in config.resources.items():
        for dep in res.depends_on:
            if dep in config.resources:
                graph.add_edge(address, dep)
    return graph


def dependency_order(graph: nx.DiGraph, nodes: Iterable[str] | None = None) -> list[str]:
    """Nodes with every dependency before its dependents; ties broken by address.

    `nodes` restricts the result to a subset (order still follows the whole graph).
    The graph must be acyclic (check `cycle_diagnostics` first).
    """
    order = list(nx.lexicographical_topological_sort(graph.reverse(copy=False)))
    if nodes is None:
        return order
    wanted = set(nodes)
    return [n for n in order if n in wanted]


def find_cycles(graph: nx.DiGraph) -> list[list[str]]:
    """One cycle per strongly connected component that has one, as a closed path.

    Each cycle starts at its smallest address and ends where it started, e.g.
    `["a", "b", "a"]`, so messages are stable from run to run.
    """
    cycles: list[list[str]] = []
    for component in nx.strongly_connected_components(graph):
        start = min(component)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        sub = graph.subgraph(component)
        edges = nx.find_cycle(sub, source=start)
        cycles.append([edges[0][0], *(v for _, v in edges)])
    return sorted(cycles)


def cycle_diagnostics(graph: nx.DiGraph, config: Config) -> list[Diagnostic]:
    """An L4E015 error per dependency cycle, printing the cycle, at its first resource."""
    diags: list[Diagnostic] = []
    for cycle in find_cycles(graph):
        first = config.resources.get(cycle[0])
        diags.append(
            Diagnostic.at(
                "L4E015",
                "dependency cycle: "
                + " -> ".join(cycle)
                + "; remove a reference or a depends_on entry to break it",
                first.pos if first else None,
                address=cycle[0],
            )
        )
    return diags
