"""`--target ADDRESS`: limit a plan to some resources and what they need."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from l4plan import codes
from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic
from l4plan.plans.model import PlanMode, ResourceChange
from l4plan.states.model import State


def select_targets(
    targets: Sequence[str],
    config: Config,
    graph: nx.DiGraph,
    base: State | None,
    mode: PlanMode,
) -> tuple[set[str], list[Diagnostic]]:
    """The instance addresses a targeted plan covers, and errors for unknown targets.

    A resource address without a key (`l4_application.game`) selects all its
    instances. A normal plan adds what the targets depend on (transitively, from the
    configuration); a destroy plan adds what depends on them (from the state), since
    those cannot outlive them.
    """
    recorded = base.resources if base is not None else {}
    blocks: dict[str, str] = {a: r.resource_address for a, r in config.resources.items()}
    blocks.update({a: f"{r.type}.{r.name}" for a, r in recorded.items()})
    selected: set[str] = set()
    diags: list[Diagnostic] = []
    for raw in targets:
        target = raw.strip()
        matched = {a for a, block in blocks.items() if target in (a, block)}
        if not matched:
            diags.append(
                Diagnostic.at(
                    codes.TARGET_UNMATCHED,
                    f"--target {target}: no resource instance has this address in the "
                    "configuration or the state (addresses look like "
                    'l4_application.game or l4_application.game["eu"]; '
                    "`l4plan state list` shows the recorded ones)",
                )
            )
        selected |= matched
    if mode == "destroy":
        state_graph = nx.DiGraph()
        state_graph.add_nodes_from(recorded)
        state_graph.add_edges_from(
            (r.address, d) for r in recorded.values() for d in r.dependencies
        )
        for address in list(selected):
            if address in state_graph:
                selected |= nx.ancestors(state_graph, address)
    else:
        for address in list(selected):
            if address in graph:
                selected |= nx.descendants(graph, address)
    return selected, diags


def targeting_warning(targets: Sequence[str]) -> Diagnostic:
    return Diagnostic.at(
        codes.TARGETED,
        "Resource targeting is in effect: this plan covers only "
        + ", ".join(targets)
        + " and what they need, so it may not show every change the configuration "
        "asks for. Use --target only in exceptional situations, such as recovering "
        "from errors or mistakes.",
        severity="warning",
    )


def excluded_blocks(changes: Sequence[ResourceChange], selected: set[str]) -> list[Diagnostic]:
    """Errors for instances a moved or import block changes that the targets leave
    out: the apply would record them without the plan showing it (Terraform's
    "Moved resource instances excluded by targeting")."""
    diags = []
    for change in changes:
        if change.address in selected or not change.moves_or_imports:
            continue
        what = (
            f"moved from {change.previous_address}"
            if change.previous_address is not None
            else f'imported from "{change.importing}"'
        )
        diags.append(
            Diagnostic.at(
                codes.TARGET_EXCLUDES_BLOCK,
                f"Resource instances excluded by targeting: {change.address} ({what}) is "
                f"not among the targets. Add --target {change.address}, or plan without "
                "--target to carry out the configuration's moved and import blocks.",
                address=change.address,
            )
        )
    return diags
