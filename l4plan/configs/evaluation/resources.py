"""Phase 5 for a resource block: its instances, their attributes and computed values.

Input: the resource's block, its graph node and the values evaluated before it
(in `Scope`). Output: one `ResourceInstance` per instance in `Config.resources`,
and what references to the resource read in `Scope.resources` (unset declared
attributes read as null, `revisions` is unknown).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from l4plan.configs.evaluation.computed import dns_records, endpoints, resource_id
from l4plan.configs.evaluation.declarations import Declarations
from l4plan.configs.evaluation.expansion import instances_of
from l4plan.configs.evaluation.graph import GraphNode
from l4plan.configs.evaluation.lifecycle import check_depends_on, lifecycle_of
from l4plan.configs.evaluation.scope import Scope
from l4plan.configs.hcl.syntax import Block, Body, Literal, Node, ObjectExpr, TupleExpr
from l4plan.configs.lang.values import TYPE_ERROR, Context, plain
from l4plan.configs.model import (
    META_ARGUMENTS,
    NESTED_BLOCKS,
    UNKNOWN,
    WRITE_ONLY,
    Config,
    ResourceInstance,
    digest_write_only,
    instance_key_suffix,
    is_wholly_known,
)
from l4plan.configs.validation.schema import declared_attributes
from l4plan.diagnostics import Pos


def evaluate_resource(node: GraphNode, decls: Declarations, scope: Scope, config: Config) -> None:
    """Phase 5 for a resource block: its instances in `Config.resources`, computed
    attributes included, and what references to it read."""
    key = node.key
    type_, name = key.split(".", 1)
    block = decls.resources[key]
    body = block.body
    scope.sensitivity.resource_paths[key] = scope.sensitivity.resource_body_paths(
        type_, body, NESTED_BLOCKS[type_]
    )
    expansion = instances_of(scope, key, block) if not node.broken else None
    if expansion is None:
        scope.instances[key] = []
        scope.resources[type_][name] = UNKNOWN
        return
    kind, keys_and_roots = expansion
    lifecycle = lifecycle_of(scope, body, key)
    if "depends_on" in body.attributes:
        check_depends_on(scope, body.attributes["depends_on"], key)
    addresses = [key + instance_key_suffix(k) for k, _ in keys_and_roots]
    scope.instances[key] = addresses
    depends = scope.resource_dependencies(node.refs)
    values: list[dict[str, Any]] = []
    for (instance_key, extra), address in zip(keys_and_roots, addresses, strict=True):
        ctx = scope.ctx(extra)
        attrs: dict[str, Any] = {}
        attr_pos: dict[str, Pos] = {}
        name_pos: dict[str, Pos] = {}
        evaluate_body(
            scope,
            body,
            NESTED_BLOCKS[type_],
            "",
            ctx,
            attrs,
            (attr_pos, name_pos),
            address,
            top=True,
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
            sensitive=set(scope.sensitivity.resource_paths[key]),
        )
        add_computed(scope, config, instance)
        config.resources[address] = instance
        values.append(_reference_value(type_, attrs))
    if kind == "single":
        scope.resources[type_][name] = values[0]
    elif kind == "count":
        scope.resources[type_][name] = values
    else:
        scope.resources[type_][name] = {
            str(k): v for (k, _), v in zip(keys_and_roots, values, strict=True)
        }


def evaluate_body(
    scope: Scope,
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
        value = plain(scope.eval(attr.expr, ctx, address))
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
            scope.error(TYPE_ERROR, f"a {block.type} block takes no labels", block.pos, address)
        sub_attrs: dict[str, Any] = {}
        if mode == "single":
            if block.type in seen_single:
                scope.error(
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
        evaluate_body(scope, block.body, {}, path + ".", ctx, sub_attrs, positions, address)


def add_computed(scope: Scope, config: Config, instance: ResourceInstance) -> None:
    """The computed attributes (docs/configuration.md): id, and for applications the
    default agents, endpoints and dns_records."""
    attrs = instance.attrs
    rid = resource_id(instance.type, instance.name, instance.key, attrs)
    if rid is not None:
        attrs["id"] = rid
    if instance.type == "l4_site":
        if isinstance(rid, str) and rid not in scope.sites_by_id:
            scope.sites_by_id[rid] = instance
        return
    if instance.type != "l4_application":
        return
    site = scope.sites_by_id.get(attrs["site"]) if isinstance(attrs.get("site"), str) else None
    if "agents" not in attrs and site is not None and "agents" in site.attrs:
        attrs["agents"] = site.attrs["agents"]
    names = attrs.get("agents", [])
    if not isinstance(names, list) or not is_wholly_known(names):
        attrs["endpoints"] = UNKNOWN
        attrs["dns_records"] = UNKNOWN
        return
    agents = [config.agents[n] for n in names if isinstance(n, str) and n in config.agents]
    attrs["endpoints"] = endpoints(attrs, agents)
    attrs["dns_records"] = dns_records(rid, attrs, agents)


def _reference_value(type_: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """What a reference to a resource instance reads: unset declared attributes are null."""
    value = dict.fromkeys(declared_attributes(type_))
    value.update(attrs)
    for block in NESTED_BLOCKS[type_]:
        given = attrs.get(block)
        names = declared_attributes(type_, block)
        if isinstance(given, dict):
            value[block] = {**dict.fromkeys(names), **given}
        elif isinstance(given, list):
            value[block] = [
                {**dict.fromkeys(names), **item} if isinstance(item, dict) else item
                for item in given
            ]
    value["revisions"] = UNKNOWN
    if type_ in WRITE_ONLY:  # a reference reads the digest, as plan and state hold it
        value = copy.deepcopy(value)
        digest_write_only(type_, value)
    return value


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
