"""Which record sets each application must have, and the updates that bring the
zone there from what the state records.

l4plan owns, per application whose site has a `dns` block, the A and AAAA record
sets of its domain (`dns_records`), and only those the state records. Plan and
apply both call `dns_operations`, so the record actions a plan shows are exactly
the updates apply sends. Operations are ordered by name and type.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from l4plan.configs.model import UNKNOWN, Config, is_wholly_known
from l4plan.dns.settings import DnsSettings, site_settings
from l4plan.states.model import DnsAck, ResourceState, State

# forget: published at a server no `dns` block names any more, so no key can sign its
# removal; the state stops recording it and it stays on that server
RecordAction = Literal["create", "update", "delete", "forget"]
RECORD_TYPES = ("A", "AAAA")


@dataclass(frozen=True, slots=True)
class RecordSet:
    """The values of one (name, type) record set, sorted, and its TTL."""

    ttl: int
    values: tuple[str, ...]

    @classmethod
    def of(cls, ttl: int, values: list[str] | tuple[str, ...]) -> RecordSet:
        return cls(ttl, tuple(sorted(set(values))))


def record_key(name: str, rtype: str) -> str:
    """How the state and the plan name a record set: `play.example.com A`."""
    return f"{name} {rtype}"


def split_key(key: str) -> tuple[str, str]:
    name, _, rtype = key.rpartition(" ")
    return name, rtype


def key_order(key: str) -> tuple[str, int]:
    """By name, then A before AAAA."""
    name, rtype = split_key(key)
    return name, RECORD_TYPES.index(rtype) if rtype in RECORD_TYPES else len(RECORD_TYPES)


def recorded(ack: DnsAck) -> RecordSet:
    return RecordSet.of(ack.ttl, ack.values)


@dataclass(frozen=True, slots=True)
class DnsOperation:
    """One RFC 2136 update of one record set: from `expected` (what the state says the
    server holds; None: nothing) to `desired` (None: delete). `settings` is None when
    no `dns` block names the recorded server any more: the update cannot be signed."""

    address: str
    key: str
    server: str
    settings: DnsSettings | None
    expected: RecordSet | None
    desired: RecordSet | None

    @property
    def action(self) -> RecordAction:
        if self.settings is None:
            return "forget"
        if self.desired is None:
            return "delete"
        return "create" if self.expected is None else "update"


def desired_records(attrs: Mapping[str, Any], ttl: int) -> dict[str, RecordSet] | None:
    """The record sets an application's `dns_records` ask for; None while unknown."""
    records = attrs.get("dns_records")
    if records is UNKNOWN or not is_wholly_known(records):
        return None
    values: dict[str, list[str]] = {}
    for record in records if isinstance(records, list) else []:
        if isinstance(record, dict) and record.get("type") in RECORD_TYPES:
            key = record_key(str(record["name"]), str(record["type"]))
            values.setdefault(key, []).append(_address_text(str(record["value"])))
    return {k: RecordSet.of(ttl, v) for k, v in values.items()}


def _address_text(value: str) -> str:
    """An address in the spelling a server answers with (`2001:db8::10`, not
    `2001:DB8:0:0::10`), so that what is read back compares equal to what was sent."""
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return value


def settings_by_site(config: Config) -> dict[str, DnsSettings]:
    """Each configured site's settings, by site id. The state keeps no key (its secret
    is write-only, recorded as a digest), so records at a server no `dns` block names
    any more cannot be changed: refresh warns about them (L4W106)."""
    found = {}
    for site in config.of_type("l4_site"):
        settings = site_settings(site.attrs)
        if settings is not None:
            found[str(site.attrs.get("id"))] = settings
    return found


def signing_settings(
    server: str, site: Any, settings: Mapping[str, DnsSettings]
) -> DnsSettings | None:
    """The settings to talk to `server` about `site`'s records, if a site still names it."""
    found = settings.get(str(site))
    return found if found is not None and found.server == server else None


def dns_operations(
    config: Config,
    planned: Mapping[str, dict[str, Any] | None],
    base: State | None,
) -> list[DnsOperation]:
    """The updates that make the zones hold what `planned` (address → planned
    attributes, None: deleted) asks for, from what `base` records; every address is an
    application. Unchanged record sets need none; record sets whose inputs are known
    only after apply are left as recorded."""
    settings = settings_by_site(config)
    undecided = {
        str(site.attrs.get("id"))
        for site in config.of_type("l4_site")
        if not is_wholly_known(site.attrs.get("dns"))
    }
    recorded_rs = base.resources if base is not None else {}
    out: list[DnsOperation] = []
    for address, after in planned.items():
        if after is not None and (after.get("site") is UNKNOWN or after.get("site") in undecided):
            continue  # where to publish is known only after apply: keep what is published
        out += _operations(address, after, recorded_rs.get(address), settings)
    return sorted(out, key=lambda op: (key_order(op.key), op.address, op.desired is not None))


def _operations(
    address: str,
    after: dict[str, Any] | None,
    rs: ResourceState | None,
    settings: Mapping[str, DnsSettings],
) -> Iterable[DnsOperation]:
    target = settings.get(str(after.get("site"))) if after is not None else None
    desired = desired_records(after, target.ttl) if after is not None and target else {}
    if desired is None:  # known only after apply: keep what is published
        return
    acks = rs.dns if rs is not None else {}
    site = rs.attributes.get("site") if rs is not None else None
    for key, ack in sorted(acks.items()):
        if target is not None and ack.server == target.server:
            continue
        # published where the configuration no longer publishes: delete it there
        yield DnsOperation(
            address,
            key,
            ack.server,
            signing_settings(ack.server, site, settings),
            recorded(ack),
            None,
        )
    if target is None:
        return
    for key in sorted(set(desired) | {k for k, a in acks.items() if a.server == target.server}):
        ack = acks.get(key)
        expected = recorded(ack) if ack is not None and ack.server == target.server else None
        want = desired.get(key)
        if expected != want:
            yield DnsOperation(address, key, target.server, target, expected, want)
