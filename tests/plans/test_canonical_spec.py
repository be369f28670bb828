"""The canonical form of an agent spec: what l4plan compares and records, so a spec
made on an agent with the schema's defaults left out matches the configuration."""

from __future__ import annotations

import copy
from pathlib import Path

from l4plan.agents.placement import desired_placements
from l4plan.agents.spec import canonical_hash, canonical_spec, spec_hash
from l4plan.configs import load_config

ROOT = Path(__file__).resolve().parents[2]


def rendered_specs() -> list[dict]:
    specs = []
    for example in sorted((ROOT / "examples").iterdir()):
        if any(example.glob("*.hcl")):
            config = load_config(example)
            specs += [p.spec for p in desired_placements(config).values() if p.spec]
    assert len(specs) >= 4
    return specs


def test_what_l4plan_renders_is_canonical() -> None:
    for spec in rendered_specs():
        assert canonical_spec(spec) == spec
        assert canonical_hash(spec) == spec_hash(spec)


def test_defaults_left_out_mean_the_same() -> None:
    for spec in rendered_specs():
        minimal = copy.deepcopy(spec)
        for key in ("ipv6", "keepalive", "acl"):
            if not minimal[key]:
                del minimal[key]
        for rule in minimal["rules"]:
            if rule["comment"] == "":
                rule["comment"] = None
            for key, default in (("passthrough", "off"), ("origin_ports", None)):
                if rule[key] == default:
                    del rule[key]
            origin = rule["origin"]
            for key, default in (("steering", "weighted"), ("health_check", None)):
                if origin[key] == default:
                    del origin[key]
            for target in origin["targets"]:
                if target["weight"] == 1:
                    del target["weight"]
        minimal["rules"].reverse()
        assert canonical_hash(minimal) == spec_hash(spec)


def test_split_port_ranges_are_merged_and_other_content_still_differs() -> None:
    spec = rendered_specs()[0]
    split = copy.deepcopy(spec)
    lo, hi = split["rules"][0]["edge_ports"][0]
    if lo == hi:
        split["rules"][0]["edge_ports"][0] = [lo, lo]
    else:
        split["rules"][0]["edge_ports"][:1] = [[lo, lo], [lo + 1, hi]]
    assert canonical_hash(split) == spec_hash(spec)
    edited = copy.deepcopy(spec)
    edited["rules"][0]["comment"] = "edited"
    assert canonical_hash(edited) != spec_hash(spec)
    assert canonical_spec({"rules": "not a list"}) == {"rules": "not a list"}
