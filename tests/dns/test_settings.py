"""The `dns` block's values are checked where they are written (L4E021), the secret
never shown; the record sets a plan asks for do not depend on the order in which
agents or records are written."""

from __future__ import annotations

from pathlib import Path

import pytest

from l4plan.configs import load_config
from l4plan.configs.validate import check
from l4plan.diagnostics import Diagnostic
from l4plan.dns.records import desired_records, dns_operations
from l4plan.states.model import DnsAck, ResourceState, State

SECRET = "c2VjcmV0LXRoYXQtbXVzdC1ub3QtYmUtc2hvd24tMzI="

CONFIG = """
agent "a" {
  endpoint    = "http://127.0.0.1:1"
  public_ipv4 = "192.0.2.10"
  public_ipv6 = "2001:db8::10"
}
agent "b" {
  endpoint    = "http://127.0.0.1:2"
  public_ipv4 = "192.0.2.11"
  public_ipv6 = "2001:db8::11"
}
resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = AGENTS
  dns {
    server   = "SERVER"
    tsig_key = { name = "l4plan", algorithm = "ALGORITHM", secret = "SECRET" }
    ttl      = TTL
  }
}
resource "l4_application" "play" {
  site   = l4_site.main.id
  domain = "play"
  ipv6   = true
  rule {
    protocol    = "tcp"
    edge_port   = "80"
    origin_type = "ip"
    origin      = "198.51.100.1"
  }
}
"""


def diagnostics(tmp_path: Path, **values: str) -> list[Diagnostic]:
    text = CONFIG
    settings = {
        "AGENTS": "[agent.a, agent.b]",
        "SERVER": "192.0.2.53:53",
        "ALGORITHM": "hmac-sha256",
        "SECRET": SECRET,
        "TTL": "300",
    }
    for name, value in {**settings, **values}.items():
        text = text.replace(name, value)
    (tmp_path / "main.l4.hcl").write_text(text)
    config = load_config(tmp_path, environ={})
    return [*config.diagnostics, *check(config)]


def test_a_valid_block_has_no_diagnostic(tmp_path: Path) -> None:
    assert diagnostics(tmp_path) == []
    assert diagnostics(tmp_path, SERVER="[2001:db8::53]:5353") == []
    assert diagnostics(tmp_path, SERVER="ns1.example.net:53") == []


@pytest.mark.parametrize(
    ("values", "line", "says"),
    [
        ({"SERVER": "192.0.2.53"}, 17, "must be HOST:PORT"),
        ({"SERVER": "192.0.2.53:0"}, 17, 'port "0" must be a number from 1 to 65535'),
        ({"SERVER": "[2001:db8::zz]:53"}, 17, "is not an IPv6 address"),
        ({"SERVER": "bad_host:53"}, 17, "neither an IPv4 address nor a host name"),
        ({"ALGORITHM": "hmac-sha3"}, 18, "is not supported: use one of hmac-md5"),
        ({"SECRET": "not base64!"}, 18, "is not base64"),
        ({"TTL": "-1"}, 19, "dns.ttl = -1 is out of range"),
        ({"SERVER": "ns1\\n:53"}, 17, "neither an IPv4 address nor a host name"),
        ({"SERVER": "192.0.2.53:²"}, 17, 'port "²" must be a number from 1 to 65535'),
        ({'name = "l4plan"': 'name = "bad..name"'}, 18, "has an empty label"),
    ],
)
def test_a_bad_value_is_reported_at_the_value(
    tmp_path: Path, values: dict[str, str], line: int, says: str
) -> None:
    [found] = diagnostics(tmp_path, **values)
    assert (found.code, found.address, found.file, found.line) == (
        "L4E021",
        "l4_site.main",
        "main.l4.hcl",
        line,
    )
    assert says in found.message
    assert "not base64!" not in found.message


def test_the_secret_is_sensitive_even_as_a_literal(tmp_path: Path) -> None:
    (tmp_path / "main.l4.hcl").write_text(
        CONFIG.replace("AGENTS", "[agent.a]")
        .replace("SERVER", "192.0.2.53:53")
        .replace("ALGORITHM", "hmac-sha256")
        .replace("SECRET", SECRET)
        .replace("TTL", "300")
    )
    config = load_config(tmp_path, environ={})
    assert "dns.tsig_key.secret" in config.resources["l4_site.main"].sensitive


