"""One resource change as Terraform shows it: the `# address will ...` header, its
notes (moves, imports, reasons, agents, DNS) and the attribute block."""

from __future__ import annotations

from typing import Literal

from l4plan.plans.attrdiff import AttrDiff, BlockDiff, diff_attributes
from l4plan.plans.attributes import UNORDERED_ATTRS, block_key
from l4plan.plans.model import Action, Path, ResourceChange
from l4plan.plans.render_lines import Lines, emit_update, emit_value, plural
from l4plan.plans.values import covered

_HEADERS = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.DELETE: "will be destroyed",
    Action.DELETE_CREATE: "must be replaced",
    Action.CREATE_DELETE: "must be replaced",
}
_AGENT_WORDS = {
    "create": "create",
    "update": "update",
    "replace": "replace",
    "delete": "remove",
    "no-op": "no change",
}
_DRIFT_AGENT_WORDS = {
    "create": "appeared",
    "update": "spec changed",
    "delete": "lost",
    "replace": "replaced",
    "no-op": "no change",
}
_DNS_WORDS = {
    "create": "create",
    "update": "update",
    "delete": "remove",
    "forget": "forget: no dns block names its server, it stays there",
}
_DRIFT_DNS_WORDS = {"create": "appeared", "update": "changed on the server", "delete": "missing"}

Mode = Literal["create", "delete", "update", "show"]


def _reason(change: ResourceChange) -> str | None:
    reason = change.action_reason
    if reason == "delete_because_no_resource_config":
        return f"because {change.resource_address} is not in configuration"
    if reason == "delete_because_count_index":
        return f"because index [{change.index_key}] is out of range for count"
    if reason == "delete_because_each_key":
        return f'because key ["{change.index_key}"] is not in for_each map'
    if reason == "delete_because_wrong_repetition":
        return "because the instance key no longer matches the resource's count or for_each"
    if reason == "update_because_agents_missing":
        missing = [a for a, act in change.agents.items() if act == "create"]
        names = ", ".join(f'"{a}"' for a in missing)
        return f"because agent {names} has not acknowledged it" if missing else None
    if reason == "update_because_ddos_protection_expired":
        return (
            "because the site's DDoS protection expired, which turns keep-alive protection"
            " off (L4W001)"
        )
    if reason == "update_because_agents_differ":
        behind = [a for a, act in change.agents.items() if act != "no-op"]
        names = ", ".join(f'"{a}"' for a in behind)
        return f"because the spec agent {names} runs differs from the configuration"
    if reason == "update_because_dns_records_differ":
        return "because its DNS records on the server differ from the configuration"
    return None


def change_subject(change: ResourceChange, *, drift: bool = False) -> str:
    """The address a header names: where a move with nothing else to do comes from."""
    moved_only = change.action is Action.NOOP and change.importing is None
    if not drift and moved_only and change.previous_address:
        return change.previous_address
    return change.address


def change_verb(change: ResourceChange, *, drift: bool = False) -> str:
    """`will be created`, `must be replaced`, `has moved to X`, `will be imported`, ...
    (drift: `has changed`)."""
    if drift:
        return "has been deleted" if change.action is Action.DELETE else "has changed"
    if change.action is Action.NOOP:
        if change.importing is not None:
            return "will be imported"
        return f"has moved to {change.address}"
    return _HEADERS[change.action]


def change_notes(change: ResourceChange, *, drift: bool = False) -> list[str]:
    """Where it moved from or is imported from (when the header does not say it), why
    the action happens (when the action alone does not say) and the agents."""
    notes = []
    if not drift:
        acts = change.action is not Action.NOOP
        if change.previous_address and (acts or change.importing is not None):
            notes.append(f"(moved from {change.previous_address})")
        if change.importing is not None and acts:
            notes.append(f'(imported from "{change.importing}")')
    reason = _reason(change)
    if reason:
        notes.append(f"({reason})")
    if change.agents:
        words = _DRIFT_AGENT_WORDS if drift else _AGENT_WORDS
        notes.append(
            "agents: " + ", ".join(f"{a} ({words[act]})" for a, act in change.agents.items())
        )
    if change.dns:
        dns_words = _DRIFT_DNS_WORDS if drift else _DNS_WORDS
        notes.append(
            "dns: " + ", ".join(f"{r} ({dns_words[act]})" for r, act in change.dns.items())
        )
    return notes


