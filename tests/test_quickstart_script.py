"""The README's main command works end to end: scripts/quickstart.sh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_quickstart_applies_and_traffic_flows() -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "quickstart.sh")],
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in out
    assert "reply: hello from the origin, you said 'hi through l4plan'" in out
    assert "No changes. Your infrastructure matches the configuration." in out
    assert "\x1b[" not in out  # NO_COLOR honoured everywhere
