"""Phase 5 for agent blocks: `AgentConfig`, and what `agent.NAME` evaluates to."""

from __future__ import annotations

from typing import Any

from l4plan.configs.evaluation.declarations import Declarations
from l4plan.configs.evaluation.graph import GraphNode
from l4plan.configs.evaluation.scope import Scope
from l4plan.configs.lang.values import TYPE_ERROR, AgentRef, plain, suggest
from l4plan.configs.model import UNKNOWN, AgentConfig, Config
from l4plan.configs.validation.schema import AGENT_ATTRIBUTES
from l4plan.diagnostics import Pos


def evaluate_agent(node: GraphNode, decls: Declarations, scope: Scope, config: Config) -> None:
    """Phase 5 for an agent block: `Config.agents[name]` and what `agent.NAME` reads."""
    name = node.key.partition(".")[2]
    block = decls.agents[name]
    values: dict[str, Any] = dict.fromkeys(AGENT_ATTRIBUTES)
    attr_pos: dict[str, Pos] = {}
    sensitive: set[str] = set()
    ctx = scope.ctx()
    for sub in block.body.blocks:
        scope.error(TYPE_ERROR, f'unknown block "{sub.type}" in agent "{name}"', sub.pos, node.key)
    for attr_name, attr in block.body.attributes.items():
        if attr_name not in AGENT_ATTRIBUTES:
            scope.error(
                TYPE_ERROR,
                f'unknown attribute "{attr_name}" in agent "{name}"; expected '
                f"{', '.join(AGENT_ATTRIBUTES)}" + suggest(attr_name, AGENT_ATTRIBUTES),
                attr.pos,
                node.key,
            )
            continue
        attr_pos[attr_name] = attr.expr.pos
        if scope.sensitivity.is_sensitive(attr.expr):
            sensitive.add(attr_name)
        values[attr_name] = UNKNOWN if node.broken else plain(scope.eval(attr.expr, ctx, node.key))
    scope.sensitivity.agent_attributes[name] = sensitive
    config.agents[name] = AgentConfig(
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
    scope.agents[name] = AgentRef(name, {"name": name, **values})
