"""Moved to `l4agent.dataplane.origins`: this name stays an alias of that module for code
written against the flat layout (the kernel path and the reliability tests)."""

import sys

from l4agent.dataplane import origins

sys.modules[__name__] = origins
