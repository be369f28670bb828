"""Meta-arguments of a resource that are not values: `lifecycle` and `depends_on`."""

from __future__ import annotations

from l4plan.configs.evaluation.scope import Scope
from l4plan.configs.hcl.syntax import (
    Attribute,
    Body,
    GetAttr,
    Index,
    Literal,
    Name,
    Node,
    TupleExpr,
)
from l4plan.configs.lang.values import TYPE_ERROR
from l4plan.configs.model import RESOURCE_TYPES, Lifecycle


def lifecycle_of(scope: Scope, body: Body, address: str) -> Lifecycle:
    """The `lifecycle` block of a resource body (values may use variables only)."""
    out = Lifecycle()
    blocks = body.blocks_of("lifecycle")
    for extra in blocks[1:]:
        scope.error(
            TYPE_ERROR,
            f"only one lifecycle block is allowed (first at {blocks[0].pos})",
            extra.pos,
            address,
        )
    if not blocks:
        return out
    block = blocks[0]
    for sub in block.body.blocks:
        scope.error(TYPE_ERROR, f'unknown block "{sub.type}" in lifecycle', sub.pos, address)
    for name, attr in block.body.attributes.items():
        if name in ("prevent_destroy", "create_before_destroy"):
            setattr(out, name, scope.static_bool(attr, address))
        elif name == "ignore_changes":
            out.ignore_changes = _ignore_changes(scope, attr, address)
        else:
            scope.error(
                TYPE_ERROR,
                f'unknown attribute "{name}" in lifecycle; expected prevent_destroy, '
                "create_before_destroy or ignore_changes",
                attr.pos,
                address,
            )
    return out


def _ignore_changes(scope: Scope, attr: Attribute, address: str) -> list[str]:
    expr = attr.expr
    if isinstance(expr, Name) and expr.name == "all":
        return ["*"]
    if not isinstance(expr, TupleExpr):
        scope.error(
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
            scope.error(
                TYPE_ERROR,
                "ignore_changes entries are attribute names such as rule or ddos_protection.mode",
                item.pos,
                address,
            )
            continue
        out.append(path)
    return out


def check_depends_on(scope: Scope, attr: Attribute, address: str) -> None:
    """Check that depends_on lists resource references (they are graph edges already)."""
    if not isinstance(attr.expr, TupleExpr):
        scope.error(
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
        scope.error(
            TYPE_ERROR,
            "depends_on lists resource references such as l4_site.main, "
            f"not strings or other values; "
            f"replace {shown}",
            item.pos,
            address,
        )


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