def render_change(
    out: Lines, change: ResourceChange, *, drift: bool = False, header: bool = True
) -> None:
    """One resource: the `# address will ...` header and its attribute block."""
    if header:
        title = f"  # {change_subject(change, drift=drift)} {change_verb(change, drift=drift)}"
        out.text(out.style(title, bold=True))
        for note in change_notes(change, drift=drift):
            out.text(f"  # {note}")
    sym = change.action.symbol
    out.add(0, sym, f'resource "{change.type}" "{change.name}" {{')
    mode: Mode = "update"
    if change.action is Action.CREATE:
        mode = "create"
    elif change.action is Action.DELETE:
        mode = "delete"
    elif change.action is Action.NOOP and change.importing is not None and not drift:
        mode = "show"  # what is imported, in full, as Terraform shows it
    render_body(out, change, mode)
    out.close(0)


def _masked(paths: set[Path], path: Path | None) -> bool:
    """Sensitive at `path`, above it, or anywhere inside it."""
    if path is None:
        return False
    return covered(paths, path) or any(p[: len(path)] == path for p in paths)


def _shown(d: AttrDiff, mode: Mode, always: tuple[str, ...]) -> bool:
    if mode in ("create", "show"):
        return d.after is not None
    if mode == "delete":
        return d.before is not None
    return d.kind != "same" or (d.name in always and d.after is not None)


def _emit_attr(
    out: Lines,
    level: int,
    d: AttrDiff,
    head: str,
    mode: Mode,
    before_path: Path | None,
    after_path: Path | None,
    change: ResourceChange,
) -> None:
    bs = _masked(change.before_sensitive, before_path)
    as_ = _masked(change.after_sensitive, after_path)
    forces = after_path in change.replace_paths
    if mode == "show":
        emit_value(out, level, " ", head, d.after, sensitive=as_)
    elif mode == "create" or d.kind == "create":
        emit_value(out, level, "+", head, d.after, sensitive=as_, forces=forces)
    elif mode == "delete" or d.kind == "delete":
        emit_value(out, level, "-", head, d.before, sensitive=bs, tail=" -> null", forces=forces)
    elif d.kind == "same":
        emit_value(out, level, " ", head, d.after, sensitive=as_)
    else:
        emit_update(
            out,
            level,
            head,
            d.before,
            d.after,
            sensitive=bs or as_,
            forces=forces,
            unordered=d.name in UNORDERED_ATTRS,
        )


def render_body(out: Lines, change: ResourceChange, mode: Mode) -> None:
    diffs = diff_attributes(change.type, change.before, change.after)
    plain = [d for d in diffs if d.blocks is None]
    nested = [d for d in diffs if d.blocks is not None]
    shown = [d for d in plain if _shown(d, mode, ("id",))]
    width = max((len(d.name) for d in shown), default=0)
    for d in shown:
        path = (d.name,)
        _emit_attr(out, 1, d, f"{d.name:<{width}} = ", mode, path, path, change)
    hidden = sum(1 for d in plain if d not in shown and d.before is not None)
    if mode == "update" and hidden:
        out.comment(1, f"({plural(hidden, 'unchanged attribute')} hidden)")
    hidden_blocks = 0
    for d in nested:
        for block in d.blocks or []:
            if mode == "update" and block.kind == "same":
                hidden_blocks += 1
                continue
            out.blank()
            _render_block(out, change, d.name, block, mode)
    if hidden_blocks:
        out.blank()
        out.comment(1, f"({plural(hidden_blocks, 'unchanged block')} hidden)")


def _block_prefix(change: ResourceChange, name: str, index: int | None) -> Path | None:
    """Where a block sits: `(name,)` for a single block, `(name, index)` in a list."""
    if isinstance((change.after or change.before or {}).get(name), dict):
        return (name,)
    return None if index is None else (name, index)


_BLOCK_SYMBOLS: dict[Mode, str] = {"create": "+", "delete": "-", "update": "~", "show": " "}


def _render_block(
    out: Lines, change: ResourceChange, name: str, block: BlockDiff, mode: Mode
) -> None:
    inner: Mode = mode
    if mode == "update" and block.kind in ("create", "delete"):
        inner = "create" if block.kind == "create" else "delete"
    forces = (name,) in change.replace_paths and inner != "update"
    out.add(1, _BLOCK_SYMBOLS[inner], f"{name} {{", forces=forces)
    before_prefix = _block_prefix(change, name, block.before_index)
    after_prefix = _block_prefix(change, name, block.after_index)
    shown = [a for a in block.attrs if _shown(a, inner, block_key(change.type, name))]
    width = max((len(a.name) for a in shown), default=0)
    for a in shown:
        _emit_attr(
            out,
            2,
            a,
            f"{a.name:<{width}} = ",
            inner,
            None if before_prefix is None else (*before_prefix, a.name),
            None if after_prefix is None else (*after_prefix, a.name),
            change,
        )
    hidden = sum(1 for a in block.attrs if a not in shown and a.before is not None)
    if inner == "update" and hidden:
        out.comment(2, f"({plural(hidden, 'unchanged attribute')} hidden)")
    out.close(1)
