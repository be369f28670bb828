"""Build the resource graph from references and `depends_on`.

Edges follow Terraform's convention: an edge `A -> B` means "A depends on B", so
`B` is created (and updated) before `A` and destroyed after it. The graph is acyclic:
loading the configuration reports every dependency cycle (L4E015,
l4plan/configs/evaluation/graph.py), and nothing is planned from a configuration
with errors.
"""

from __future__ import annotations

import networkx as nx

from l4plan.configs.model import Config


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
