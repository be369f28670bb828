"""Input variables: declarations (declarations.py), types (types.py), values (values.py).

Phase 2 of evaluation: `resolve_variables` takes the declarations and every
source of values and gives the converted, validated values.
"""

from __future__ import annotations

from l4plan.configs.variables.declarations import VariableDecl, declare_variable
from l4plan.configs.variables.values import ENV_PREFIX, VariableValues, resolve_variables

__all__ = ["ENV_PREFIX", "VariableDecl", "VariableValues", "declare_variable", "resolve_variables"]
