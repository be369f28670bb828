"""Render an evaluated `l4_application` into the spec its agents receive.

The format is `schemas/rpc/app_spec.schema.json` (docs/architecture.md, "Contract:
the agent application spec"). Refresh and apply both call this, so drift is a
comparison of `spec_hash` values computed the same way on both sides.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from l4plan.configs.model import UNKNOWN, Config, ResourceInstance, is_wholly_known
from l4plan.configs.validation.constraints import expires_at
from l4plan.durations import parse_duration
from l4plan.jsontext import dumps
from l4plan.ports import parse_origin_ports, parse_ports

HEALTH_CHECK_DEFAULTS = {"interval": "5s", "timeout": "2s", "healthy": 2, "unhealthy": 3}

# The application attribute the plan derives from `keepalive_protection` and the
# site's DDoS protection at plan time: the spec's `keepalive`, visible in the plan.
EFFECTIVE_KEEPALIVE = "effective_keepalive"


def spec_hash(spec: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of `spec`; the agent computes the same."""
    canonical = dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def canonical_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` as l4plan renders it: every optional member at its documented default
    (schemas/rpc/app_spec.schema.json: no comment is "", no steering is weighted, ...),
    rules sorted and edge port ranges merged. Two specs that mean the same have the
    same canonical form, so an application made on an agent with the defaults left
    out matches the configuration that says the same. A spec l4plan rendered is
    already canonical; one that breaks the schema is returned unchanged."""
    try:
        rules = [_canonical_rule(rule) for rule in spec["rules"]]
        return {
            "ipv6": bool(spec.get("ipv6", False)),
            "keepalive": bool(spec.get("keepalive", False)),
            "acl": spec.get("acl"),
            "rules": sorted(rules, key=lambda r: (r["protocol"], r["edge_ports"])),
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        return spec


def canonical_hash(spec: dict[str, Any]) -> str:
    """The hash l4plan compares and records: that of the canonical form."""
    return spec_hash(canonical_spec(spec))


def _canonical_rule(rule: dict[str, Any]) -> dict[str, Any]:
    ranges: list[list[int]] = []
    for lo, hi in sorted(rule["edge_ports"]):
        if ranges and lo <= ranges[-1][1] + 1:
            ranges[-1][1] = max(hi, ranges[-1][1])
        else:
            ranges.append([lo, hi])
    origin = rule["origin"]
    return {
        "protocol": rule["protocol"],
        "edge_ports": ranges,
        "origin_ports": rule.get("origin_ports"),
        "passthrough": rule.get("passthrough") or "off",
        "origin": {
            "type": origin["type"],
            "steering": origin.get("steering") or "weighted",
            "targets": [
                {"host": t["host"], "weight": t.get("weight", 1)} for t in origin["targets"]
            ],
            "health_check": origin.get("health_check"),
        },
        "comment": rule.get("comment") or "",
    }


def ddos_protection_active(site: ResourceInstance, now: datetime) -> bool:
    """Full DDoS protection that has not expired: what keep-alive protection needs."""
    ddos = site.attrs.get("ddos_protection") or {}
    if ddos.get("mode") != "full":
        return False
    expires = expires_at(site)
    return expires is None or expires > now


class SpecRenderer:
    """Renders applications of one configuration; indexes sites, pools and ACLs once."""

    def __init__(self, config: Config, *, now: datetime | None = None):
        self.now = now or datetime.now(UTC)
        self.sites = {r.attrs.get("id"): r for r in config.of_type("l4_site")}
        self.pools = {r.attrs.get("id"): r for r in config.of_type("l4_load_balancer")}
        self.acls: dict[str, list[ResourceInstance]] = {}
        for rule in config.of_type("l4_ip_access_rule"):
            self.acls.setdefault(rule.attrs.get("site"), []).append(rule)
        for rules in self.acls.values():
            rules.sort(key=lambda r: (r.attrs.get("priority", 0), r.address))

    def effective_keepalive(self, attrs: dict[str, Any]) -> Any:
        """Whether keep-alive protection is in effect: asked for, and the site's DDoS
        protection is full and not expired at `now`; UNKNOWN while an input is."""
        wanted = attrs.get("keepalive_protection", False)
        site_id = attrs.get("site")
        if wanted is UNKNOWN or site_id is UNKNOWN:
            return UNKNOWN
        site = self.sites.get(site_id)
        if not wanted or site is None:
            return False
        if not is_wholly_known(site.attrs.get("ddos_protection")):
            return UNKNOWN
        return ddos_protection_active(site, self.now)

    def keepalive_lapsed(self, attrs: dict[str, Any]) -> bool:
        """Keep-alive protection is asked for and the site's full DDoS protection has
        expired (L4W001): the one reason it is off that the configuration does not show."""
        site = self.sites.get(attrs.get("site"))
        if attrs.get("keepalive_protection") is not True or site is None:
            return False
        ddos = site.attrs.get("ddos_protection") or {}
        expires = expires_at(site)
        return ddos.get("mode") == "full" and expires is not None and expires <= self.now

    def render(self, attrs: dict[str, Any]) -> dict[str, Any] | None:
        """The agent spec of an application's attributes, or None while any input is
        unknown until apply. A planned `effective_keepalive` is what the
        plan showed, so apply sends that, whenever it runs."""
        if not is_wholly_known(attrs.get("rule")):
            return None
        keepalive = attrs.get(EFFECTIVE_KEEPALIVE)
        if not isinstance(keepalive, bool):
            keepalive = self.effective_keepalive(attrs) is True
        spec: dict[str, Any] = {
            "ipv6": bool(attrs.get("ipv6", False)),
            "keepalive": keepalive,
            "acl": self._acl(attrs.get("site")) if attrs.get("waf_ip_access_control") else None,
            # rules never share a port (L4E004), so their order carries no meaning:
            # sorting keeps the hash stable when an operator reorders blocks
            "rules": sorted(
                (self._rule(rule) for rule in attrs.get("rule", [])),
                key=lambda r: (r["protocol"], r["edge_ports"]),
            ),
        }
        return spec if is_wholly_known(spec) else None

    def _acl(self, site_id: str) -> list[dict[str, Any]]:
        return [
            {"action": r.attrs["action"], "sources": list(r.attrs.get("sources", []))}
            for r in self.acls.get(site_id, [])
        ]

    def _rule(self, rule: dict[str, Any]) -> dict[str, Any]:
        origin_port = rule.get("origin_port")
        origin_ports = None
        if origin_port not in (None, ""):
            ports = parse_origin_ports(origin_port)
            origin_ports = list(ports.ranges[0])
        return {
            "protocol": rule["protocol"],
            "edge_ports": parse_ports(rule["edge_port"]).to_spec(),
            "origin_ports": origin_ports,
            "passthrough": rule.get("client_ip_passthrough") or "off",
            "origin": self._origin(rule.get("origin_type", "ip"), rule["origin"]),
            "comment": rule.get("comment") or "",
        }

    def _origin(self, origin_type: str, origin: Any) -> dict[str, Any]:
        if origin_type != "load_balancer":
            return {
                "type": origin_type,
                "steering": "weighted",
                "targets": [{"host": origin, "weight": 1}],
                "health_check": None,
            }
        pool = self.pools[origin].attrs
        check = pool.get("health_check")
        health_check = None
        if check is not None:
            merged = {**HEALTH_CHECK_DEFAULTS, **{k: v for k, v in check.items() if v is not None}}
            health_check = {
                "interval_ms": round(parse_duration(merged["interval"]) * 1000),
                "timeout_ms": round(parse_duration(merged["timeout"]) * 1000),
                "healthy": merged["healthy"],
                "unhealthy": merged["unhealthy"],
            }
        return {
            "type": "load_balancer",
            "steering": pool.get("steering") or "weighted",
            "targets": [
                {"host": o["address"], "weight": o.get("weight", 1)} for o in pool.get("origin", [])
            ],
            "health_check": health_check,
        }
