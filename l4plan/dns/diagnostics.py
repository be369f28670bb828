"""Diagnostics of a refresh of the published records (docs/dns.md).

A server that refused the TSIG key is an error whatever the command (L4E108): every
update would be refused too, so the plan stops before any agent or record changes.
A server that did not answer is a warning (L4W106, its records are planned from the
state), or with `complete` an error (L4E107), as for agents.
"""

from __future__ import annotations

from l4plan import codes
from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic, Pos
from l4plan.dns.refresh import DnsRefresh
from l4plan.dns.settings import site_settings


def _site_of(config: Config, server: str) -> tuple[str, Pos | None]:
    """The address and `dns.server` position of the site that names `server`."""
    for site in config.of_type("l4_site"):
        settings = site_settings(site.attrs)
        if settings is not None and settings.server == server:
            return site.address, site.attr_pos.get("dns.server", site.pos)
    return "", None


def dns_refresh_diagnostics(
    found: DnsRefresh, config: Config, *, complete: bool = False
) -> list[Diagnostic]:
    diags = []
    for server, error in sorted(found.errors.items()):
        address, pos = _site_of(config, server)
        if error.kind == "key":
            diags.append(
                Diagnostic.at(
                    codes.DNS_KEY_REFUSED,
                    f"{error.message}. Nothing was changed.",
                    pos,
                    address=address,
                )
            )
        elif complete:
            diags.append(
                Diagnostic.at(
                    codes.DNS_UNREFRESHED,
                    f"could not read back the published records: {error.message}. The plan"
                    " cannot tell whether they are in sync, so --detailed-exitcode fails.",
                    pos,
                    address=address,
                )
            )
        else:
            diags.append(
                Diagnostic.at(
                    codes.DNS_UNREACHABLE,
                    f"could not read back the published records: {error.message}. They are"
                    " planned from the recorded state.",
                    pos,
                    address=address,
                    severity="warning",
                )
            )
    for server in found.unsigned:
        diags.append(
            Diagnostic.at(
                codes.DNS_UNREFRESHED if complete else codes.DNS_UNREACHABLE,
                f"the state records DNS records at {server}, which no site's dns block names"
                " any more, so no key can read or remove them: apply stops managing them and"
                " they stay on that server. To have them removed instead, name the server"
                " in the site's dns block again until an apply has removed them.",
                severity="error" if complete else "warning",
            )
        )
    return diags
