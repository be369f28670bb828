"""Evaluate a parsed configuration into a `Config`, phase by phase.

1. declarations (declarations.py): every top-level block, by kind and name;
2. variables (configs/variables): values from every source, converted, validated;
3. settings (settings.py): the l4plan block;
4. the dependency graph (graph.py): references, undeclared names, cycles;
5. in dependency order: locals and outputs (outputs.py), agents (agents.py),
   resources (resources.py: count/for_each expansion, nested blocks, computed
   attributes);
6. moved and import blocks (moved_import.py), which name resources.

Each phase takes what the earlier ones produced and adds to the `Config`; the
values that expressions of later nodes read are in the `Scope`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from l4plan.configs.evaluation.agents import evaluate_agent
from l4plan.configs.evaluation.declarations import Declarations, declare
from l4plan.configs.evaluation.graph import build_graph
from l4plan.configs.evaluation.moved_import import evaluate_moved_import
from l4plan.configs.evaluation.outputs import evaluate_local, evaluate_output
from l4plan.configs.evaluation.resources import evaluate_resource
from l4plan.configs.evaluation.scope import Scope
from l4plan.configs.evaluation.sensitivity import Sensitivity
from l4plan.configs.evaluation.settings import evaluate_settings
from l4plan.configs.hcl.sources import SourceFile
from l4plan.configs.lang.evaluator import Evaluator
from l4plan.configs.lang.functions import FUNCTIONS
from l4plan.configs.lang.values import plain
from l4plan.configs.model import Config
from l4plan.configs.variables import resolve_variables


def evaluate_config(
    config: Config,
    files: list[SourceFile],
    *,
    var_args: Sequence[str],
    var_files: Sequence[str],
    environ: Mapping[str, str],
) -> None:
    """Fill `config` from parsed `files`; problems go to `config.diagnostics`."""
    diagnostics = config.diagnostics
    evaluator = Evaluator(FUNCTIONS)
    decls = declare(files, evaluator, config.directory, diagnostics)

    values = resolve_variables(
        decls.variables,
        config.directory,
        var_args=var_args,
        var_files=var_files,
        environ=environ,
        evaluator=evaluator,
    )
    diagnostics.extend(values.diagnostics)
    config.files.update(values.files)
    config.variables = {k: plain(v) for k, v in values.values.items()}
    config.sensitive_variables = values.sensitive
    sensitivity = Sensitivity.of(values.sensitive, config.files.values(), decls.is_expanded)
    scope = Scope(
        config.directory, evaluator, values.values, sensitivity, diagnostics, config.files
    )

    evaluate_settings(decls.l4plan, scope, config)

    for node in build_graph(decls, diagnostics).order():
        if node.kind == "local":
            evaluate_local(node, decls, scope)
        elif node.kind == "agent":
            evaluate_agent(node, decls, scope, config)
        elif node.kind == "resource":
            evaluate_resource(node, decls, scope, config)
        else:
            evaluate_output(node, decls, scope, config)
    evaluate_moved_import(decls, scope, config)
    _restore_declaration_order(config, decls)


def _restore_declaration_order(config: Config, decls: Declarations) -> None:
    """Resources, agents and outputs in the order they are written, not evaluated."""
    order = {key: i for i, key in enumerate(decls.resources)}
    config.resources = dict(
        sorted(config.resources.items(), key=lambda item: order[item[1].resource_address])
    )
    config.agents = {n: config.agents[n] for n in decls.agents if n in config.agents}
    config.outputs = {n: config.outputs[n] for n in decls.outputs if n in config.outputs}
