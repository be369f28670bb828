"""Moved to `l4agent.protocols.proxyproto`: this name stays an alias of that module for code
written against the flat layout (the kernel path and the reliability tests)."""

import sys

from l4agent.protocols import proxyproto

sys.modules[__name__] = proxyproto
