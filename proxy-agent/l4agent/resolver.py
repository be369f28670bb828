"""Moved to `l4agent.dataplane.resolver`: this name stays an alias of that module for code
written against the flat layout (the kernel path and the reliability tests)."""

import sys

from l4agent.dataplane import resolver

sys.modules[__name__] = resolver
