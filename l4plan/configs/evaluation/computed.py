"""Computed attributes: deterministic ids, application endpoints and DNS records.

Identifiers (docs/architecture.md) are known at plan time whenever their inputs
are, so constraints can compare them: `l4_site` → its name, `l4_application` →
its fully qualified domain, `l4_load_balancer` → `lb:<domain>`,
`l4_ip_access_rule` → `acl:<site>:<name>` (plus `[key]` for an expanded instance).
"""

from __future__ import annotations

from typing import Any

from l4plan.configs.model import UNKNOWN, AgentConfig, instance_key_suffix, is_wholly_known
from l4plan.ports import parse_ports


def fqdn(domain: Any, site: Any) -> Any:
    """`play` under `example.com` → `play.example.com`; an FQDN stays as written.

    A name without a dot is relative to the site's zone. Names are lower-cased
    (DNS is case-insensitive) and one trailing dot (absolute notation) is dropped.
    """
    if domain is UNKNOWN:
        return UNKNOWN
    if not isinstance(domain, str):
        return domain
    name = domain.lower().removesuffix(".")
    if "." in name or not name:
        return name
    if site is UNKNOWN:
        return UNKNOWN
    if not isinstance(site, str) or not site:
        return name
    return f"{name}.{site.lower().removesuffix('.')}"


def resource_id(type_: str, name: str, key: int | str | None, attrs: dict[str, Any]) -> Any:
    if type_ == "l4_site":
        return attrs.get("name")
    if type_ == "l4_application":
        return fqdn(attrs.get("domain"), attrs.get("site"))
    if type_ == "l4_load_balancer":
        domain = fqdn(attrs.get("domain"), attrs.get("site"))
        if domain is UNKNOWN:
            return UNKNOWN
        return f"lb:{domain}" if isinstance(domain, str) else None
    # l4_ip_access_rule
    site = attrs.get("site")
    if site is UNKNOWN:
        return UNKNOWN
    return f"acl:{site}:{name}{instance_key_suffix(key)}" if isinstance(site, str) else None


def _public_ips(agent: AgentConfig, ipv6: bool) -> list[tuple[str, str]]:
    """(record type, address) pairs of an agent's acceleration addresses."""
    out: list[tuple[str, str]] = []
    if isinstance(agent.public_ipv4, str):
        out.append(("A", agent.public_ipv4))
    if ipv6 and isinstance(agent.public_ipv6, str):
        out.append(("AAAA", agent.public_ipv6))
    return out


def _rule_order(rule: dict[str, Any]) -> tuple[Any, ...]:
    """Rules by protocol and edge ports, as the agent spec sorts them: rule blocks never
    share a port (L4E004), so their order in the configuration carries no meaning."""
    ports = rule.get("edge_port")
    try:
        parsed = parse_ports(ports).to_spec() if isinstance(ports, str | int) else []
    except ValueError:  # reported by the constraints (L4E003)
        parsed = []
    return (str(rule.get("protocol")), parsed, str(ports))


def endpoints(attrs: dict[str, Any], agents: list[AgentConfig]) -> Any:
    """`{protocol, address, ports}` per rule and agent public IP: rules by protocol and
    ports, then agents by name, so reordering rule blocks or agents changes nothing.

    UNKNOWN while the rules, `ipv6` or the agents' addresses are not known.
    """
    rules = attrs.get("rule", [])
    ipv6 = attrs.get("ipv6", False)
    if not is_wholly_known(rules) or ipv6 is UNKNOWN or not _agents_known(agents):
        return UNKNOWN
    out: list[dict[str, Any]] = []
    blocks = [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []
    for rule in sorted(blocks, key=_rule_order):
        for agent in _by_name(agents):
            for _kind, address in _public_ips(agent, ipv6 is True):
                out.append(
                    {
                        "protocol": rule.get("protocol"),
                        "address": address,
                        "ports": rule.get("edge_port"),
                    }
                )
    return out


def dns_records(fqdn_: Any, attrs: dict[str, Any], agents: list[AgentConfig]) -> Any:
    """The A (and, with `ipv6 = true`, AAAA) records the application's domain must have,
    agents by name."""
    ipv6 = attrs.get("ipv6", False)
    if fqdn_ is UNKNOWN or ipv6 is UNKNOWN or not _agents_known(agents):
        return UNKNOWN
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for agent in _by_name(agents):
        for kind, address in _public_ips(agent, ipv6 is True):
            if (kind, address) not in seen:
                seen.add((kind, address))
                out.append({"type": kind, "name": fqdn_, "value": address})
    return out


def _by_name(agents: list[AgentConfig]) -> list[AgentConfig]:
    return sorted(agents, key=lambda a: a.name)


def _agents_known(agents: list[AgentConfig]) -> bool:
    return all(a.public_ipv4 is not UNKNOWN and a.public_ipv6 is not UNKNOWN for a in agents)
