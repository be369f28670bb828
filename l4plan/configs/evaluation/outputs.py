"""Phase 5 for local values and outputs."""

from __future__ import annotations

from l4plan.configs.evaluation.declarations import Declarations
from l4plan.configs.evaluation.graph import GraphNode
from l4plan.configs.evaluation.lifecycle import check_depends_on
from l4plan.configs.evaluation.scope import Scope
from l4plan.configs.lang.values import TYPE_ERROR, plain, suggest
from l4plan.configs.model import UNKNOWN, Config, OutputValue

OUTPUT_ATTRIBUTES = ("value", "description", "sensitive", "depends_on")


def evaluate_local(node: GraphNode, decls: Declarations, scope: Scope) -> None:
    """Phase 5 for a local value: its value and whether it is sensitive."""
    name = node.key.partition(".")[2]
    scope.dependencies[node.key] = scope.resource_dependencies(node.refs)
    expr = decls.locals[name].expr
    if scope.sensitivity.is_sensitive(expr):
        scope.sensitivity.locals.add(name)
    scope.locals[name] = UNKNOWN if node.broken else scope.eval(expr, scope.ctx())


def evaluate_output(node: GraphNode, decls: Declarations, scope: Scope, config: Config) -> None:
    """Phase 5 for an output: `Config.outputs[name]`."""
    name = node.key.partition(".")[2]
    block = decls.outputs[name]
    attrs = block.body.attributes
    for sub in block.body.blocks:
        scope.error(TYPE_ERROR, f'unknown block "{sub.type}" in output "{name}"', sub.pos, node.key)
    for attr_name, attr in attrs.items():
        if attr_name not in OUTPUT_ATTRIBUTES:
            scope.error(
                TYPE_ERROR,
                f'unknown attribute "{attr_name}" in output "{name}"; expected '
                f"{', '.join(OUTPUT_ATTRIBUTES)}" + suggest(attr_name, OUTPUT_ATTRIBUTES),
                attr.pos,
                node.key,
            )
    out = OutputValue(name, None, pos=block.pos)
    ctx = scope.ctx()
    if "description" in attrs:
        out.description = scope.static_string(attrs["description"], node.key) or ""
    if "sensitive" in attrs:
        out.sensitive = scope.static_bool(attrs["sensitive"], node.key)
    if "depends_on" in attrs:
        check_depends_on(scope, attrs["depends_on"], node.key)
    value_attr = attrs.get("value")
    if value_attr is None:
        scope.error(
            TYPE_ERROR, f'output "{name}" needs a value = ... attribute', block.pos, node.key
        )
    elif not node.broken:
        out.value = plain(scope.eval(value_attr.expr, ctx, node.key))
        if scope.sensitivity.is_sensitive(value_attr.expr) and not out.sensitive:
            scope.error(
                TYPE_ERROR,
                f'output "{name}" refers to sensitive values; add sensitive = true to the '
                "output block to confirm it may be stored and shown masked",
                value_attr.expr.pos,
                node.key,
            )
    else:
        out.value = UNKNOWN
    config.outputs[name] = out
