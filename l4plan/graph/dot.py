"""Render a resource graph as Graphviz DOT, like `terraform graph`."""

from __future__ import annotations

import json

import networkx as nx


def _quote(text: str) -> str:
    # DOT quoted strings escape `"` and `\` the way JSON does
    return json.dumps(text, ensure_ascii=False)


def to_dot(
    graph: nx.DiGraph,
    *,
    labels: dict[str, str] | None = None,
) -> str:
    """DOT text: one box per node, an edge `A -> B` where A depends on B.

    `labels` replaces a node's label (the address by default).
    """
    labels = labels or {}
    lines = ["digraph l4plan {", '  rankdir = "RL";', '  node [shape = "box"];']
    for node in sorted(graph.nodes):
        lines.append(f"  {_quote(node)} [label = {_quote(labels.get(node, node))}];")
    for src, dst in sorted(graph.edges):
        lines.append(f"  {_quote(src)} -> {_quote(dst)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
