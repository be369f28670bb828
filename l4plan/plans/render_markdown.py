"""A plan as Markdown for a pull-request comment (`show --format markdown`).

A summary table, then one fenced `diff` block per resource: the human output with
each line's symbol moved to the first column (`~` and replacements as `!`), so the
code host colours additions and removals.
"""

from __future__ import annotations

import re

from l4plan.plans.model import Action, Plan, ResourceChange
from l4plan.plans.render_change import change_notes, change_subject, change_verb, render_change
from l4plan.plans.render_human import plan_totals
from l4plan.plans.render_lines import SENSITIVE_TEXT, Lines, scalar

_MARKERS = {"+": "+", "-": "-", "~": "!", "-/+": "!", "+/-": "!"}
_SYMBOL = re.compile(r"^( *)(-/\+|\+/-|[+~-]) ")
_WORDS = {
    Action.CREATE: "create",
    Action.UPDATE: "update in place",
    Action.DELETE: "destroy",
    Action.DELETE_CREATE: "replace (destroy, then create)",
    Action.CREATE_DELETE: "replace (create, then destroy)",
}


def render_markdown(plan: Plan) -> str:
    lines: list[str] = []
    if plan.errored:
        lines.append("### l4plan plan failed")
    elif plan.mode == "refresh-only":
        lines.append(f"### l4plan refresh-only plan: {len(plan.drift)} changed outside l4plan")
    elif not plan.has_changes:
        lines.append("### l4plan plan: no changes")
    else:
        lines.append(f"### l4plan plan: {plan_totals(plan)}")
    lines.append("")
    for d in plan.diagnostics:
        where = f" at `{d.location}`" if d.location else ""
        title = "Error" if d.is_error else "Warning"
        lines.append(f"> **{title}** ({d.code}){where}: {_inline(d.message)}")
        lines.append("")
    if plan.drift:
        lines.append("#### Changes outside l4plan")
        lines.append("")
        lines += _table(plan.drift, drift=True)
        for change in plan.drift:
            lines += _resource(change, drift=True)
    acting = plan.shown_changes
    if plan.mode != "refresh-only":
        if acting:
            if plan.drift:
                lines.append("#### Planned changes")
                lines.append("")
            lines += _table(acting, drift=False)
            for change in acting:
                lines += _resource(change, drift=False)
        elif not plan.errored and not plan.output_actions:
            lines.append("**No changes.** Your infrastructure matches the configuration.")
            lines.append("")
        if plan.output_actions:
            lines.append("#### Changes to outputs")
            lines.append("")
            lines.append("| Output | Action | Before | After |")
            lines.append("|---|---|---|---|")
            for o in plan.output_actions:
                before = SENSITIVE_TEXT if o.sensitive else scalar(o.before)
                after = SENSITIVE_TEXT if o.sensitive else scalar(o.after)
                lines.append(
                    f"| `{o.name}` | {o.action.actions[0]} | {_cell(before)} | {_cell(after)} |"
                )
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _table(changes: list[ResourceChange], *, drift: bool) -> list[str]:
    rows = ["| Resource | Action | Agents |", "|---|---|---|"]
    for c in changes:
        if drift:
            word = "deleted" if c.action is Action.DELETE else "changed"
        else:
            word = _WORDS.get(c.action) or ("import" if c.importing is not None else "move")
        agents = ", ".join(f"{a} ({act})" for a, act in c.agents.items()) or "—"
        rows.append(f"| `{c.address}` | {word} | {_cell(agents)} |")
    rows.append("")
    return rows


def _resource(change: ResourceChange, *, drift: bool) -> list[str]:
    lines = [f"**`{change_subject(change, drift=drift)}`** {change_verb(change, drift=drift)}"]
    for note in change_notes(change, drift=drift):
        lines.append(f"<br>{_inline(note)}")
    out = Lines(color=False)
    render_change(out, change, drift=drift, header=False)
    body = [_diff_line(line) for line in out.lines]
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    return [*lines, "", f"{fence}diff", *body, fence, ""]


def _diff_line(line: str) -> str:
    m = _SYMBOL.match(line)
    if not m:
        return line
    indent, sym = m.group(1), m.group(2)
    rest = indent + " " * len(sym) + line[m.end() - 1 :]
    return _MARKERS[sym] + rest[1:]


def _longest_backtick_run(lines: list[str]) -> int:
    runs = [len(r) for line in lines for r in re.findall(r"`+", line)]
    return max(runs, default=0)


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")


def _inline(text: str) -> str:
    return " ".join(text.split())
