"""Loading and checking a valid configuration imports only what it needs.

lark and python-hcl2 build the parser tables (cached between processes), networkx
reports a dependency cycle and jsonschema explains a rejected instance: none of
them is needed for a valid configuration once the tables are cached. Runs in a
fresh interpreter, so nothing the test runner imported hides a missing import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, pathlib, sys
from l4plan.configs import load_config
from l4plan.configs.validate import check
config = load_config(pathlib.Path(sys.argv[1]), environ={})
found = [d.code for d in config.diagnostics] + [d.code for d in check(config)]
heavy = sorted(m for m in ("lark", "hcl2", "networkx", "jsonschema") if m in sys.modules)
print(json.dumps({"diagnostics": found, "imported": heavy}))
"""


def _probe(cache: Path) -> dict[str, list[str]]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "examples" / "quickstart")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_valid_configuration_loads_without_the_heavy_libraries(tmp_path: Path):
    first = _probe(tmp_path)  # builds and caches the parser tables
    assert first["diagnostics"] == []
    assert list((tmp_path / "l4plan").glob("hcl-tables-*.json"))
    assert _probe(tmp_path) == {"diagnostics": [], "imported": []}


# a user id with no passwd entry
AS_NOBODY_KNOWN = ["setpriv", "--reuid", "54321", "--regid", "54321", "--clear-groups"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_a_user_without_a_home_directory_loads_without_a_cache() -> None:
    """A user id with no passwd entry and no HOME (as in many containers): no cache
    directory can be named, so the tables are built in the process."""
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME")}
    env["PYTHONPATH"] = str(REPO)
    reach = [*AS_NOBODY_KNOWN, sys.executable, "-c", "import l4plan"]
    if subprocess.run(reach, env=env, capture_output=True, timeout=60).returncode != 0:
        pytest.skip("this checkout or interpreter is not readable by another user")
    done = subprocess.run(
        [*AS_NOBODY_KNOWN, sys.executable, "-c", PROBE, str(REPO / "examples" / "quickstart")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["diagnostics"] == []
