"""The kernel fast path: rules without client-IP passthrough forwarded by netfilter.

- `eligibility`: which rules the kernel can forward, and the reason for the others;
- `compiler`: sans-IO, specs → one atomic nftables JSON transaction for the agent's
  own table (``inet l4plan_<node>``);
- `nft`, `conntrack`: the thin IO layer (``nft -j``, ``conntrack``, sysctls) and the
  capability check;
- `driver`: `KernelForwarder`, prepare/commit/abort, statistics, drains, reconcile.

docs/kernel-fast-path.md describes the behaviour and how it differs from the relay.
"""

from l4agent.kernel.compiler import Compiled, compile_table, table_name
from l4agent.kernel.driver import KernelForwarder
from l4agent.kernel.eligibility import eligible
from l4agent.kernel.nft import NftError, Runner, capability

__all__ = [
    "Compiled",
    "KernelForwarder",
    "NftError",
    "Runner",
    "capability",
    "compile_table",
    "eligible",
    "table_name",
]
