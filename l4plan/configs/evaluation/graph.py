"""Phase 4, the dependency graph: one node per local, agent, resource and output.

Input: the declarations. Output: a `DependencyGraph` whose edges run from a
dependency to what depends on it, built from the references in each block's
expressions (`depends_on` included, as it is a list of references). Undeclared
references (L4E015) are reported here and mark their node broken; so is every
node on a dependency cycle, found once (`_report_cycles`) and reported once
(L4E015, printed in "refers to" order). `order()` gives the evaluation order with
the cycles' edges left out.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from l4plan.configs.evaluation.declarations import Declarations
from l4plan.configs.hcl.syntax import Body, Node
from l4plan.configs.lang.references import Reference, references
from l4plan.configs.lang.values import REFERENCE_ERROR, suggest
from l4plan.configs.model import RESOURCE_TYPES
from l4plan.diagnostics import Diagnostic, Pos

if TYPE_CHECKING:
    import networkx as nx

_UNSUPPORTED_ROOTS = {
    "self": "self is not supported; refer to the resource by its address",
    "path": "path.* is not supported; paths are relative to the configuration directory",
    "data": "data sources are not supported",
    "module": "modules are not supported",
    "terraform": "terraform.* is not supported",
}


@dataclass(slots=True)
class GraphNode:
    key: str  # local.NAME | agent.NAME | TYPE.NAME | output.NAME
    kind: str  # local | agent | resource | output
    pos: Pos
    refs: list[Reference] = field(default_factory=list)
    targets: dict[str, Pos] = field(default_factory=dict)  # graph key -> first reference
    broken: bool = False  # an undeclared reference or a cycle: not evaluated


@dataclass(slots=True)
class DependencyGraph:
    nodes: dict[str, GraphNode]
    dependents: dict[str, list[str]]  # the edges: dependency -> what depends on it
    cyclic: list[set[str]]  # the components with a cycle

    def order(self) -> list[GraphNode]:
        """Every node after what it depends on; sites first, then by key among equals.

        Sites first: an application whose `site` is written as a plain string
        still finds its site's agents. The edges inside cycles are left out (the
        nodes on them are broken and already reported).
        """
        inside = {key: i for i, component in enumerate(self.cyclic) for key in component}
        edges = {
            key: [t for t in targets if inside.get(t, -1) != inside.get(key, -2)]
            for key, targets in self.dependents.items()
        }
        order = _topological(self.nodes, edges)
        assert len(order) == len(self.nodes)  # acyclic once the cycles' edges are gone
        return [self.nodes[k] for k in order]


def build_graph(decls: Declarations, diagnostics: list[Diagnostic]) -> DependencyGraph:
    """The dependency graph of `decls`; problems go to `diagnostics`."""
    builder = _Builder(decls, diagnostics)
    for name, attr in decls.locals.items():
        builder.add(f"local.{name}", "local", attr.pos, [attr.expr])
    for name, block in decls.agents.items():
        builder.add(f"agent.{name}", "agent", block.pos, _body_expressions(block.body))
    for key, block in decls.resources.items():
        exprs = _body_expressions(block.body, skip_blocks=("lifecycle",))
        builder.add(key, "resource", block.pos, exprs)
    for name, block in decls.outputs.items():
        builder.add(f"output.{name}", "output", block.pos, _body_expressions(block.body))
    dependents: dict[str, list[str]] = {key: [] for key in builder.nodes}
    for node in builder.nodes.values():
        for target in node.targets:
            dependents[target].append(node.key)
    cyclic: list[set[str]] = []
    if len(_topological(builder.nodes, dependents)) < len(builder.nodes):
        cyclic = _report_cycles(builder, dependents)
    return DependencyGraph(builder.nodes, dependents, cyclic)


def _topological(nodes: Mapping[str, Any], dependents: dict[str, list[str]]) -> list[str]:
    """Kahn's algorithm, smallest priority first: the nodes not on or behind a cycle.

    The priority (sites first, then the key) is unique per node, so the order is
    the one lexicographically smallest topological order.
    """
    indegree = dict.fromkeys(nodes, 0)
    for targets in dependents.values():
        for target in targets:
            indegree[target] += 1
    ready = [(_priority(k), k) for k, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        _, key = heapq.heappop(ready)
        out.append(key)
        for target in dependents[key]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, (_priority(target), target))
    return out


def _priority(key: str) -> str:
    return ("0" if key.startswith("l4_site.") else "1") + key


def _report_cycles(builder: _Builder, dependents: dict[str, list[str]]) -> list[set[str]]:
    """Report each cycle once and mark its nodes broken; returns the cyclic components.

    Only a configuration with a cycle gets here, so networkx is imported only then.
    """
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(builder.nodes)
    for key, targets in dependents.items():
        for target in targets:
            graph.add_edge(key, target)
    cyclic = []
    for component in nx.strongly_connected_components(graph):
        first = next(iter(component))
        if len(component) > 1 or graph.has_edge(first, first):
            cyclic.append(component)
            builder.report_cycle(graph.subgraph(component))
            for key in component:
                builder.nodes[key].broken = True
    return cyclic


def _body_expressions(body: Body, skip_blocks: tuple[str, ...] = ()) -> list[Node]:
    out = [attr.expr for attr in body.attributes.values()]
    for block in body.blocks:
        if block.type not in skip_blocks:
            out.extend(_body_expressions(block.body))
    return out


class _Builder:
    def __init__(self, decls: Declarations, diagnostics: list[Diagnostic]):
        self.decls = decls
        self.diagnostics = diagnostics
        self.nodes: dict[str, GraphNode] = {}

    def _error(self, code: str, message: str, pos: Pos, address: str = "") -> None:
        self.diagnostics.append(Diagnostic.at(code, message, pos, address))

    def add(self, key: str, kind: str, pos: Pos, exprs: list[Node]) -> None:
        node = GraphNode(key, kind, pos)
        block = self.decls.resources.get(key) if kind == "resource" else None
        has_count = block is not None and "count" in block.body.attributes
        has_each = block is not None and "for_each" in block.body.attributes
        for expr in exprs:
            for ref in references(expr):
                target = self._check_reference(ref, node, has_count, has_each)
                if target is None:
                    continue
                node.refs.append(ref)
                if target and target not in node.targets:
                    node.targets[target] = ref.pos
        self.nodes[key] = node

    def _check_reference(
        self, ref: Reference, node: GraphNode, has_count: bool, has_each: bool
    ) -> str | None:
        """The graph key `ref` points at ("" for no node), or None after reporting it."""
        root = ref.root
        first = ref.steps[0][1] if ref.steps else None
        address = node.key if node.kind == "resource" else ""

        def bad(message: str) -> None:
            self._error(REFERENCE_ERROR, message, ref.pos, address)
            node.broken = True

        if root in ("var", "local", "agent"):
            if not isinstance(first, str):
                bad(f'"{root}" must be followed by a name, e.g. {root}.example')
                return None
            declared: Mapping[str, Any] = {
                "var": self.decls.variables,
                "local": self.decls.locals,
                "agent": self.decls.agents,
            }[root]
            if first not in declared:
                kind = {"var": "variable", "local": "local value", "agent": "agent"}[root]
                bad(f'reference to undeclared {kind} "{root}.{first}"' + suggest(first, declared))
                return None
            return "" if root == "var" else f"{root}.{first}"
        if root in RESOURCE_TYPES:
            if not isinstance(first, str):
                bad(f'"{root}" must be followed by a resource name, e.g. {root}.main')
                return None
            key = f"{root}.{first}"
            if key not in self.decls.resources:
                names = [
                    k.partition(".")[2] for k in self.decls.resources if k.startswith(root + ".")
                ]
                bad(f'reference to undeclared resource "{key}"' + suggest(first, names))
                return None
            return key
        if root in ("count", "each"):
            allowed = has_count if root == "count" else has_each
            fields = ("index",) if root == "count" else ("key", "value")
            if not allowed:
                meta = "count" if root == "count" else "for_each"
                bad(f"{root}.{first or '...'} is only available in a resource that sets {meta}")
                return None
            if first not in fields:
                bad(f'{root} has only {" and ".join(f"{root}.{f}" for f in fields)}, not "{first}"')
                return None
            return ""
        if root in _UNSUPPORTED_ROOTS:
            bad(_UNSUPPORTED_ROOTS[root])
            return None
        bad(
            f'unknown name "{root}": a reference starts with var., local., agent., a resource '
            f"type ({', '.join(RESOURCE_TYPES)}), count. or each."
            + suggest(root, [*RESOURCE_TYPES, "var", "local", "agent"])
        )
        return None

    def report_cycle(self, sub: nx.DiGraph) -> None:
        import networkx as nx

        edges = nx.find_cycle(sub)
        # edges run dependency -> dependent; print "refers to" order from the smallest key
        order = [v for _, v in edges]
        order.reverse()
        start = order.index(min(order))
        order = order[start:] + order[:start]
        text = " -> ".join([*order, order[0]])
        first = self.nodes[order[0]]
        nxt = order[1] if len(order) > 1 else order[0]
        pos = first.targets.get(nxt, first.pos)
        address = order[0] if first.kind == "resource" else ""
        self._error(REFERENCE_ERROR, f"dependency cycle: {text}", pos, address)

    # ------------------------------------------------------------------ evaluation
