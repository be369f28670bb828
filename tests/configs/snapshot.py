"""Print what the configuration layer and the CLI make of each example, for before/after diffs.

    .venv/bin/python -m tests.configs.snapshot > before.txt
    ... change l4plan/configs ...
    .venv/bin/python -m tests.configs.snapshot > after.txt && diff before.txt after.txt

For every directory under examples/ (copied to a temporary directory, so no state or
lock file is left behind) it prints the evaluated `Config` (every field, positions
included), the diagnostics of `check`, and the output of `l4plan validate`,
`validate --json`, `graph`, `plan --refresh=false` and `plan --json --refresh=false`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from l4plan.configs import load_config
from l4plan.configs.model import UNKNOWN, Config
from l4plan.configs.validate import check

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 1, tzinfo=UTC)
COMMANDS = (
    ("validate",),
    ("validate", "--json"),
    ("graph",),
    ("plan", "--refresh=false", "--no-lock", "--no-color"),
    ("plan", "--json", "--refresh=false", "--no-lock"),
)


def _plain(value: Any) -> Any:
    if value is UNKNOWN:
        return "<unknown>"
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Path):
        return "<directory>"
    return value


def config_snapshot(config: Config) -> str:
    fields = {name: getattr(config, name) for name in config.__dataclass_fields__}
    fields["check"] = check(config, now=NOW) if not config.diagnostics else []
    return json.dumps(_plain(fields), indent=1, sort_keys=True, default=repr)


def cli_snapshot(directory: Path) -> str:
    out = []
    for args in COMMANDS:
        done = subprocess.run(
            [sys.executable, "-c", "from l4plan.cli.main import main; main()", *args],
            cwd=directory,
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "NO_COLOR": "1"},
            timeout=120,
        )
        out.append(
            f"$ l4plan {' '.join(args)}  (exit {done.returncode})\n{done.stdout}{done.stderr}"
        )
    return "\n".join(out)


def main() -> None:
    for example in sorted(p for p in (REPO / "examples").iterdir() if p.is_dir()):
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp) / example.name
            shutil.copytree(example, directory)
            if not any(directory.glob("*.hcl")):
                continue
            print(f"===== {example.name}")
            print(config_snapshot(load_config(directory, environ={})))
            print(cli_snapshot(directory))


if __name__ == "__main__":
    main()