def records_of(tmp_path: Path, agents: str) -> tuple[dict, list]:
    assert diagnostics(tmp_path, AGENTS=agents) == []
    config = load_config(tmp_path, environ={})
    app = config.resources["l4_application.play"]
    return desired_records(app.attrs, 300) or {}, dns_operations(
        config, {app.address: app.attrs}, None
    )


def test_records_are_by_name_and_type_whatever_the_agent_order(tmp_path: Path) -> None:
    records, operations = records_of(tmp_path, "[agent.b, agent.a]")
    assert list(records) == ["play.example.com A", "play.example.com AAAA"]
    assert records["play.example.com A"].values == ("192.0.2.10", "192.0.2.11")
    assert [(op.key, op.action) for op in operations] == [
        ("play.example.com A", "create"),
        ("play.example.com AAAA", "create"),
    ]
    (tmp_path / "reordered").mkdir()
    assert records_of(tmp_path / "reordered", "[agent.a, agent.b]")[0] == records


def test_recorded_values_in_another_order_are_no_change(tmp_path: Path) -> None:
    assert diagnostics(tmp_path) == []
    config = load_config(tmp_path, environ={})
    app = config.resources["l4_application.play"]
    server = "192.0.2.53:53"
    state = State(
        resources={
            app.address: ResourceState(
                app.address,
                app.type,
                app.name,
                None,
                {},
                dns={
                    "play.example.com AAAA": DnsAck(server, 300, ["2001:db8::11", "2001:db8::10"]),
                    "play.example.com A": DnsAck(server, 300, ["192.0.2.11", "192.0.2.10"]),
                },
            )
        }
    )
    assert dns_operations(config, {app.address: app.attrs}, state) == []
    state.resources[app.address].dns["play.example.com A"].ttl = 60
    [update] = dns_operations(config, {app.address: app.attrs}, state)
    assert (update.key, update.action, update.expected.ttl, update.desired.ttl) == (
        "play.example.com A",
        "update",
        60,
        300,
    )


def test_two_spellings_of_one_server_are_one_server() -> None:
    from l4plan.dns.settings import parse_server

    assert parse_server("NS1.Example.NET:53") == ("ns1.example.net", 53)
    assert parse_server("[2001:DB8:0:0::53]:53") == ("2001:db8::53", 53)


def test_an_ipv6_address_is_published_as_the_server_answers_it(tmp_path: Path) -> None:
    """Written long or in capitals, the address would never compare equal to what is
    read back (`2001:db8::10`), and every plan would show a change."""
    text = CONFIG.replace('"2001:db8::10"', '"2001:DB8:0:0::10"')
    for name, value in {
        "AGENTS": "[agent.a]",
        "SERVER": "192.0.2.53:53",
        "ALGORITHM": "hmac-sha256",
        "SECRET": SECRET,
        "TTL": "300",
    }.items():
        text = text.replace(name, value)
    (tmp_path / "main.l4.hcl").write_text(text)
    config = load_config(tmp_path, environ={})
    records = desired_records(config.resources["l4_application.play"].attrs, 300) or {}
    assert records["play.example.com AAAA"].values == ("2001:db8::10",)


def test_a_reference_to_the_site_reads_the_digest_of_the_secret(tmp_path: Path) -> None:
    """An output (or any attribute) that refers to the site's `dns` block cannot carry
    the write-only secret into a plan or the state."""
    text = CONFIG + 'output "dns" {\n  value     = l4_site.main.dns\n  sensitive = true\n}\n'
    for name, value in {
        "AGENTS": "[agent.a]",
        "SERVER": "192.0.2.53:53",
        "ALGORITHM": "hmac-sha256",
        "SECRET": SECRET,
        "TTL": "300",
    }.items():
        text = text.replace(name, value)
    (tmp_path / "main.l4.hcl").write_text(text)
    config = load_config(tmp_path, environ={})
    assert config.diagnostics == []
    shown = config.outputs["dns"].value["tsig_key"]["secret"]
    assert shown.startswith("sha256:") and SECRET not in str(config.outputs["dns"].value)
    # the resource itself keeps the secret, for signing
    assert config.resources["l4_site.main"].attrs["dns"]["tsig_key"]["secret"] == SECRET
