"""What the diff needs to know about each resource type's attributes."""

from __future__ import annotations

from l4plan.agents.spec import EFFECTIVE_KEEPALIVE
from l4plan.configs.model import NESTED_BLOCKS

# Attributes whose change cannot be applied in place: the resource's identity on the
# agents (its id) derives from them.
REPLACE_ATTRS: dict[str, tuple[str, ...]] = {
    "l4_site": ("name",),
    "l4_application": ("site", "domain"),
    "l4_load_balancer": ("domain",),
    "l4_ip_access_rule": ("site",),
}

# Repeated blocks matched by content, not list position: the identity fields of one
# block. Blocks equal in full are paired first, then blocks with the same identity.
BLOCK_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "l4_application": {"rule": ("protocol", "edge_port")},
    "l4_load_balancer": {"origin": ("address",)},
}

# Lists of strings whose order carries no meaning (sets in Terraform's terms).
UNORDERED_ATTRS = frozenset({"agents", "sources", "l7_domains", "edge_function_domains"})

# Attributes the agents fill in: unknown in the configuration, kept from state while
# nothing else changes, "(known after apply)" when the resource is updated.
AGENT_COMPUTED = frozenset({"revisions"})

# Attributes l4plan derives from others: when `ignore_changes` keeps an input as
# recorded, the derived value is kept as recorded too.
DERIVED_FROM: dict[str, frozenset[str]] = {
    "id": frozenset({"name", "site", "domain"}),
    "endpoints": frozenset({"rule", "agents", "ipv6"}),
    "dns_records": frozenset({"site", "domain", "agents", "ipv6"}),
    EFFECTIVE_KEEPALIVE: frozenset({"keepalive_protection", "site"}),
}

# Attributes the plan derives (they depend on the time of the plan, which the
# configuration does not know). A state written before one existed lacks it: the
# plan then fills it in without counting that as a change.
PLAN_DERIVED = frozenset({EFFECTIVE_KEEPALIVE})

# Resource types that are placed on agents (their `agents` attribute).
PLACED_TYPES = frozenset({"l4_application"})


def nested_block_kind(type_: str, attr: str) -> str | None:
    """ "single", "list", or None when `attr` is not a nested block of `type_`."""
    return NESTED_BLOCKS.get(type_, {}).get(attr)


def block_key(type_: str, attr: str) -> tuple[str, ...]:
    return BLOCK_KEYS.get(type_, {}).get(attr, ())
