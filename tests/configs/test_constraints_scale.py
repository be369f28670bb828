"""1,000 applications x 30 rules validate correctly (speed is measured in bench/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from l4plan.configs import load_config
from l4plan.configs.validate import check

APPS = 1000
RULES = 30

HEAD = """
agent "hz1" {
  endpoint    = "http://127.0.0.1:7700"
  public_ipv4 = "127.0.0.1"
}

resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.hz1]
}
"""


def application(i: int) -> str:
    """Application i: 30 rules on 30 ports of its own (every fifth a UDP range)."""
    rules = []
    for j in range(RULES):
        port = 2000 + (i * RULES + j) * 2
        if j % 5 == 0:
            edge, origin, protocol, extra = (
                f"{port}-{port + 1}",
                f"{port + 100}-{port + 101}",
                "udp",
                'client_ip_passthrough = "spp"',
            )
        else:
            edge, origin, protocol, extra = (
                f"{port},{port + 1}",
                "8080",
                "tcp",
                'client_ip_passthrough = "proxy_v2"',
            )
        rules.append(
            f"""  rule {{
    protocol    = "{protocol}"
    edge_port   = "{edge}"
    origin_type = "ip"
    origin      = "10.{i // 250}.{i % 250}.{j + 1}"
    origin_port = "{origin}"
    {extra}
  }}
"""
        )
    return f"""
resource "l4_application" "app{i}" {{
  site   = l4_site.main.id
  domain = "app{i}"
{"".join(rules)}}}
"""


@pytest.mark.timeout(600)  # loading ~35,000 lines dominates; bench/ measures the speed
def test_thousand_applications_of_thirty_rules(tmp_path: Path):
    text = HEAD + "".join(application(i) for i in range(APPS))
    (tmp_path / "main.l4.hcl").write_text(text, encoding="utf-8")
    config = load_config(tmp_path)
    assert config.diagnostics == []
    apps = config.of_type("l4_application")
    assert len(apps) == APPS
    assert sum(len(app.attrs["rule"]) for app in apps) == APPS * RULES
    assert check(config) == []

    # one port taken twice among the 60,000 is found, and nothing else
    last = config.resources[f"l4_application.app{APPS - 1}"]
    last.attrs["rule"][1]["edge_port"] = "2002,65000"  # app0 rule[1] holds 2002
    [diag] = check(config)
    assert (diag.code, diag.address) == ("L4E013", last.address)
    assert "tcp port 2002" in diag.message and "l4_application.app0 " in diag.message
