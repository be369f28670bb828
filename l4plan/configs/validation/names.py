"""Name and address constraints: domains, origins and access-rule sources.

L4E010 (domain valid and under the site's zone), L4E011 (domain already used by a
Layer 7 service, an edge function or a load balancer), L4E012 (two applications with
one domain), L4E014 (origin vs origin_type), L4E018 (access-rule CIDRs).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from l4plan import codes
from l4plan.configs.model import ResourceInstance
from l4plan.configs.validation.context import Context, known, rule_label

_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?")
_HOST_PORT = re.compile(r"^(.*):([0-9]+)$")
MAX_NAME = 253
MAX_LABEL = 63


def hostname_problem(name: str) -> str | None:
    """Why `name` is not a valid hostname (RFC 1123), or None."""
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME:
        return f"it is {len(name)} characters long; at most {MAX_NAME} are allowed"
    for label in name.split("."):
        if not label:
            return "it has an empty label (two dots in a row, or a dot at an end)"
        if len(label) > MAX_LABEL:
            return f'label "{label[:20]}..." is longer than {MAX_LABEL} characters'
        if not _LABEL.fullmatch(label):
            return (
                f'label "{label}" may hold only letters, digits and hyphens,'
                " and may not start or end with a hyphen"
            )
    if name.rpartition(".")[2].isdigit():
        return 'its last label is a number (an IP address belongs with origin_type = "ip")'
    return None


@lru_cache(maxsize=65536)
def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def qualify(domain: str, zone: str) -> str | None:
    """The FQDN of `domain` under `zone`, or None when a dotted name is outside the zone.

    A name without a dot is relative (`play` → `play.example.com`); a dotted name must
    be the zone itself or end with `.<zone>` (compared case-insensitively).
    """
    name, zone = domain.lower(), zone.lower()
    if "." not in name:
        return f"{name}.{zone}"
    if name == zone or name.endswith("." + zone):
        return name
    return None


def _check_domain(ctx: Context, resource: ResourceInstance, zone: str) -> str | None:
    """L4E010 for the `domain` of an application or load balancer; returns its FQDN.

    One trailing dot (absolute notation, `play.example.com.`) is accepted.
    """
    domain = resource.attrs["domain"]
    if not known(domain):
        return None
    problem = hostname_problem(domain.removesuffix("."))
    if problem is not None:
        ctx.report(
            codes.DOMAIN,
            f'domain "{domain}" is not a valid hostname: {problem}',
            resource,
            "domain",
        )
        return None
    fqdn = qualify(domain.removesuffix("."), zone)
    if fqdn is None:
        ctx.report(
            codes.DOMAIN,
            f'domain "{domain}" is not under the site\'s zone "{zone}"; use a name ending in'
            f' ".{zone}" or a relative name such as "{domain.split(".")[0]}"',
            resource,
            "domain",
        )
        return None
    if len(fqdn) > MAX_NAME:
        ctx.report(
            codes.DOMAIN,
            f'domain "{fqdn}" is longer than {MAX_NAME} characters',
            resource,
            "domain",
        )
        return None
    return fqdn


def _zone(ctx: Context, resource: ResourceInstance) -> str | None:
    site = ctx.site_of(resource)
    if site is None or not known(site.attrs["name"]):
        return None
    zone: str = site.attrs["name"]
    return zone


def check_domains(ctx: Context) -> dict[str, str]:
    """L4E010, L4E011 and L4E012; returns the valid load balancers' ids → FQDN."""
    taken: dict[str, str] = {}  # lower-case domain -> what uses it
    for site in ctx.valid("l4_site"):
        for attribute, what in (
            ("l7_domains", "a Layer 7 domain"),
            ("edge_function_domains", "an edge function domain"),
        ):
            for name in site.attrs.get(attribute) or []:
                if known(name):
                    taken.setdefault(name.lower().rstrip("."), f"{what} of {site.address}")
    balancers: dict[str, str] = {}
    lb_owner: dict[str, ResourceInstance] = {}
    for lb in ctx.valid("l4_load_balancer"):
        zone = _zone(ctx, lb)
        fqdn = _check_domain(ctx, lb, zone) if zone is not None else None
        if fqdn is None:
            continue
        if fqdn in lb_owner:
            ctx.report(
                codes.DOMAIN_SHARED,
                f'domain "{fqdn}" is already the domain of {lb_owner[fqdn].address};'
                " give each load balancer its own domain",
                lb,
                "domain",
            )
            continue
        lb_owner[fqdn] = lb
        lb_id = lb.attrs.get("id")
        if isinstance(lb_id, str):
            balancers[lb_id] = fqdn
        taken.setdefault(fqdn, f"the load balancer {lb.address}")
    apps: dict[str, ResourceInstance] = {}
    for app in ctx.valid("l4_application"):
        zone = _zone(ctx, app)
        fqdn = _check_domain(ctx, app, zone) if zone is not None else None
        if fqdn is None:
            continue
        if fqdn in taken:
            ctx.report(
                codes.DOMAIN_TAKEN,
                f'domain "{fqdn}" is already used as {taken[fqdn]}; choose another name',
                app,
                "domain",
            )
        if fqdn in apps:
            ctx.report(
                codes.DOMAIN_SHARED,
                f'{apps[fqdn].address} already uses the domain "{fqdn}"; each application'
                " needs its own domain",
                app,
                "domain",
            )
        else:
            apps[fqdn] = app
    return balancers


