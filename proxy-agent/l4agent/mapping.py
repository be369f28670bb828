"""Moved to `l4agent.spec.mapping`: this name stays an alias of that module for code
written against the flat layout (the kernel path and the reliability tests)."""

import sys

from l4agent.spec import mapping

sys.modules[__name__] = mapping
