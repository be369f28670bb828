"""The plan: diff the configuration against the state, render it, save it."""

from l4plan.plans.diff import build_plan
from l4plan.plans.model import (
    Action,
    OutputChange,
    Plan,
    PlanMode,
    ResourceChange,
    StateRef,
    Summary,
)
from l4plan.plans.order import apply_order, change_graph
from l4plan.plans.planfile import (
    PlanFileError,
    SavedPlan,
    StalePlanError,
    check_fresh,
    load_planfile,
    saved_plan,
    write_planfile,
)
from l4plan.plans.render_human import render_plan
from l4plan.plans.render_json import plan_from_json, plan_to_json
from l4plan.plans.render_markdown import render_markdown

__all__ = [
    "Action",
    "OutputChange",
    "Plan",
    "PlanFileError",
    "PlanMode",
    "ResourceChange",
    "SavedPlan",
    "StalePlanError",
    "StateRef",
    "Summary",
    "apply_order",
    "build_plan",
    "change_graph",
    "check_fresh",
    "load_planfile",
    "plan_from_json",
    "plan_to_json",
    "render_markdown",
    "render_plan",
    "saved_plan",
    "write_planfile",
]
