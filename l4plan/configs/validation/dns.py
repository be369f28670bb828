"""L4E021: a site's `dns` block (docs/dns.md), each value checked where it is written.

The rules themselves are `l4plan.dns.settings`'s, the ones publishing reads them
with. The schema has checked the types; values known only after apply are skipped.
"""

from __future__ import annotations

from l4plan import codes
from l4plan.configs.model import ResourceInstance
from l4plan.configs.validation.context import Context, known
from l4plan.dns.settings import (
    ALGORITHMS,
    MAX_TTL,
    key_name_problem,
    parse_server,
    secret_problem,
)


def check_dns(ctx: Context, site: ResourceInstance) -> None:
    block = site.attrs.get("dns")
    if not isinstance(block, dict):
        return
    server = block.get("server")
    if isinstance(server, str) and known(server):
        try:
            parse_server(server)
        except ValueError as e:
            ctx.report(codes.DNS_SETTINGS, f'dns.server = "{server}": {e}', site, "dns.server")
    ttl = block.get("ttl")
    if isinstance(ttl, int) and known(ttl) and not 0 <= ttl <= MAX_TTL:
        ctx.report(
            codes.DNS_SETTINGS,
            f"dns.ttl = {ttl} is out of range: use 0 to {MAX_TTL} seconds",
            site,
            "dns.ttl",
        )
    key = block.get("tsig_key")
    if not isinstance(key, dict):
        return
    name = key.get("name")
    if isinstance(name, str) and known(name):
        problem = key_name_problem(name)
        if problem:
            ctx.report(
                codes.DNS_SETTINGS,
                f'dns.tsig_key.name = "{name}" {problem}',
                site,
                "dns.tsig_key.name",
            )
    algorithm = key.get("algorithm")
    if isinstance(algorithm, str) and known(algorithm) and algorithm not in ALGORITHMS:
        ctx.report(
            codes.DNS_SETTINGS,
            f'dns.tsig_key.algorithm = "{algorithm}" is not supported: use one of '
            + ", ".join(ALGORITHMS),
            site,
            "dns.tsig_key.algorithm",
        )
    secret = key.get("secret")
    if isinstance(secret, str) and known(secret):
        problem = secret_problem(secret)
        if problem:
            ctx.report(
                codes.DNS_SETTINGS,
                f"dns.tsig_key.secret {problem}",
                site,
                "dns.tsig_key.secret",
            )
