"""Phase 3, settings: the l4plan block (`required_version` and the backend).

Input: the l4plan block and the variables. Output: `Config.required_version` and
`Config.backend`. Settings may use variables but no other references.
"""

from __future__ import annotations

from typing import Any

from l4plan import __version__
from l4plan.configs.evaluation.scope import Scope
from l4plan.configs.evaluation.versions import check_required_version
from l4plan.configs.hcl.syntax import Block
from l4plan.configs.lang.values import TYPE_ERROR, suggest
from l4plan.configs.model import BACKEND_OPTIONS, BackendConfig, Config


def evaluate_settings(block: Block | None, scope: Scope, config: Config) -> None:
    """Read the l4plan block into `config.required_version` and `config.backend`."""
    if block is None:
        return
    for name, attr in block.body.attributes.items():
        if name != "required_version":
            scope.error(
                TYPE_ERROR,
                f'unknown attribute "{name}" in the l4plan block; expected required_version '
                "or a backend block",
                attr.pos,
            )
            continue
        value = scope.static_string(attr, "")
        if value is None:
            continue
        config.required_version = value
        problem = check_required_version(value, __version__)
        if problem:
            scope.error(TYPE_ERROR, problem, attr.expr.pos)
    backends = [b for b in block.body.blocks if b.type == "backend"]
    for sub in block.body.blocks:
        if sub.type != "backend":
            scope.error(TYPE_ERROR, f'unknown block "{sub.type}" in the l4plan block', sub.pos)
    for extra in backends[1:]:
        scope.error(
            TYPE_ERROR,
            f"only one backend block is allowed (first at {backends[0].pos})",
            extra.pos,
        )
    if backends:
        config.backend = _backend(backends[0], scope) or config.backend


def _backend(block: Block, scope: Scope) -> BackendConfig | None:
    if len(block.labels) != 1 or block.labels[0] not in BACKEND_OPTIONS:
        scope.error(
            TYPE_ERROR,
            'a backend block takes one label, "local" or "pg", e.g. backend "pg" { ... }',
            block.pos,
        )
        return None
    type_ = block.labels[0]
    allowed = BACKEND_OPTIONS[type_]
    options: dict[str, Any] = {}
    for name, attr in block.body.attributes.items():
        if name not in allowed:
            scope.error(
                TYPE_ERROR,
                f'unknown option "{name}" for the {type_} backend; '
                f"expected {', '.join(allowed)}" + suggest(name, allowed),
                attr.pos,
            )
            continue
        value = scope.static_string(attr, "")
        if value is not None:
            options[name] = value
    for sub in block.body.blocks:
        scope.error(TYPE_ERROR, f'unknown block "{sub.type}" in the backend block', sub.pos)
    return BackendConfig(type_, options, block.pos)
