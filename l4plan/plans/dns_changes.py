"""The DNS side of a plan: per application, what happens to each record set it
publishes (docs/dns.md), from the same `dns_operations` apply sends.

An application whose attributes are unchanged still needs an update where a record
set on the server differs from what it should be: a failed update left it behind,
or someone changed it outside l4plan.
"""

from __future__ import annotations

import copy

from l4plan.configs.model import Config
from l4plan.dns.records import DnsOperation, RecordAction, dns_operations, key_order
from l4plan.plans.attributes import PLACED_TYPES
from l4plan.plans.model import Action, ResourceChange
from l4plan.states.model import DnsAck, State


def planned_dns(
    changes: list[ResourceChange], config: Config, base: State | None
) -> list[DnsOperation]:
    """The record updates that carry out `changes` from `base`, by name and type."""
    planned = {c.address: c.after for c in changes if c.type in PLACED_TYPES}
    return dns_operations(config, planned, base)


def record_actions(operations: list[DnsOperation], address: str) -> dict[str, RecordAction]:
    """What happens to each record set of `address`; a set moved to another server
    (deleted there, created here) is an update."""
    actions: dict[str, RecordAction] = {}
    for op in operations:
        if op.address == address:
            actions[op.key] = "update" if op.key in actions else op.action
    return dict(sorted(actions.items(), key=lambda kv: key_order(kv[0])))


def annotate_dns(changes: dict[str, ResourceChange], config: Config, base: State | None) -> None:
    operations = planned_dns(list(changes.values()), config, base)
    for address, change in changes.items():
        if change.type not in PLACED_TYPES:
            continue
        change.dns = record_actions(operations, address)
        if change.action is Action.NOOP and change.dns:
            change.action = Action.UPDATE
            change.after = copy.deepcopy(change.after)
            change.action_reason = "update_because_dns_records_differ"


def dns_drift(old: dict[str, DnsAck], new: dict[str, DnsAck]) -> dict[str, RecordAction]:
    """Record sets whose server holds other than recorded: recorded vs refreshed."""
    actions: dict[str, RecordAction] = {}
    for key in sorted(set(old) | set(new), key=key_order):
        if key not in new:
            actions[key] = "delete"
        elif key not in old:
            actions[key] = "create"
        elif new[key] != old[key]:
            actions[key] = "update"
    return actions
