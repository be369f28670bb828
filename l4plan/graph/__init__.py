"""The resource dependency graph (networkx) over instance addresses."""

from l4plan.graph.build import build_graph
from l4plan.graph.dot import to_dot

__all__ = ["build_graph", "to_dot"]
