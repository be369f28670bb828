"""1,000 applications x 30 rules (~35,000 lines) load correctly (speed is measured in bench/)."""

from __future__ import annotations

from pathlib import Path

from l4plan.configs import load_config

APPS = 1000
RULES = 30

HEAD = """
variable "origin_prefix" {
  type    = string
  default = "10.0"
}

agent "edge1" {
  endpoint    = "http://127.0.0.1:7700"
  public_ipv4 = "198.51.100.1"
  public_ipv6 = "2001:db8::1"
}

resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.edge1]
}
"""


def application(i: int) -> str:
    """One application: 30 one-line rules, every third a UDP range, origins via a variable."""
    lines = [
        f'resource "l4_application" "app{i}" {{',
        "  site   = l4_site.main.id",
        f'  domain = "app{i}"',
        "  ipv6   = true",
    ]
    for j in range(RULES):
        port = 1024 + j * 2
        protocol, edge = ("udp", f"{port}-{port + 1}") if j % 3 == 0 else ("tcp", str(port))
        lines.append(
            f'  rule {{ protocol = "{protocol}"  edge_port = "{edge}"  '
            f'origin = "${{var.origin_prefix}}.{i % 250}.{j + 1}" }}'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def test_thousand_applications_with_thirty_rules_each(tmp_path: Path):
    # several files, as a large configuration would be split
    per_file = 250
    (tmp_path / "main.l4.hcl").write_text(HEAD)
    for f in range(APPS // per_file):
        text = "".join(application(i) for i in range(f * per_file, (f + 1) * per_file))
        (tmp_path / f"apps{f}.l4.hcl").write_text(text)
    assert sum(t.count("\n") for t in map(Path.read_text, tmp_path.iterdir())) > 34_000

    config = load_config(tmp_path, environ={})

    assert config.diagnostics == []
    apps = config.of_type("l4_application")
    assert len(apps) == APPS
    assert len(config.resources) == APPS + 1
    assert all(len(a.attrs["rule"]) == RULES for a in apps)
    last = config.resources["l4_application.app999"]
    assert last.attrs["id"] == "app999.example.com"
    assert last.attrs["rule"][29] == {
        "protocol": "tcp",
        "edge_port": "1082",
        "origin": "10.0.249.30",
    }
    assert last.attrs["rule"][0]["edge_port"] == "1024-1025"
    assert last.depends_on == ["l4_site.main"]
    assert last.attr_pos["rule.29.edge_port"].file == "apps3.l4.hcl"
    assert last.attr_pos["rule.29"].line == 249 * 35 + 1 + 4 + 29  # 250th app in its file
    assert len(last.attrs["endpoints"]) == RULES * 2  # one IPv4 and one IPv6 address
    assert last.attrs["dns_records"] == [
        {"type": "A", "name": "app999.example.com", "value": "198.51.100.1"},
        {"type": "AAAA", "name": "app999.example.com", "value": "2001:db8::1"},
    ]
