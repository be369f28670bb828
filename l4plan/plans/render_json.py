"""The machine-readable plan (`plan --json`, `show --json FILE`).

Follows `schemas/plan.schema.json`. Unknown values are null in `after` and marked
in `after_unknown`; sensitive values are null and marked in `before_sensitive` /
`after_sensitive` (Terraform's mirrors). Plan files keep the real values
(`reveal_sensitive=True`), so `plan_from_json` can restore a plan exactly.
"""

from __future__ import annotations

from typing import Any

from l4plan import __version__
from l4plan.diagnostics import Diagnostic
from l4plan.dns.records import record_key, split_key
from l4plan.plans.model import (
    Action,
    OutputChange,
    Plan,
    ResourceChange,
    StateRef,
)
from l4plan.plans.values import (
    from_mirror,
    replace_at,
    to_mirror,
    unknown_mirror,
    unknown_paths,
    with_unknowns,
)

FORMAT_VERSION = "1.0"


def plan_to_json(plan: Plan, *, reveal_sensitive: bool = False) -> dict[str, Any]:
    summary = plan.summary
    return {
        "format_version": FORMAT_VERSION,
        "l4plan_version": __version__,
        "mode": plan.mode,
        "errored": plan.errored,
        "applyable": plan.has_changes and not plan.errored,
        "targets": list(plan.targets),
        "prior_state": (
            {"lineage": plan.prior_state.lineage, "serial": plan.prior_state.serial}
            if plan.prior_state is not None
            else None
        ),
        "resource_changes": [_change_to_json(c, reveal_sensitive) for c in plan.changes],
        "resource_drift": [_change_to_json(c, reveal_sensitive) for c in plan.drift],
        "output_changes": {
            o.name: _output_to_json(o, reveal_sensitive) for o in plan.output_changes
        },
        "diagnostics": [d.to_json() for d in plan.diagnostics],
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "destroy": summary.destroy,
            **({"import": plan.imports} if plan.imports else {}),  # as "N to import, "
        },
    }


def _value(value: Any, sensitive: set[Any], reveal: bool) -> Any:
    if value is None:
        return None
    value = replace_at(value, unknown_paths(value), None)
    return value if reveal else replace_at(value, sensitive, None)


def _change_to_json(change: ResourceChange, reveal: bool) -> dict[str, Any]:
    moved_or_imported: dict[str, Any] = {}  # present only when set, as in Terraform
    if change.previous_address is not None:
        moved_or_imported["previous_address"] = change.previous_address
    if change.importing is not None:
        moved_or_imported["importing"] = {"id": change.importing}
    return {
        "address": change.address,
        "type": change.type,
        "name": change.name,
        "index_key": change.index_key,
        "action": change.action.actions,
        "action_reason": change.action_reason,
        "before": _value(change.before, change.before_sensitive, reveal),
        "after": _value(change.after, change.after_sensitive, reveal),
        "after_unknown": (unknown_mirror(change.after) or {}) if change.after is not None else {},
        "before_sensitive": to_mirror(change.before_sensitive),
        "after_sensitive": to_mirror(change.after_sensitive),
        "replace_paths": [list(p) for p in change.replace_paths],
        "changed_attributes": list(change.changed_attributes),
        "agents": [{"name": n, "action": a} for n, a in change.agents.items()],
        "dns": [
            {"name": n, "type": t, "action": a}
            for (n, t), a in ((split_key(k), a) for k, a in change.dns.items())
        ],
        "dependencies": list(change.dependencies),
        **moved_or_imported,
    }


def _output_to_json(out: OutputChange, reveal: bool) -> dict[str, Any]:
    hide = out.sensitive and not reveal
    return {
        "action": out.action.actions,
        "before": None if hide else out.before,
        "after": None if hide else _value(out.after, set(), True),
        "after_unknown": unknown_mirror(out.after),
        "sensitive": out.sensitive,
    }


def plan_from_json(data: dict[str, Any]) -> Plan:
    """Rebuild a `Plan` from `plan_to_json` output (schema-validated by the caller)."""
    prior = data.get("prior_state")
    return Plan(
        mode=data["mode"],
        changes=[_change_from_json(c) for c in data["resource_changes"]],
        drift=[_change_from_json(c) for c in data["resource_drift"]],
        output_changes=[_output_from_json(name, o) for name, o in data["output_changes"].items()],
        diagnostics=[Diagnostic(**d) for d in data["diagnostics"]],
        prior_state=StateRef(prior["lineage"], prior["serial"]) if prior else None,
        targets=list(data["targets"]),
    )


def _change_from_json(d: dict[str, Any]) -> ResourceChange:
    after = d["after"]
    if after is not None:
        after = with_unknowns(after, from_mirror(d["after_unknown"]))
    return ResourceChange(
        address=d["address"],
        type=d["type"],
        name=d["name"],
        index_key=d["index_key"],
        action=Action.from_actions(d["action"]),
        before=d["before"],
        after=after,
        before_sensitive=from_mirror(d["before_sensitive"]),
        after_sensitive=from_mirror(d["after_sensitive"]),
        replace_paths=[tuple(p) for p in d["replace_paths"]],
        changed_attributes=list(d["changed_attributes"]),
        agents={a["name"]: a["action"] for a in d["agents"]},
        dns={record_key(r["name"], r["type"]): r["action"] for r in d.get("dns", [])},
        dependencies=list(d["dependencies"]),
        action_reason=d["action_reason"],
        previous_address=d.get("previous_address"),
        importing=d["importing"]["id"] if "importing" in d else None,
    )


def _output_from_json(name: str, d: dict[str, Any]) -> OutputChange:
    after = d["after"]
    if d["after_unknown"] is True or (after is not None and d["after_unknown"] is not False):
        after = with_unknowns(after, from_mirror(d["after_unknown"]))
    return OutputChange(name, Action.from_actions(d["action"]), d["before"], after, d["sensitive"])
