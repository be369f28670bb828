"""Make the l4plan checkout and the agent package importable without installing them."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "proxy-agent"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