def _address_problem(origin_type: str, value: str) -> str | None:
    """Why `value` cannot be an origin of `origin_type` (ip, domain, object_storage)."""
    if is_ip(value):
        return (
            None if origin_type == "ip" else f'"{value}" is an IP address; set origin_type = "ip"'
        )
    if _HOST_PORT.match(value):
        return f'"{value}" has a port; write the host alone and the port in origin_port'
    if origin_type == "ip":
        if value.startswith("[") and value.endswith("]") and is_ip(value[1:-1]):
            return f'write the IPv6 address without brackets: "{value[1:-1]}"'
        if hostname_problem(value) is None:
            return f'"{value}" is a hostname, not an IP address; set origin_type = "domain"'
        return f'"{value}" is not an IPv4 or IPv6 address'
    problem = hostname_problem(value.removesuffix("."))
    if problem is not None:
        return f'"{value}" is not a valid hostname: {problem}'
    return None


def check_origins(ctx: Context, balancers: dict[str, str]) -> None:
    """L4E014 for application rules and load-balancer pool members."""
    by_domain = {fqdn: lb_id for lb_id, fqdn in balancers.items()}
    for app in ctx.valid("l4_application"):
        for index, rule in ctx.rules(app):
            origin_type, origin = rule["origin_type"], rule["origin"]
            if not (known(origin_type) and known(origin)):
                continue
            label = rule_label(index)
            if origin_type == "load_balancer":
                problem = _balancer_problem(ctx, origin, balancers, by_domain)
            else:
                problem = _address_problem(origin_type, origin)
                if problem and origin in balancers:
                    problem = f'"{origin}" is a load balancer; set origin_type = "load_balancer"'
            if problem:
                ctx.report(
                    codes.ORIGIN,
                    f'{label}.origin does not match origin_type = "{origin_type}": {problem}',
                    app,
                    f"rule.{index}.origin",
                )
    for lb in ctx.valid("l4_load_balancer"):
        for index, member in enumerate(lb.attrs["origin"]):
            address = member["address"]
            if not known(address):
                continue
            kind = "ip" if is_ip(address) or address.startswith("[") else "domain"
            problem = _address_problem(kind, address)
            if problem:
                ctx.report(
                    codes.ORIGIN,
                    f"origin[{index}].address must be an IP address or a hostname: {problem}",
                    lb,
                    f"origin.{index}.address",
                )


def _balancer_problem(
    ctx: Context, origin: str, balancers: dict[str, str], by_domain: dict[str, str]
) -> str | None:
    if origin in balancers or origin in ctx.invalid_ids:
        return None
    lb_id = by_domain.get(origin.lower())
    if lb_id is not None:
        return (
            f'"{origin}" is a domain; reference the load balancer\'s id ("{lb_id}"), e.g.'
            " origin = l4_load_balancer.NAME.id"
        )
    ids = ", ".join(f'"{i}"' for i in sorted(balancers)) or "none are declared"
    return (
        f'"{origin}" is not the id of an l4_load_balancer in this configuration ({ids});'
        " write origin = l4_load_balancer.NAME.id"
    )


def check_sources(ctx: Context) -> None:
    """L4E018: every `sources` item of an access rule is a CIDR or an address."""
    for acl in ctx.valid("l4_ip_access_rule"):
        for index, source in enumerate(acl.attrs["sources"]):
            if not known(source):
                continue
            try:
                ipaddress.ip_network(source, strict=True)
            except ValueError:
                ctx.report(
                    codes.ACCESS_CIDR, _source_problem(index, source), acl, f"sources.{index}"
                )


def _source_problem(index: int, source: str) -> str:
    try:
        network = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return (
            f'sources[{index}] "{source}" is not a CIDR (192.0.2.0/24, 2001:db8::/32) or an'
            " IP address"
        )
    single = "32" if network.version == 4 else "128"
    host = source.partition("/")[0]
    return (
        f'sources[{index}] "{source}" has host bits set; write "{network}" for the network'
        f' or "{host}/{single}" for the one address'
    )
