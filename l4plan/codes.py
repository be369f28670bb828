"""The catalogue of diagnostic codes: every code l4plan reports is a constant here.

Codes are part of the public interface. `docs/constraints.md` has one heading per
code, `### CODE — title`, with the title given here (tests/test_codes.py checks that
the two list the same codes with the same titles); the pages of the stages that
report a code explain it further. Errors are `L4E…`, warnings `L4W…`; `0xx` codes
come from reading and checking a configuration, `1xx` codes from planning,
refreshing and applying it.
"""

from __future__ import annotations

from types import MappingProxyType

_titles: dict[str, str] = {}


def _code(code: str, title: str) -> str:
    _titles[code] = title
    return code


# -- reading and checking a configuration (docs/constraints.md) -----------------------
LOAD = _code("L4E000", "the configuration cannot be loaded (loader)")
SITE_PLAN = _code("L4E001", "the site's plan is not enterprise")
RULE_COUNT = _code("L4E002", "no rule, or more than 30")
EDGE_PORT = _code("L4E003", "malformed edge port")
SHARED_RULE_PORT = _code("L4E004", "two rules of one application share a (protocol, edge port)")
ORIGIN_PORT = _code("L4E005", "malformed origin port")
PORT_MAPPING = _code("L4E006", "impossible port mapping")
PASSTHROUGH = _code("L4E007", "passthrough does not fit the protocol")
KEEPALIVE_SITE = _code(
    "L4E008", "keep-alive protection with China network optimization or fixed IPv4"
)
KEEPALIVE_DDOS = _code("L4E009", "keep-alive protection without full DDoS protection")
DOMAIN = _code("L4E010", "domain not valid or not under the site's zone")
DOMAIN_TAKEN = _code("L4E011", "domain already used by another service")
DOMAIN_SHARED = _code("L4E012", "two applications use one domain")
LISTENER_CONFLICT = _code("L4E013", "two applications listen on the same (agent, protocol, port)")
ORIGIN = _code("L4E014", "origin does not match origin_type")
REFERENCE = _code("L4E015", "reference to something undeclared (loader, and here)")
SCHEMA = _code("L4E016", "schema violation")
VARIABLE = _code("L4E017", "variable validation failed or required variable missing (loader)")
ACCESS_CIDR = _code("L4E018", "invalid CIDR in an access rule")
MOVED_BLOCK = _code("L4E019", "a moved block is not valid (loader)")
IMPORT_BLOCK = _code("L4E020", "an import block is not valid (loader)")
DNS_SETTINGS = _code("L4E021", "invalid dns block of a site")
DDOS_EXPIRED = _code("L4W001", "DDoS protection expired (warning)")
DDOS_EXPIRING = _code("L4W002", "DDoS protection expires within 14 days (warning)")

# -- planning, refreshing and applying (docs/plan.md, docs/apply.md) ------------------
PREVENT_DESTROY = _code("L4E101", "prevent_destroy on a resource the plan would destroy or replace")
TARGET_UNMATCHED = _code("L4E102", "a target matches no instance")
AGENT_UNREFRESHED = _code(
    "L4E103", "an agent could not be refreshed, with --detailed-exitcode (plan)"
)
MOVE_BLOCKED = _code("L4E104", "a moved block's destination is already in the state")
IMPORT_UNAVAILABLE = _code("L4E105", "an import block's application cannot be imported")
TARGET_EXCLUDES_BLOCK = _code(
    "L4E106", "a targeted plan leaves out an instance a moved or import block changes"
)
DNS_UNREFRESHED = _code(
    "L4E107", "a DNS server could not be refreshed, with --detailed-exitcode (plan)"
)
DNS_KEY_REFUSED = _code("L4E108", "a DNS server refused the TSIG key")
TARGETED = _code("L4W101", "resource targeting is in effect (warning)")
LOCK_HELD = _code("L4W102", "the state lock is held by another process (warning)")
AGENT_UNREACHABLE = _code("L4W103", "an agent could not be refreshed (warning)")
UNMANAGED_APP = _code("L4W104", "an agent runs an application the state does not manage (warning)")
UNBOUND_LISTENERS = _code("L4W105", "an application could not bind some listeners (warning)")
DNS_UNREACHABLE = _code("L4W106", "a DNS server could not be refreshed (warning)")

TITLES = MappingProxyType(_titles)
"""code -> its title, in catalogue order."""
