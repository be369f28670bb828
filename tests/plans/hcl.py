"""Real configuration directories for the CLI tests, and states as apply records them."""

from __future__ import annotations

from pathlib import Path

from l4plan.configs import load_config
from l4plan.configs.model import BackendConfig
from l4plan.states import State, open_backend
from l4plan.workflows.state_write import state_id, write_successor
from tests.plans.factory import applied


def offline(args: tuple[str, ...]) -> list[str]:
    """`plan` without refresh: these directories name agents that do not run.

    Refresh against real agents is tested end to end (tests/e2e)."""
    args_list = list(args)
    if args_list[:1] == ["plan"] and not any(a.startswith("--refresh") for a in args_list):
        args_list.insert(1, "--refresh=false")
    return args_list


AGENTS = """
agent "hz1" {
  endpoint    = "http://127.0.0.1:37001"
  public_ipv4 = "127.0.0.1"
}

agent "hz2" {
  endpoint    = "http://127.0.0.1:37002"
  public_ipv4 = "127.0.0.2"
}
"""

SITE = """
resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.hz1]

  ddos_protection {
    mode       = "full"
    expires_at = "EXPIRES"
  }
}
"""

ACL = """
resource "l4_ip_access_rule" "office" {
  site     = l4_site.main.id
  priority = 10
  action   = "allow"
  sources  = ["192.0.2.0/24"]
}
"""


def rule(edge_port: str, protocol: str = "tcp", origin_port: str = "8080", extra: str = "") -> str:
    return f"""
  rule {{
    protocol    = "{protocol}"
    edge_port   = "{edge_port}"
    origin_type = "ip"
    origin      = "127.0.0.1"
    origin_port = "{origin_port}"
    {extra}
  }}
"""


def application(name: str, domain: str, rules: list[str], extra: str = "") -> str:
    return f"""
resource "l4_application" "{name}" {{
  site   = l4_site.main.id
  domain = "{domain}"
  {extra}
{"".join(rules)}
}}
"""


def write_config(
    directory: Path, *blocks: str, expires: str = "2099-01-01T00:00:00Z", site: bool = True
) -> Path:
    """Write main.l4.hcl (agents, the site, then `blocks`); returns the directory."""
    text = AGENTS + (SITE.replace("EXPIRES", expires) if site else "") + "".join(blocks)
    for old in directory.glob("*.l4.hcl"):
        old.unlink()
    (directory / "main.l4.hcl").write_text(text)
    return directory


def record_apply(directory: Path, *, serial: int = 1) -> State:
    """Write the state a successful apply of the directory's configuration records."""
    config = load_config(directory)
    assert not config.diagnostics, config.diagnostics
    backend = open_backend(config.backend, workdir=directory)
    try:
        current = backend.read()
        state = applied(config, serial=serial)
        if current is None:
            backend.write(state, expected=None)  # a first state at the serial asked for
        else:
            write_successor(backend, state, state_id(current))
        return state
    finally:
        backend.close()


def read_state(directory: Path) -> State | None:
    backend = open_backend(BackendConfig(), workdir=directory)
    try:
        return backend.read()
    finally:
        backend.close()
