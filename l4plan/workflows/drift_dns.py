"""The DNS part of the drift report: per authoritative server, the record sets whose
content differs from what the state records, or that are gone (docs/dns.md)."""

from __future__ import annotations

from typing import Any

from l4plan.configs.model import Config
from l4plan.dns.records import RecordSet, settings_by_site, split_key
from l4plan.dns.refresh import DnsRefresh, RecordDrift
from l4plan.states.model import State


def _content(records: RecordSet | None) -> dict[str, Any] | None:
    return None if records is None else {"ttl": records.ttl, "values": list(records.values)}


def _entry(found: RecordDrift) -> dict[str, Any]:
    name, rtype = split_key(found.key)
    return {
        "address": found.address,
        "name": name,
        "type": rtype,
        "recorded": _content(found.recorded),
        "found": _content(found.found),
    }


def dns_reports(config: Config, state: State | None, found: DnsRefresh) -> list[dict[str, Any]]:
    """One entry per server the configuration names or the state records, by server."""
    servers = {s.server for s in settings_by_site(config).values()}
    for rs in state.resources.values() if state is not None else []:
        servers |= {ack.server for ack in rs.dns.values()}
    reports = []
    for server in sorted(servers):
        error = found.errors.get(server)
        drifted = [d for d in found.drift if d.server == server]
        entry: dict[str, Any] = {
            "server": server,
            "status": "drifted" if drifted else "in_sync",
            "error": None,
            "changed": [_entry(d) for d in drifted if d.found is not None],
            "missing": [_entry(d) for d in drifted if d.found is None],
        }
        if error is not None:
            entry["status"] = "key_refused" if error.kind == "key" else "unreachable"
            entry["error"] = {"kind": error.kind, "message": error.message}
        elif server in found.unsigned:
            entry["status"] = "unreachable"
            entry["error"] = {
                "kind": "refused",
                "message": f"no site's dns block names {server} any more",
            }
        reports.append(entry)
    return reports
