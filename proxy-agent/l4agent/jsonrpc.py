"""Moved to `l4agent.protocols.jsonrpc`: this name stays an alias of that module for code
written against the flat layout (the kernel path and the reliability tests)."""

import sys

from l4agent.protocols import jsonrpc

sys.modules[__name__] = jsonrpc
