"""l4plan and the agent agree on the application spec: its schema and its hash.

Drift detection compares the hash l4plan renders with the hash the agent reports,
so the two implementations must agree byte for byte, non-ASCII text included.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from hypothesis import given
from hypothesis import strategies as st
from l4agent.spec import spec_hash as agent_spec_hash

from l4plan.agents.placement import desired_placements
from l4plan.agents.spec import spec_hash
from l4plan.configs import load_config

ROOT = Path(__file__).resolve().parent.parent
APP_SPEC = json.loads((ROOT / "schemas" / "rpc" / "app_spec.schema.json").read_text())


def test_every_example_renders_specs_the_agent_schema_accepts() -> None:
    rendered = 0
    for example in sorted((ROOT / "examples").iterdir()):
        if not any(example.glob("*.hcl")):
            continue
        config = load_config(example)
        assert config.diagnostics == [], example
        for placement in desired_placements(config).values():
            assert placement.spec is not None
            jsonschema.validate(placement.spec, APP_SPEC)
            assert placement.spec_hash == agent_spec_hash(placement.spec)
            rendered += 1
    assert rendered >= 4


@given(comment=st.text(max_size=40))
def test_hashes_agree_on_any_comment(comment: str) -> None:
    spec = {
        "ipv6": False,
        "keepalive": False,
        "acl": None,
        "rules": [
            {
                "protocol": "tcp",
                "edge_ports": [[80, 80]],
                "origin_ports": None,
                "passthrough": "off",
                "origin": {
                    "type": "ip",
                    "steering": "weighted",
                    "targets": [{"host": "10.0.0.1", "weight": 1}],
                    "health_check": None,
                },
                "comment": comment,
            }
        ],
    }
    assert spec_hash(spec) == agent_spec_hash(spec)
