"""Every example validates with zero diagnostics, through the library and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from l4plan.configs import load_config
from l4plan.configs.hcl.fmt import format_source
from l4plan.configs.validate import check
from l4plan.ports import parse_ports

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
NAMES = ["quickstart", "game", "load-balancer", "multi-agent", "dns"]


def validate_json(directory: Path, *args: str) -> tuple[int, dict]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "proxy-agent")]))
    env = {k: v for k, v in env.items() if not k.startswith("L4PLAN_")}
    entry = "from l4plan.cli.main import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", entry, "validate", "--json", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, json.loads(result.stdout)


def test_every_example_folder_is_covered():
    configurations = [p.name for p in EXAMPLES.iterdir() if p.is_dir() and any(p.glob("*.hcl"))]
    assert sorted(configurations) == sorted(NAMES)
    for name in NAMES:
        assert (EXAMPLES / name / "main.l4.hcl").is_file()
        assert (EXAMPLES / name / "README.md").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_example_is_canonically_formatted(name: str):
    text = (EXAMPLES / name / "main.l4.hcl").read_text(encoding="utf-8")
    assert format_source(text, filename="main.l4.hcl") == text


@pytest.mark.parametrize("name", NAMES)
def test_example_is_valid(name: str):
    config = load_config(EXAMPLES / name, environ={})
    assert config.diagnostics == []
    assert check(config) == []
    assert validate_json(EXAMPLES / name) == (0, {"valid": True, "diagnostics": []})


def test_quickstart_forwards_one_tcp_port():
    config = load_config(EXAMPLES / "quickstart", environ={})
    [app] = config.of_type("l4_application")
    assert app.attrs["id"] == "hello.example.com"
    [rule] = app.attrs["rule"]
    assert (rule["protocol"], rule["edge_port"], rule["origin"], rule["origin_port"]) == (
        "tcp",
        "18080",
        "127.0.0.1",
        "18081",
    )
    assert config.agents["local"].endpoint == "http://127.0.0.1:7700"


def test_quickstart_variables_can_be_overridden():
    config = load_config(
        EXAMPLES / "quickstart",
        var_args=["edge_port=31001", "agent_endpoint=http://127.0.0.1:31002"],
        environ={},
    )
    assert check(config) == []
    assert config.of_type("l4_application")[0].attrs["rule"][0]["edge_port"] == "31001"
    assert config.agents["local"].endpoint == "http://127.0.0.1:31002"
    code, report = validate_json(EXAMPLES / "quickstart", "--var", "edge_port=99999")
    assert code == 1
    [diag] = report["diagnostics"]
    text = (EXAMPLES / "quickstart" / "main.l4.hcl").read_text().splitlines()
    assert diag["code"] == "L4E003" and "var.edge_port" in text[diag["line"] - 1]


def test_game_uses_tcp_udp_offset_mapping_proxy_v2_and_spp():
    config = load_config(EXAMPLES / "game", environ={})
    [app] = config.of_type("l4_application")
    rules = app.attrs["rule"]
    assert {r["protocol"] for r in rules} == {"tcp", "udp"}
    assert {r["client_ip_passthrough"] for r in rules} >= {"proxy_v2", "spp"}
    offset = [  # contiguous edge ports onto an origin range (a list may map to one port)
        r
        for r in rules
        if r["origin_port"] is not None
        and parse_ports(r["edge_port"]).is_range
        and parse_ports(r["origin_port"]).is_range
    ]
    assert offset and all(
        parse_ports(r["origin_port"]).count == parse_ports(r["edge_port"]).count for r in offset
    )


def test_load_balancer_pool_has_health_checks():
    config = load_config(EXAMPLES / "load-balancer", environ={})
    [lb] = config.of_type("l4_load_balancer")
    [app] = config.of_type("l4_application")
    assert app.attrs["rule"][0]["origin"] == lb.attrs["id"] == "lb:pool.example.com"
    assert lb.attrs["health_check"]["interval"] == "2s"
    assert len(lb.attrs["origin"]) >= 2


def test_multi_agent_places_one_region_per_agent():
    config = load_config(EXAMPLES / "multi-agent", environ={})
    apps = {a.address: a for a in config.of_type("l4_application")}
    assert set(apps) == {'l4_application.regional["eu"]', 'l4_application.regional["us"]'}
    assert apps['l4_application.regional["eu"]'].attrs["agents"] == ["a"]
    assert apps['l4_application.regional["us"]'].attrs["agents"] == ["b"]
    assert set(config.agents) == {"a", "b"}
