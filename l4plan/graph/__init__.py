"""The resource dependency graph (networkx) over instance addresses."""

from l4plan.graph.build import build_graph, cycle_diagnostics, dependency_order
from l4plan.graph.dot import to_dot

__all__ = ["build_graph", "cycle_diagnostics", "dependency_order", "to_dot"]
