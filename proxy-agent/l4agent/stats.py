"""Moved to `l4agent.dataplane.stats`: this name stays an alias of that module for code
written against the flat layout (the kernel path and the reliability tests)."""

import sys

from l4agent.dataplane import stats

sys.modules[__name__] = stats
