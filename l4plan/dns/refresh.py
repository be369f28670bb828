"""Refresh of published records: ask each zone's authoritative server for the record
sets the state records, and fold the answers into the refreshed state.

A record set that is gone is dropped from the resource's `dns` (the plan creates it
again); one that holds other values or another TTL is recorded as the server holds
it (the plan updates it, with that content as the update's prerequisite). A server
that cannot be asked keeps what the state recorded: nothing is concluded from
silence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from l4plan.configs.model import Config
from l4plan.dns.errors import DEFAULT_TIMEOUT, DnsError
from l4plan.dns.records import (
    RecordSet,
    key_order,
    recorded,
    settings_by_site,
    signing_settings,
    split_key,
)
from l4plan.dns.settings import DnsSettings
from l4plan.states.model import DnsAck, State

if TYPE_CHECKING:
    from l4plan.dns.client import DnsClient


@dataclass(frozen=True, slots=True)
class RecordDrift:
    """One record set whose server holds other than the state records."""

    address: str
    key: str
    server: str
    recorded: RecordSet
    found: RecordSet | None  # None: missing


@dataclass(slots=True)
class DnsRefresh:
    drift: list[RecordDrift] = field(default_factory=list)  # by name and type
    errors: dict[str, DnsError] = field(default_factory=dict)  # by server
    unsigned: list[str] = field(default_factory=list)  # servers no dns block names any more


def refresh_records(
    config: Config, state: State | None, *, timeout: float = DEFAULT_TIMEOUT
) -> DnsRefresh:
    """Read back every record set `state` records, correcting `state` in place (it is
    the refresh's copy), and ask every configured server for its zone's SOA with the
    configured key, so that a wrong key or a server that is down is known before
    anything is applied. Per server, the first failure stops asking it."""
    result = DnsRefresh()
    settings = settings_by_site(config)
    clients: dict[DnsSettings, DnsClient] = {}

    def ask(signing: DnsSettings, name: str, rtype: str) -> RecordSet | None:
        if signing not in clients:
            from l4plan.dns.client import DnsClient  # dnspython: only when a zone is asked

            clients[signing] = DnsClient(signing, timeout=timeout)
        client = clients[signing]
        return client.read(name, rtype)

    for rs in state.resources.values() if state is not None else []:
        for key, ack in sorted(rs.dns.items(), key=lambda kv: key_order(kv[0])):
            if ack.server in result.errors:
                continue
            signing = signing_settings(ack.server, rs.attributes.get("site"), settings)
            if signing is None:
                if ack.server not in result.unsigned:
                    result.unsigned.append(ack.server)
                continue
            try:
                found = ask(signing, *split_key(key))
            except DnsError as e:
                result.errors[ack.server] = e
                continue
            if found == recorded(ack):
                continue
            result.drift.append(RecordDrift(rs.address, key, ack.server, recorded(ack), found))
            if found is None:
                del rs.dns[key]
            else:
                rs.dns[key] = DnsAck(ack.server, found.ttl, list(found.values))
    for signing in settings.values():
        if signing not in clients and signing.server not in result.errors:
            try:
                ask(signing, signing.zone, "SOA")
            except DnsError as e:
                result.errors[signing.server] = e
    result.drift.sort(key=lambda d: (key_order(d.key), d.address))
    return result
