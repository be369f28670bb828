"""Evaluate a parsed configuration into a `Config`.

Order of work:
1. declarations: every top-level block, with duplicate and unknown-block checks;
2. variables (variables.py): values from every source, converted and validated;
3. the reference graph (networkx) between locals, agents, resources and outputs,
   built from the references in their expressions; undeclared references and
   cycles are reported here (L4E015);
4. evaluation in dependency order: locals, agents, resources (expanded by
   `count` / `for_each`, nested blocks per NESTED_BLOCKS, computed `id`,
   `endpoints`, `dns_records`), outputs.

Sensitivity is tracked statically: an expression is sensitive when it refers to
a sensitive variable, to something derived from one, or calls `sensitive()`;
`nonsensitive()` hides what it wraps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import networkx as nx

from l4plan import __version__
from l4plan.configs.computed import dns_records, endpoints, instance_key_suffix, resource_id
from l4plan.configs.hcl.errors import LOAD_ERROR
from l4plan.configs.hcl.sources import SourceFile
from l4plan.configs.hcl.syntax import (
    Attribute,
    Block,
    Body,
    GetAttr,
    Index,
    Literal,
    Name,
    Node,
    ObjectExpr,
    TupleExpr,
)
from l4plan.configs.lang.evaluator import Evaluator
from l4plan.configs.lang.functions import FUNCTIONS
from l4plan.configs.lang.references import Reference, calls, references
from l4plan.configs.lang.values import (
    REFERENCE_ERROR,
    TYPE_ERROR,
    AgentRef,
    Context,
    EvalError,
    Namespace,
    plain,
    suggest,
    to_bool,
    type_name,
)
from l4plan.configs.model import (
    META_ARGUMENTS,
    NESTED_BLOCKS,
    RESOURCE_TYPES,
    UNKNOWN,
    AgentConfig,
    BackendConfig,
    Config,
    Lifecycle,
    OutputValue,
    ResourceInstance,
    is_wholly_known,
)
from l4plan.configs.variables import VariableDecl, declare_variable, resolve_variables
from l4plan.configs.versions import check_required_version
from l4plan.diagnostics import Diagnostic, Pos

TOP_LEVEL_BLOCKS = ("l4plan", "variable", "locals", "output", "agent", "resource")
_LABELS = {"l4plan": 0, "variable": 1, "locals": 0, "output": 1, "agent": 1, "resource": 2}
AGENT_ATTRIBUTES = ("endpoint", "token", "ca_file", "public_ipv4", "public_ipv6")
OUTPUT_ATTRIBUTES = ("value", "description", "sensitive", "depends_on")
BACKEND_OPTIONS = {"local": ("path",), "pg": ("conn_str", "schema_name")}
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "resources"
_UNSUPPORTED_ROOTS = {
    "self": "self is not supported; refer to the resource by its address",
    "path": "path.* is not supported; paths are relative to the configuration directory",
    "data": "data sources are not supported",
    "module": "modules are not supported",
    "terraform": "terraform.* is not supported",
}


_FAILED = object()
_SENSITIVE_CALL = re.compile(r"\bsensitive\s*\(")


@cache
def schema_attributes(type_: str, block: str = "") -> tuple[str, ...]:
    """Attribute names a resource type's schema declares, or one of its nested blocks'.

    Unset ones read as null in references.
    """
    try:
        with open(SCHEMA_DIR / f"{type_}.schema.json", encoding="utf-8") as f:
            schema = json.load(f)
    except (OSError, ValueError):
        return ()
    node = schema
    if block:
        node = schema.get("properties", {}).get(block, {})
        node = node.get("items", node)
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            node = schema.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
    return tuple(node.get("properties", {}))


def _reference_value(type_: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """What a reference to a resource instance reads: unset declared attributes are null."""
    value = dict.fromkeys(schema_attributes(type_))
    value.update(attrs)
    for block in NESTED_BLOCKS[type_]:
        given = attrs.get(block)
        names = schema_attributes(type_, block)
        if isinstance(given, dict):
            value[block] = {**dict.fromkeys(names), **given}
        elif isinstance(given, list):
            value[block] = [
                {**dict.fromkeys(names), **item} if isinstance(item, dict) else item
                for item in given
            ]
    value["revisions"] = UNKNOWN
    return value


@dataclass(slots=True)
class _GraphNode:
    key: str  # local.NAME | agent.NAME | TYPE.NAME | output.NAME
    kind: str  # local | agent | resource | output
    pos: Pos
    refs: list[Reference] = field(default_factory=list)
    targets: dict[str, Pos] = field(default_factory=dict)  # graph key -> first reference
    broken: bool = False


class ConfigEvaluator:
    """Builds the evaluated `Config` from parsed files; every problem becomes a diagnostic."""

    def __init__(
        self,
        config: Config,
        *,
        var_args: Sequence[str],
        var_files: Sequence[str],
        environ: Mapping[str, str],
    ):
        self.config = config
        self.var_args = var_args
        self.var_files = var_files
        self.environ = environ
        self.evaluator = Evaluator(FUNCTIONS)
        self.diags = config.diagnostics
        self.static_ctx = Context(roots={}, directory=config.directory)
        # declarations
        self.variable_decls: dict[str, VariableDecl] = {}
        self.locals: dict[str, Attribute] = {}
        self.agent_blocks: dict[str, Block] = {}
        self.resource_blocks: dict[str, Block] = {}
        self.output_blocks: dict[str, Block] = {}
        self.l4plan_block: Block | None = None
        # evaluation state
        self.nodes: dict[str, _GraphNode] = {}
        self.local_values: dict[str, Any] = {}
        self.agent_refs: dict[str, AgentRef] = {}
        self.resource_values: dict[str, dict[str, Any]] = {t: {} for t in RESOURCE_TYPES}
        self.instances: dict[str, list[str]] = {}  # TYPE.NAME -> instance addresses
        self.dependencies: dict[str, list[str]] = {}  # graph key -> resource instances
        self.sensitive_locals: set[str] = set()
        self.sensitive_agent_attrs: dict[str, set[str]] = {}
        self.sensitive_paths: dict[str, set[str]] = {}  # TYPE.NAME -> dotted paths
        self.sites_by_id: dict[str, ResourceInstance] = {}
        self.roots: dict[str, Any] = {}
        self.may_be_sensitive = True

    def error(self, code: str, message: str, pos: Pos, address: str = "") -> None:
        self.diags.append(Diagnostic.at(code, message, pos, address))

    # ------------------------------------------------------------------ run

    def run(self, files: list[SourceFile]) -> None:
        for source in files:
            self._declare(source.body)
        self._evaluate_variables()
        self._evaluate_l4plan_block()
        self._build_graph()
        self._evaluate_in_order()
        self._restore_declaration_order()

    def _restore_declaration_order(self) -> None:
        """Resources, agents and outputs in the order they are written, not evaluated."""
        config = self.config
        order = {key: i for i, key in enumerate(self.resource_blocks)}
        config.resources = dict(
            sorted(config.resources.items(), key=lambda item: order[item[1].resource_address])
        )
        config.agents = {n: config.agents[n] for n in self.agent_blocks if n in config.agents}
        config.outputs = {n: config.outputs[n] for n in self.output_blocks if n in config.outputs}

    # ------------------------------------------------------------------ declarations

    def _declare(self, body: Body) -> None:
        self._check_duplicates(body)
        for attr in body.attributes.values():
            self.error(
                LOAD_ERROR,
                f'unexpected attribute "{attr.name}" outside of any block; top-level '
                f"blocks are {', '.join(TOP_LEVEL_BLOCKS)}",
                attr.pos,
            )
        for block in body.blocks:
            if block.type not in _LABELS:
                self.error(
                    LOAD_ERROR,
                    f'unknown block type "{block.type}"; expected one of '
                    f"{', '.join(TOP_LEVEL_BLOCKS)}" + suggest(block.type, TOP_LEVEL_BLOCKS),
                    block.pos,
                )
                continue
            want = _LABELS[block.type]
            if len(block.labels) != want:
                shape = {0: "no labels", 1: "one label (its name)", 2: "two labels: type and name"}
                example = {
                    "resource": 'resource "l4_application" "game" { ... }',
                    "variable": 'variable "name" { ... }',
                    "output": 'output "name" { ... }',
                    "agent": 'agent "name" { ... }',
                }.get(block.type, f"{block.type} {{ ... }}")
                self.error(
                    LOAD_ERROR,
                    f"a {block.type} block takes {shape[want]}, e.g. {example}",
                    block.pos,
                )
                continue
            getattr(self, f"_declare_{block.type}")(block)

    def _check_duplicates(self, body: Body) -> None:
        for attr, first in body.duplicates:
            self.error(
                LOAD_ERROR,
                f'attribute "{attr.name}" is set twice in one block (first at {first.pos})',
                attr.pos,
            )
        for block in body.blocks:
            self._check_duplicates(block.body)

    def _duplicate(self, what: str, pos: Pos, first: Pos, address: str = "") -> None:
        self.error(LOAD_ERROR, f"duplicate {what}: already declared at {first}", pos, address)

    def _declare_l4plan(self, block: Block) -> None:
        if self.l4plan_block is not None:
            self._duplicate("l4plan block", block.pos, self.l4plan_block.pos)
            return
        self.l4plan_block = block

    def _declare_variable(self, block: Block) -> None:
        name = block.labels[0]
        if name in self.variable_decls:
            self._duplicate(
                f'variable "{name}"', block.pos, self.variable_decls[name].pos, f"var.{name}"
            )
            return
        decl, diags = declare_variable(block, self.evaluator, self.static_ctx)
        self.diags.extend(diags)
        self.variable_decls[name] = decl

    def _declare_locals(self, block: Block) -> None:
        for sub in block.body.blocks:
            self.error(
                LOAD_ERROR,
                f'a locals block holds only attributes, not blocks ("{sub.type}")',
                sub.pos,
            )
        for name, attr in block.body.attributes.items():
            if name in self.locals:
                self._duplicate(
                    f'local value "{name}"', attr.pos, self.locals[name].pos, f"local.{name}"
                )
                continue
            self.locals[name] = attr

    def _declare_output(self, block: Block) -> None:
        self._declare_named(block, self.output_blocks, "output")

    def _declare_agent(self, block: Block) -> None:
        self._declare_named(block, self.agent_blocks, "agent")

    def _declare_named(self, block: Block, registry: dict[str, Block], kind: str) -> None:
        name = block.labels[0]
        if name in registry:
            self._duplicate(f'{kind} "{name}"', block.pos, registry[name].pos, f"{kind}.{name}")
            return
        registry[name] = block

    def _declare_resource(self, block: Block) -> None:
        type_, name = block.labels
        if type_ not in RESOURCE_TYPES:
            self.error(
                LOAD_ERROR,
                f'unknown resource type "{type_}"; expected one of {", ".join(RESOURCE_TYPES)}'
                + suggest(type_, RESOURCE_TYPES),
                block.label_pos[0] if block.label_pos else block.pos,
            )
            return
        key = f"{type_}.{name}"
        if key in self.resource_blocks:
            self._duplicate(
                f'resource "{type_}" "{name}"', block.pos, self.resource_blocks[key].pos, key
            )
            return
        self.resource_blocks[key] = block

    # ------------------------------------------------------------------ variables, l4plan

    def _evaluate_variables(self) -> None:
        values = resolve_variables(
            self.variable_decls,
            self.config.directory,
            var_args=self.var_args,
            var_files=self.var_files,
            environ=self.environ,
            evaluator=self.evaluator,
        )
        self.diags.extend(values.diagnostics)
        self.config.files.update(values.files)
        self.config.variables = {k: plain(v) for k, v in values.values.items()}
        self.config.sensitive_variables = values.sensitive
        # Without sensitive variables, only a sensitive(...) call can make a value
        # sensitive; a cheap look at the sources saves the analysis on large
        # configurations (text that merely mentions it only costs the analysis).
        self.may_be_sensitive = bool(values.sensitive) or any(
            _SENSITIVE_CALL.search(text) for text in self.config.files.values()
        )
        self.roots = {
            "var": Namespace("variable", "var", values.values),
            "local": Namespace("local value", "local", self.local_values),
            "agent": Namespace("agent", "agent", self.agent_refs),
        }
        for type_ in RESOURCE_TYPES:
            self.roots[type_] = Namespace("resource", type_, self.resource_values[type_])

    def _var_only_ctx(self) -> Context:
        return Context(roots={"var": self.roots["var"]}, directory=self.config.directory)

    def _eval_static(self, attr: Attribute, ctx: Context, address: str = "") -> Any:
        """Evaluate a setting that may use only variables; UNKNOWN after a diagnostic."""
        try:
            for ref in references(attr.expr):
                if ref.root != "var":
                    raise EvalError(
                        TYPE_ERROR,
                        f'"{attr.name}" can use only literal values and variables, '
                        f"not {ref.text()}",
                        ref.pos,
                    )
            return self.evaluator.eval(attr.expr, ctx)
        except EvalError as e:
            self.error(e.code, e.shown_message(self._sensitive_inputs(attr.expr)), e.pos, address)
            return UNKNOWN

    def _evaluate_l4plan_block(self) -> None:
        block = self.l4plan_block
        if block is None:
            return
        for name, attr in block.body.attributes.items():
            if name != "required_version":
                self.error(
                    TYPE_ERROR,
                    f'unknown attribute "{name}" in the l4plan block; expected required_version '
                    "or a backend block",
                    attr.pos,
                )
                continue
            value = self._static_string(attr, "")
            if value is None:
                continue
            self.config.required_version = value
            problem = check_required_version(value, __version__)
            if problem:
                self.error(TYPE_ERROR, problem, attr.expr.pos)
        backends = [b for b in block.body.blocks if b.type == "backend"]
        for sub in block.body.blocks:
            if sub.type != "backend":
                self.error(TYPE_ERROR, f'unknown block "{sub.type}" in the l4plan block', sub.pos)
        for extra in backends[1:]:
            self.error(
                TYPE_ERROR,
                f"only one backend block is allowed (first at {backends[0].pos})",
                extra.pos,
            )
        if backends:
            self._evaluate_backend(backends[0])

    def _evaluate_backend(self, block: Block) -> None:
        if len(block.labels) != 1 or block.labels[0] not in BACKEND_OPTIONS:
            self.error(
                TYPE_ERROR,
                'a backend block takes one label, "local" or "pg", e.g. backend "pg" { ... }',
                block.pos,
            )
            return
        type_ = block.labels[0]
        allowed = BACKEND_OPTIONS[type_]
        options: dict[str, Any] = {}
        for name, attr in block.body.attributes.items():
            if name not in allowed:
                self.error(
                    TYPE_ERROR,
                    f'unknown option "{name}" for the {type_} backend; '
                    f"expected {', '.join(allowed)}" + suggest(name, allowed),
                    attr.pos,
                )
                continue
            value = self._static_string(attr, "")
            if value is not None:
                options[name] = value
        for sub in block.body.blocks:
            self.error(TYPE_ERROR, f'unknown block "{sub.type}" in the backend block', sub.pos)
        self.config.backend = BackendConfig(type_, options, block.pos)

    # ------------------------------------------------------------------ graph

    def _build_graph(self) -> None:
        for name, attr in self.locals.items():
            self._add_node(f"local.{name}", "local", attr.pos, [attr.expr])
        for name, block in self.agent_blocks.items():
            self._add_node(f"agent.{name}", "agent", block.pos, _body_expressions(block.body))
        for key, block in self.resource_blocks.items():
            self._add_node(
                key,
                "resource",
                block.pos,
                _body_expressions(block.body, skip_blocks=("lifecycle",)),
            )
        for name, block in self.output_blocks.items():
            self._add_node(f"output.{name}", "output", block.pos, _body_expressions(block.body))

        graph = nx.DiGraph()
        graph.add_nodes_from(self.nodes)
        for node in self.nodes.values():
            for target in node.targets:
                graph.add_edge(target, node.key)  # dependency -> dependent
        self.graph = graph
        for component in nx.strongly_connected_components(graph):
            first = next(iter(component))
            if len(component) == 1 and not graph.has_edge(first, first):
                continue
            self._report_cycle(graph.subgraph(component))
            for key in component:
                self.nodes[key].broken = True

    def _add_node(self, key: str, kind: str, pos: Pos, exprs: list[Node]) -> None:
        node = _GraphNode(key, kind, pos)
        block = self.resource_blocks.get(key) if kind == "resource" else None
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
        self, ref: Reference, node: _GraphNode, has_count: bool, has_each: bool
    ) -> str | None:
        """The graph key `ref` points at ("" for no node), or None after reporting it."""
        root = ref.root
        first = ref.steps[0][1] if ref.steps else None
        address = node.key if node.kind == "resource" else ""

        def bad(message: str) -> None:
            self.error(REFERENCE_ERROR, message, ref.pos, address)
            node.broken = True

        if root in ("var", "local", "agent"):
            if not isinstance(first, str):
                bad(f'"{root}" must be followed by a name, e.g. {root}.example')
                return None
            declared: Mapping[str, Any] = {
                "var": self.variable_decls,
                "local": self.locals,
                "agent": self.agent_blocks,
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
            if key not in self.resource_blocks:
                names = [
                    k.partition(".")[2] for k in self.resource_blocks if k.startswith(root + ".")
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

    def _report_cycle(self, sub: nx.DiGraph) -> None:
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
        self.error(REFERENCE_ERROR, f"dependency cycle: {text}", pos, address)

    # ------------------------------------------------------------------ evaluation

    def _evaluate_in_order(self) -> None:
        handlers = {
            "local": self._evaluate_local,
            "agent": self._evaluate_agent,
            "resource": self._evaluate_resource,
            "output": self._evaluate_output,
        }

        # Deterministic among independent nodes, and sites first: an application
        # whose `site` is written as a plain string still finds its site's agents.
        def priority(key: str) -> str:
            return ("0" if key.startswith("l4_site.") else "1") + key

        for key in nx.lexicographical_topological_sort(_acyclic(self.graph), key=priority):
            node = self.nodes[key]
            handlers[node.kind](node)

    def _ctx(self, extra: dict[str, Any] | None = None) -> Context:
        roots = self.roots if not extra else {**self.roots, **extra}
        return Context(roots=roots, directory=self.config.directory, files_read=self.config.files)

    def _eval(self, expr: Node, ctx: Context, address: str = "", failed: Any = UNKNOWN) -> Any:
        """The value of `expr`, or `failed` after reporting why it has none."""
        try:
            return self.evaluator.eval(expr, ctx)
        except EvalError as e:
            self.error(e.code, e.shown_message(self._sensitive_inputs(expr)), e.pos, address)
            return failed

    def _resource_dependencies(self, node: _GraphNode) -> list[str]:
        """Resource instances `node` refers to, directly or through locals."""
        out: dict[str, None] = {}
        for ref in node.refs:
            if ref.root == "local" and ref.steps:
                out.update(dict.fromkeys(self.dependencies.get(f"local.{ref.steps[0][1]}", [])))
            elif ref.root in RESOURCE_TYPES and ref.steps:
                key = f"{ref.root}.{ref.steps[0][1]}"
                all_instances = self.instances.get(key, [])
                if len(ref.steps) > 1 and ref.steps[1][0] == "index":
                    address = key + instance_key_suffix(ref.steps[1][1])
                    if address in all_instances:
                        out[address] = None
                        continue
                out.update(dict.fromkeys(all_instances))
        return list(out)

    def _is_sensitive(self, expr: Node) -> bool:
        return bool(self._sensitive_inputs(expr))

    def _sensitive_inputs(self, expr: Node) -> list[str]:
        """What makes `expr` sensitive: its sensitive references and sensitive() calls."""
        if not self.may_be_sensitive:
            return []
        out = [
            ref.text()
            for ref in references(expr, frozenset({"nonsensitive"}))
            if self._ref_sensitive(ref)
        ]
        if any(call.name == "sensitive" for call in calls(expr)):
            out.append("sensitive()")
        return out

    def _ref_sensitive(self, ref: Reference) -> bool:
        steps = [v for _, v in ref.steps]
        if ref.root == "var":
            return bool(steps) and steps[0] in self.config.sensitive_variables
        if ref.root == "local":
            return bool(steps) and steps[0] in self.sensitive_locals
        if ref.root == "agent":
            attrs = self.sensitive_agent_attrs.get(str(steps[0]), set()) if steps else set()
            return len(steps) > 1 and steps[1] in attrs
        if ref.root in RESOURCE_TYPES and steps:
            key = f"{ref.root}.{steps[0]}"
            paths = self.sensitive_paths.get(key, set())
            if not paths:
                return False
            rest = list(ref.steps[1:])
            block = self.resource_blocks[key]
            expanded = "count" in block.body.attributes or "for_each" in block.body.attributes
            if expanded and rest and rest[0][0] == "index":
                rest = rest[1:]
            path = ".".join(str(v) for _, v in rest)
            return not path or any(
                p == path or p.startswith(path + ".") or path.startswith(p + ".") for p in paths
            )
        return False

    # ---- locals and outputs

    def _evaluate_local(self, node: _GraphNode) -> None:
        name = node.key.partition(".")[2]
        self.dependencies[node.key] = self._resource_dependencies(node)
        expr = self.locals[name].expr
        if self._is_sensitive(expr):
            self.sensitive_locals.add(name)
        self.local_values[name] = UNKNOWN if node.broken else self._eval(expr, self._ctx())

    def _evaluate_output(self, node: _GraphNode) -> None:
        name = node.key.partition(".")[2]
        block = self.output_blocks[name]
        attrs = block.body.attributes
        for sub in block.body.blocks:
            self.error(
                TYPE_ERROR, f'unknown block "{sub.type}" in output "{name}"', sub.pos, node.key
            )
        for attr_name, attr in attrs.items():
            if attr_name not in OUTPUT_ATTRIBUTES:
                self.error(
                    TYPE_ERROR,
                    f'unknown attribute "{attr_name}" in output "{name}"; expected '
                    f"{', '.join(OUTPUT_ATTRIBUTES)}" + suggest(attr_name, OUTPUT_ATTRIBUTES),
                    attr.pos,
                    node.key,
                )
        out = OutputValue(name, None, pos=block.pos)
        ctx = self._ctx()
        if "description" in attrs:
            out.description = self._static_string(attrs["description"], node.key) or ""
        if "sensitive" in attrs:
            out.sensitive = self._static_bool(attrs["sensitive"], node.key)
        if "depends_on" in attrs:
            self._depends_on_refs(attrs["depends_on"], node.key)
        value_attr = attrs.get("value")
        if value_attr is None:
            self.error(
                TYPE_ERROR, f'output "{name}" needs a value = ... attribute', block.pos, node.key
            )
        elif not node.broken:
            out.value = plain(self._eval(value_attr.expr, ctx, node.key))
            if self._is_sensitive(value_attr.expr) and not out.sensitive:
                self.error(
                    TYPE_ERROR,
                    f'output "{name}" refers to sensitive values; add sensitive = true to the '
                    "output block to confirm it may be stored and shown masked",
                    value_attr.expr.pos,
                    node.key,
                )
        else:
            out.value = UNKNOWN
        self.config.outputs[name] = out

    def _static_string(self, attr: Attribute, address: str) -> str | None:
        """A string from literals and variables; None when unknown or (reported) not a string."""
        value = self._eval_static(attr, self._var_only_ctx(), address)
        if isinstance(value, str):
            return value
        if value is not UNKNOWN:
            self.error(
                TYPE_ERROR,
                f"{attr.name} must be a string, got {type_name(value)}",
                attr.expr.pos,
                address,
            )
        return None

    def _static_bool(self, attr: Attribute, address: str) -> bool:
        value = self._eval_static(attr, self._var_only_ctx(), address)
        if value is UNKNOWN:
            return False
        try:
            return to_bool(value)
        except ValueError as e:
            self.error(TYPE_ERROR, f"{attr.name}: {e}", attr.expr.pos, address)
            return False

    # ---- agents

    def _evaluate_agent(self, node: _GraphNode) -> None:
        name = node.key.partition(".")[2]
        block = self.agent_blocks[name]
        values: dict[str, Any] = dict.fromkeys(AGENT_ATTRIBUTES)
        attr_pos: dict[str, Pos] = {}
        sensitive: set[str] = set()
        ctx = self._ctx()
        for sub in block.body.blocks:
            self.error(
                TYPE_ERROR, f'unknown block "{sub.type}" in agent "{name}"', sub.pos, node.key
            )
        for attr_name, attr in block.body.attributes.items():
            if attr_name not in AGENT_ATTRIBUTES:
                self.error(
                    TYPE_ERROR,
                    f'unknown attribute "{attr_name}" in agent "{name}"; expected '
                    f"{', '.join(AGENT_ATTRIBUTES)}" + suggest(attr_name, AGENT_ATTRIBUTES),
                    attr.pos,
                    node.key,
                )
                continue
            attr_pos[attr_name] = attr.expr.pos
            if self._is_sensitive(attr.expr):
                sensitive.add(attr_name)
            values[attr_name] = (
                UNKNOWN if node.broken else plain(self._eval(attr.expr, ctx, node.key))
            )
        self.sensitive_agent_attrs[name] = sensitive
        self.config.agents[name] = AgentConfig(
            name=name,
            endpoint=values["endpoint"],
            token=values["token"],
            ca_file=values["ca_file"],
            public_ipv4=values["public_ipv4"],
            public_ipv6=values["public_ipv6"],
            pos=block.pos,
            attr_pos=attr_pos,
            sensitive=sensitive,
        )
        self.agent_refs[name] = AgentRef(name, {"name": name, **values})

    # ---- resources

    def _evaluate_resource(self, node: _GraphNode) -> None:
        key = node.key
        type_, name = key.split(".", 1)
        block = self.resource_blocks[key]
        body = block.body
        self.sensitive_paths[key] = self._sensitive_body_paths(body, NESTED_BLOCKS[type_], "")
        expansion = self._expansion(key, block) if not node.broken else None
        if expansion is None:
            self.instances[key] = []
            self.resource_values[type_][name] = UNKNOWN
            return
        kind, keys_and_roots = expansion
        lifecycle = self._lifecycle(body, key)
        if "depends_on" in body.attributes:
            self._depends_on_refs(body.attributes["depends_on"], key)
        addresses = [key + instance_key_suffix(k) for k, _ in keys_and_roots]
        self.instances[key] = addresses
        depends = self._resource_dependencies(node)
        values: list[dict[str, Any]] = []
        for (instance_key, extra), address in zip(keys_and_roots, addresses, strict=True):
            ctx = self._ctx(extra)
            attrs: dict[str, Any] = {}
            attr_pos: dict[str, Pos] = {}
            name_pos: dict[str, Pos] = {}
            self._evaluate_body(
                body, NESTED_BLOCKS[type_], "", ctx, attrs, (attr_pos, name_pos), address, top=True
            )
            instance = ResourceInstance(
                address=address,
                type=type_,
                name=name,
                key=instance_key,
                attrs=attrs,
                pos=block.pos,
                attr_pos=attr_pos,
                name_pos=name_pos,
                depends_on=[d for d in depends if d != address],
                lifecycle=lifecycle,
                sensitive=set(self.sensitive_paths[key]),
            )
            self._add_computed(instance)
            self.config.resources[address] = instance
            values.append(_reference_value(type_, attrs))
        if kind == "single":
            self.resource_values[type_][name] = values[0]
        elif kind == "count":
            self.resource_values[type_][name] = values
        else:
            self.resource_values[type_][name] = {
                str(k): v for (k, _), v in zip(keys_and_roots, values, strict=True)
            }

    def _expansion(
        self, key: str, block: Block
    ) -> tuple[str, list[tuple[Any, dict[str, Any]]]] | None:
        """("single" | "count" | "for_each", [(instance key, extra roots)]), or None."""
        attrs = block.body.attributes
        count, for_each = attrs.get("count"), attrs.get("for_each")
        if count is not None and for_each is not None:
            self.error(
                TYPE_ERROR,
                "count and for_each cannot both be set on one resource; keep one",
                for_each.pos,
                key,
            )
            return None
        if count is not None:
            value = self._eval(count.expr, self._ctx(), key, failed=_FAILED)
            if value is _FAILED:
                return None
            if not is_wholly_known(value):
                self.error(
                    TYPE_ERROR,
                    "count depends on values known only after apply; it must be known at plan time",
                    count.expr.pos,
                    key,
                )
                return None
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value < 0
                or value != int(value)
            ):
                self.error(
                    TYPE_ERROR,
                    "count must be a whole number of 0 or more, got "
                    + _show(value, self._is_sensitive(count.expr)),
                    count.expr.pos,
                    key,
                )
                return None
            return "count", [(i, {"count": {"index": i}}) for i in range(int(value))]
        if for_each is not None:
            value = self._eval(for_each.expr, self._ctx(), key, failed=_FAILED)
            if value is _FAILED:
                return None
            if isinstance(value, dict) and all(isinstance(k, str) for k in value):
                if not is_wholly_known(list(value)):
                    value = UNKNOWN
                else:
                    return "for_each", [
                        (k, {"each": {"key": k, "value": value[k]}}) for k in sorted(value)
                    ]
            if (
                isinstance(value, list)
                and is_wholly_known(value)
                and all(isinstance(v, str) for v in value)
            ):
                duplicates = sorted({v for v in value if value.count(v) > 1})
                if duplicates:
                    self.error(
                        TYPE_ERROR,
                        f'for_each has duplicate keys ("{duplicates[0]}"); '
                        "wrap the list in toset()",
                        for_each.expr.pos,
                        key,
                    )
                    return None
                return "for_each", [(k, {"each": {"key": k, "value": k}}) for k in sorted(value)]
            if value is UNKNOWN or not is_wholly_known(value):
                self.error(
                    TYPE_ERROR,
                    "for_each depends on values known only after apply; "
                    "its keys must be known at plan time",
                    for_each.expr.pos,
                    key,
                )
                return None
            self.error(
                TYPE_ERROR,
                "for_each must be a map or a set of strings, got "
                + _show(value, self._is_sensitive(for_each.expr)),
                for_each.expr.pos,
                key,
            )
            return None
        return "single", [(None, {})]

    def _evaluate_body(
        self,
        body: Body,
        nested: Mapping[str, str],
        prefix: str,
        ctx: Context,
        attrs: dict[str, Any],
        positions: tuple[dict[str, Pos], dict[str, Pos]],
        address: str,
        top: bool = False,
    ) -> None:
        """Evaluate `body` into `attrs`; `positions` are (values, attribute names) by path."""
        attr_pos, name_pos = positions
        for name, attr in body.attributes.items():
            if top and name in META_ARGUMENTS:
                continue
            value = plain(self._eval(attr.expr, ctx, address))
            if value is None:
                continue  # null is the same as leaving the attribute out (Terraform's rule)
            attrs[name] = value
            name_pos[prefix + name] = attr.pos
            _value_positions(attr.expr, prefix + name, attr_pos)
        seen_single: dict[str, Block] = {}
        for block in body.blocks:
            if top and block.type == "lifecycle":
                continue
            mode = nested.get(block.type, "list")
            if block.labels:
                self.error(TYPE_ERROR, f"a {block.type} block takes no labels", block.pos, address)
            sub_attrs: dict[str, Any] = {}
            if mode == "single":
                if block.type in seen_single:
                    self.error(
                        TYPE_ERROR,
                        f"only one {block.type} block is allowed "
                        f"(first at {seen_single[block.type].pos})",
                        block.pos,
                        address,
                    )
                    continue
                seen_single[block.type] = block
                path = f"{prefix}{block.type}"
                attrs[block.type] = sub_attrs
            else:
                items = attrs.setdefault(block.type, [])
                path = f"{prefix}{block.type}.{len(items)}"
                items.append(sub_attrs)
            attr_pos[path] = block.pos
            self._evaluate_body(block.body, {}, path + ".", ctx, sub_attrs, positions, address)

    def _sensitive_body_paths(self, body: Body, nested: Mapping[str, str], prefix: str) -> set[str]:
        out: set[str] = set()
        for name, attr in body.attributes.items():
            if name not in META_ARGUMENTS and self._is_sensitive(attr.expr):
                out.add(prefix + name)
        counts: dict[str, int] = {}
        for block in body.blocks:
            if block.type == "lifecycle" and not prefix:
                continue
            if nested.get(block.type, "list") == "single":
                path = f"{prefix}{block.type}"
            else:
                path = f"{prefix}{block.type}.{counts.get(block.type, 0)}"
                counts[block.type] = counts.get(block.type, 0) + 1
            out |= self._sensitive_body_paths(block.body, {}, path + ".")
        return out

    def _depends_on_refs(self, attr: Attribute, address: str) -> None:
        """Check that depends_on lists resource references (they are graph edges already)."""
        if not isinstance(attr.expr, TupleExpr):
            self.error(
                TYPE_ERROR,
                "depends_on must be a list of resource references, e.g. [l4_site.main]",
                attr.expr.pos,
                address,
            )
            return
        for item in attr.expr.items:
            root = item
            while isinstance(root, GetAttr | Index):
                root = root.obj
            if isinstance(root, Name) and root.name in RESOURCE_TYPES:
                continue
            shown = (
                f'"{item.value}"'
                if isinstance(item, Literal) and isinstance(item.value, str)
                else "this entry"
            )
            self.error(
                TYPE_ERROR,
                "depends_on lists resource references such as l4_site.main, "
                f"not strings or other values; "
                f"replace {shown}",
                item.pos,
                address,
            )

    def _lifecycle(self, body: Body, address: str) -> Lifecycle:
        out = Lifecycle()
        blocks = body.blocks_of("lifecycle")
        for extra in blocks[1:]:
            self.error(
                TYPE_ERROR,
                f"only one lifecycle block is allowed (first at {blocks[0].pos})",
                extra.pos,
                address,
            )
        if not blocks:
            return out
        block = blocks[0]
        for sub in block.body.blocks:
            self.error(TYPE_ERROR, f'unknown block "{sub.type}" in lifecycle', sub.pos, address)
        for name, attr in block.body.attributes.items():
            if name in ("prevent_destroy", "create_before_destroy"):
                setattr(out, name, self._static_bool(attr, address))
            elif name == "ignore_changes":
                out.ignore_changes = self._ignore_changes(attr, address)
            else:
                self.error(
                    TYPE_ERROR,
                    f'unknown attribute "{name}" in lifecycle; expected prevent_destroy, '
                    "create_before_destroy or ignore_changes",
                    attr.pos,
                    address,
                )
        return out

    def _ignore_changes(self, attr: Attribute, address: str) -> list[str]:
        expr = attr.expr
        if isinstance(expr, Name) and expr.name == "all":
            return ["*"]
        if not isinstance(expr, TupleExpr):
            self.error(
                TYPE_ERROR,
                "ignore_changes must be a list of attribute names, e.g. [rule, comment], or all",
                expr.pos,
                address,
            )
            return []
        out: list[str] = []
        for item in expr.items:
            path = _attribute_path(item)
            if path is None:
                self.error(
                    TYPE_ERROR,
                    "ignore_changes entries are attribute names such as rule or "
                    "ddos_protection.mode",
                    item.pos,
                    address,
                )
                continue
            out.append(path)
        return out

    def _add_computed(self, instance: ResourceInstance) -> None:
        attrs = instance.attrs
        rid = resource_id(instance.type, instance.name, instance.key, attrs)
        if rid is not None:
            attrs["id"] = rid
        if instance.type == "l4_site":
            if isinstance(rid, str) and rid not in self.sites_by_id:
                self.sites_by_id[rid] = instance
            return
        if instance.type != "l4_application":
            return
        site = self.sites_by_id.get(attrs["site"]) if isinstance(attrs.get("site"), str) else None
        if "agents" not in attrs and site is not None and "agents" in site.attrs:
            attrs["agents"] = site.attrs["agents"]
        names = attrs.get("agents", [])
        if not isinstance(names, list) or not is_wholly_known(names):
            attrs["endpoints"] = UNKNOWN
            attrs["dns_records"] = UNKNOWN
            return
        agents = [
            self.config.agents[n] for n in names if isinstance(n, str) and n in self.config.agents
        ]
        attrs["endpoints"] = endpoints(attrs, agents)
        attrs["dns_records"] = dns_records(rid, attrs, agents)


def _acyclic(graph: nx.DiGraph) -> nx.DiGraph:
    """`graph` without the edges inside cycles (their nodes are already reported)."""
    cyclic = [
        c
        for c in nx.strongly_connected_components(graph)
        if len(c) > 1 or graph.has_edge(*(next(iter(c)),) * 2)
    ]
    if not cyclic:
        return graph
    out = graph.copy()
    for component in cyclic:
        out.remove_edges_from([(u, v) for u, v in graph.subgraph(component).edges])
    return out


def _value_positions(expr: Node, path: str, attr_pos: dict[str, Pos]) -> None:
    """Record where the value at `path` is written, and each element of a literal list or object."""
    attr_pos[path] = expr.pos
    if isinstance(expr, TupleExpr):
        for i, item in enumerate(expr.items):
            _value_positions(item, f"{path}.{i}", attr_pos)
    elif isinstance(expr, ObjectExpr):
        for key, value in expr.items:
            if isinstance(key, Literal) and isinstance(key.value, str):
                _value_positions(value, f"{path}.{key.value}", attr_pos)


def _body_expressions(body: Body, skip_blocks: tuple[str, ...] = ()) -> list[Node]:
    out = [attr.expr for attr in body.attributes.values()]
    for block in body.blocks:
        if block.type not in skip_blocks:
            out.extend(_body_expressions(block.body))
    return out


def _attribute_path(node: Node) -> str | None:
    """`rule` → "rule", `ddos_protection.mode` → "ddos_protection.mode", `"rule"` → "rule"."""
    if isinstance(node, Literal) and isinstance(node.value, str):
        return node.value
    parts: list[str] = []
    while isinstance(node, GetAttr | Index):
        if isinstance(node, GetAttr):
            parts.append(node.name)
        elif isinstance(node.key, Literal):
            parts.append(str(node.key.value))
        else:
            return None
        node = node.obj
    if not isinstance(node, Name):
        return None
    parts.append(node.name)
    return ".".join(reversed(parts))


def _show(value: Any, sensitive: bool = False) -> str:
    if sensitive:
        return f"a sensitive {type_name(value)}"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return type_name(value)


def evaluate_config(
    config: Config,
    files: list[SourceFile],
    *,
    var_args: Sequence[str],
    var_files: Sequence[str],
    environ: Mapping[str, str],
) -> None:
    """Fill `config` from parsed `files`; problems go to `config.diagnostics`."""
    ConfigEvaluator(config, var_args=var_args, var_files=var_files, environ=environ).run(files)
