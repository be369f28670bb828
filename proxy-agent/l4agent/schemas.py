"""Moved to `l4agent.control.schemas`: this name stays an alias of that module for code
written against the flat layout (the kernel path and the reliability tests)."""

import sys

from l4agent.control import schemas

sys.modules[__name__] = schemas
