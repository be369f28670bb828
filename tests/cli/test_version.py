from __future__ import annotations

import json

from click.testing import CliRunner

from l4plan import __version__
from l4plan.cli.main import cli


def test_version_human_and_json() -> None:
    human = CliRunner().invoke(cli, ["version"])
    assert human.exit_code == 0 and human.output.startswith(f"l4plan v{__version__} ")
    data = json.loads(CliRunner().invoke(cli, ["version", "--json"]).output)
    assert data["l4plan_version"] == __version__
