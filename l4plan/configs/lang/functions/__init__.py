"""The built-in functions of the configuration language (docs/configuration.md lists them).

Importing a group module registers its functions in `FUNCTIONS`.
"""

from __future__ import annotations

from l4plan.configs.lang.functions import (  # noqa: F401  (importing a group registers it)
    collections,
    encoding,
    network,
    numeric,
    strings,
)
from l4plan.configs.lang.functions.registry import FUNCTIONS, Function

__all__ = ["FUNCTIONS", "Function"]
