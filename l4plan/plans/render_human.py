"""Human plan output in Terraform's shape (`l4plan plan`, `show FILE`)."""

from __future__ import annotations

import textwrap

from l4plan.plans.model import Action, OutputChange, Plan, ResourceChange
from l4plan.plans.render_change import render_body, render_change
from l4plan.plans.render_lines import Lines, emit_update, emit_value
from l4plan.plans.values import parse_path
from l4plan.states.model import State

RULE = "─" * 77
_LEGEND = {
    Action.CREATE: "create",
    Action.UPDATE: "update in place",
    Action.DELETE: "destroy",
    Action.DELETE_CREATE: "destroy and then create replacement",
    Action.CREATE_DELETE: "create replacement and then destroy",
}


def render_plan(plan: Plan, *, color: bool) -> str:
    """The whole plan: drift note, legend, resource blocks, totals, outputs."""
    out = Lines(color)
    if plan.drift:
        _render_drift(out, plan)
    if plan.mode == "refresh-only":
        _render_refresh_only(out, plan)
        return out.render() + "\n"
    acting = plan.shown_changes
    outputs = plan.output_actions
    if not acting and not outputs:
        out.text(
            out.style("No changes.", bold=True) + " Your infrastructure matches the configuration."
        )
        out.blank()
        out.text(
            "l4plan has compared your real infrastructure against your configuration "
            "and found no differences, so no changes are needed."
        )
        return out.render() + "\n"
    if acting:
        used = {c.action for c in acting}
        if used - {Action.NOOP}:
            out.text(
                "l4plan used the selected agents to generate the following execution plan. "
                "Resource actions are indicated with the following symbols:"
            )
            for action, word in _LEGEND.items():
                if action in used:
                    pad = " " * (3 - len(action.symbol))
                    out.text(pad + out.symbol(action.symbol) + " " + word)
            out.blank()
        out.text("l4plan will perform the following actions:")
        for change in acting:
            out.blank()
            render_change(out, change)
        out.blank()
        out.text(out.style("Plan:", bold=True) + " " + plan_totals(plan) + ".")
    if outputs:
        out.blank()
        out.text("Changes to Outputs:")
        _render_outputs(out, outputs)
        if not acting:
            out.blank()
            out.text(
                "You can apply this plan to save these new output values to the l4plan "
                "state, without changing any real infrastructure."
            )
    return out.render() + "\n"


def plan_totals(plan: Plan) -> str:
    """`1 to import, 0 to add, 0 to change, 0 to destroy` (imports only when there are)."""
    s = plan.summary
    imports = f"{plan.imports} to import, " if plan.imports else ""
    return f"{imports}{s.add} to add, {s.change} to change, {s.destroy} to destroy"


def _render_drift(out: Lines, plan: Plan) -> None:
    out.text(out.style("Note: Objects have changed outside of l4plan", bold=True))
    out.blank()
    out.text(
        "l4plan detected the following changes made outside of l4plan since the last "
        '"l4plan apply" which may have affected this plan:'
    )
    for change in plan.drift:
        out.blank()
        render_change(out, change, drift=True)
    out.blank()
    if plan.mode != "refresh-only":
        out.text(
            "Unless you have made equivalent changes to your configuration, or ignored "
            "the relevant attributes using ignore_changes, the following plan may "
            "include actions to undo or respond to these changes."
        )
        out.blank()
        out.text(RULE)
        out.blank()


def _render_refresh_only(out: Lines, plan: Plan) -> None:
    if plan.drift:
        out.text(
            "This is a refresh-only plan, so l4plan will not take any actions to undo "
            "these. If you were expecting these changes then you can apply this plan to "
            "record the updated values in the l4plan state without changing any remote "
            "objects."
        )
        return
    out.text(
        out.style("No changes.", bold=True)
        + " Your infrastructure still matches the configuration."
    )
    out.blank()
    out.text(
        "l4plan has checked that the real remote objects still match the result of "
        "your most recent changes, and found no differences."
    )


def render_state(state: State, *, color: bool) -> str:
    """A recorded state, resource by resource (`l4plan show` without a plan file)."""
    out = Lines(color)
    if not state.resources:
        return "The state is empty: no resources are recorded.\n"
    for rs in state.resources.values():
        change = ResourceChange(
            address=rs.address,
            type=rs.type,
            name=rs.name,
            index_key=rs.index_key,
            action=Action.NOOP,
            before=rs.attributes,
            after=rs.attributes,
            after_sensitive={parse_path(p) for p in rs.sensitive_attributes},
        )
        block = Lines(color)
        block.add(0, " ", f'resource "{rs.type}" "{rs.name}" {{')
        render_body(block, change, "show")
        block.close(0)
        out.text(f"# {rs.address}:")
        out.text(textwrap.dedent(block.render()))
        out.blank()
    if state.outputs:
        out.text("Outputs:")
        out.blank()
        width = max(len(n) for n in state.outputs)
        for name, o in sorted(state.outputs.items()):
            block = Lines(color)
            emit_value(block, 0, " ", f"{name:<{width}} = ", o.value, sensitive=o.sensitive)
            out.text(textwrap.dedent(block.render()))
    return out.render().rstrip("\n") + "\n"


def _render_outputs(out: Lines, outputs: list[OutputChange]) -> None:
    width = max(len(o.name) for o in outputs)
    for o in outputs:
        head = f"{o.name:<{width}} = "
        level = 0
        if o.action is Action.CREATE:
            emit_value(out, level, "+", head, o.after, sensitive=o.sensitive)
        elif o.action is Action.DELETE:
            emit_value(out, level, "-", head, o.before, sensitive=o.sensitive, tail=" -> null")
        else:
            emit_update(out, level, head, o.before, o.after, sensitive=o.sensitive)
