"""The order in which planned changes run, as a graph the apply stage can walk."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from l4plan.plans.model import Action, ResourceChange
from l4plan.states.model import State


def change_graph(changes: Iterable[ResourceChange], prior: State | None) -> nx.DiGraph:
    """An edge `A -> B` means A's change waits until B's change is done.

    - a creation or update waits for the resources it depends on in the
      configuration (`ResourceChange.dependencies`);
    - a deletion waits for every change of a resource that depended on it in the
      recorded state, so dependents are updated or deleted first (reverse order);
    - deletions follow each other in reverse dependency order the same way.
    """
    by_address = {c.address: c for c in changes}
    graph = nx.DiGraph()
    graph.add_nodes_from(by_address)
    for change in by_address.values():
        if change.action is not Action.DELETE:
            for dep in change.dependencies:
                if dep in by_address:
                    graph.add_edge(change.address, dep)
    if prior is not None:
        for dependent in prior.resources.values():
            if dependent.address not in by_address:
                continue
            for dep in dependent.dependencies:
                target = by_address.get(dep)
                # a replaced resource keeps its place among creations (one node)
                if target is not None and target.action is Action.DELETE:
                    graph.add_edge(dep, dependent.address)
    return graph


def apply_order(changes: Iterable[ResourceChange], prior: State | None) -> list[ResourceChange]:
    """Changes in a deterministic order that respects `change_graph`.

    Among changes that are ready, deletions come first (they free ports and domains
    for what is created next), then by address.
    """
    by_address = {c.address: c for c in changes}
    graph = change_graph(by_address.values(), prior)
    if not nx.is_directed_acyclic_graph(graph):
        # only possible with inconsistent recorded dependencies: keep creation order
        graph.remove_edges_from(
            [(u, v) for u, v in graph.edges if by_address[u].action is Action.DELETE]
        )

    def key(address: str) -> str:
        return ("0" if by_address[address].action is Action.DELETE else "1") + address

    ordered = nx.lexicographical_topological_sort(graph.reverse(copy=False), key=key)
    return [by_address[a] for a in ordered]
