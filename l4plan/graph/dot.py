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
    highlight: set[tuple[str, str]] | None = None,
) -> str:
    """DOT text: one box per node, an edge `A -> B` where A depends on B.

    `labels` replaces a node's label (the address by default); `highlight` draws
    the given edges in red (used for cycles).
    """
    labels = labels or {}
    highlight = highlight or set()
    lines = ["digraph l4plan {", '  rankdir = "RL";', '  node [shape = "box"];']
    for node in sorted(graph.nodes):
        lines.append(f"  {_quote(node)} [label = {_quote(labels.get(node, node))}];")
    for src, dst in sorted(graph.edges):
        style = ' [color = "red"]' if (src, dst) in highlight else ""
        lines.append(f"  {_quote(src)} -> {_quote(dst)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"
