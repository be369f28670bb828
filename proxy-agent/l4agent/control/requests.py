"""`Config.Apply` params, checked: what one request may ask for, the schema, the
checks beyond it, and the hashes — all of it safe to run in a thread (it reads
nothing shared), so that checking a large request never holds up the relay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from l4agent.control.schemas import params_validator, problems
from l4agent.protocols.errors import Detail, RpcError, detail, invalid_argument
from l4agent.spec import check_spec, spec_hash


@dataclass(slots=True, frozen=True)
class ApplyRequest:
    """A checked `Config.Apply`: what `Applier.apply` needs, hashes included."""

    request_id: str
    expected_revision: int | None
    upserts: list[dict[str, Any]]
    deletes: list[str]
    dry_run: bool
    params_hash: str  # what the change is, with defaults filled in
    hashes: list[str]  # spec_hash of each upsert


def check_request(params: Any, max_listeners: int) -> ApplyRequest:
    """Validate `Config.Apply` params (thread-safe: reads nothing shared).

    Raises RESOURCE_EXHAUSTED when the upserts alone need more than `max_listeners`
    sockets, INVALID_ARGUMENT for anything the schema or the spec checks refuse."""
    wanted = requested_listeners(params)
    if wanted > max_listeners:
        raise RpcError(
            "RESOURCE_EXHAUSTED",
            f"the upserted applications need {wanted} listening sockets; the limit is "
            f"{max_listeners} (--max-listeners)",
            [detail("upsert", f"{wanted} listening sockets requested")],
        )
    found = problems(params_validator("Config.Apply"), params)
    if found:
        head = found[0]
        where = f"{head['field']}: " if head["field"] else ""
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise invalid_argument(f"{where}{head['description']}{more}", found)
    upserts: list[dict[str, Any]] = params.get("upsert", [])
    deletes: list[str] = params.get("delete", [])
    _check_params(upserts, deletes)
    expected = params.get("expected_revision")
    return ApplyRequest(
        request_id=params["request_id"],
        expected_revision=expected,
        upserts=upserts,
        deletes=deletes,
        dry_run=params.get("dry_run", False),
        params_hash=spec_hash(
            {"expected_revision": expected, "upsert": upserts, "delete": deletes}
        ),
        hashes=[spec_hash(entry["spec"]) for entry in upserts],
    )


def requested_listeners(params: Any) -> int:
    """Sockets the upserts ask for, counted on ranges, on params not yet validated:
    anything malformed counts as nothing (the schema reports it)."""
    total = 0
    upserts = params.get("upsert") if isinstance(params, dict) else None
    for entry in upserts if isinstance(upserts, list) else ():
        spec = entry.get("spec") if isinstance(entry, dict) else None
        rules = spec.get("rules") if isinstance(spec, dict) else None
        if not isinstance(rules, list):
            continue
        families = 2 if spec.get("ipv6") is True else 1
        for rule in rules:
            ranges = rule.get("edge_ports") if isinstance(rule, dict) else None
            for pair in ranges if isinstance(ranges, list) else ():
                if (
                    isinstance(pair, list)
                    and len(pair) == 2
                    and all(type(p) is int for p in pair)
                    and pair[0] <= pair[1]
                ):
                    total += (pair[1] - pair[0] + 1) * families
    return total


def _check_params(upserts: list[dict[str, Any]], deletes: list[str]) -> None:
    problems: list[Detail] = []
    first: dict[str, int] = {}
    for i, entry in enumerate(upserts):
        name = entry["name"]
        if name in first:
            problems.append(
                detail(
                    f"upsert[{i}].name", f"{name!r} is already upserted by upsert[{first[name]}]"
                )
            )
        first.setdefault(name, i)
        problems += check_spec(entry["spec"], f"upsert[{i}].spec")
    for j, name in enumerate(deletes):
        if name in first:
            problems.append(detail(f"delete[{j}]", f"{name!r} is both upserted and deleted"))
    if problems:
        head = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise invalid_argument(f"{head['field']}: {head['description']}{more}", problems)
