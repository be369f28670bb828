"""Application specs as the agent receives them: canonical hash, the checks beyond the
schema, listener keys and port ranges, and the edge → origin port mapping."""

from l4agent.spec.checks import (
    Family,
    ListenerKey,
    canonical_json,
    check_spec,
    families,
    listener_count,
    listener_keys,
    overlaps,
    spec_hash,
)

__all__ = [
    "Family",
    "ListenerKey",
    "canonical_json",
    "check_spec",
    "families",
    "listener_count",
    "listener_keys",
    "overlaps",
    "spec_hash",
]
