"""Generate a large, valid l4plan configuration for the control-plane benchmark.

`write_config(directory, apps, rules_per_app)` writes two files: `main.l4.hcl` (agents,
the site, access rules, a load balancer, locals) and `apps.l4.hcl` (the applications,
each written out literally, as a big hand-maintained or generated configuration is).
Rules mix what the product offers: single ports, lists and ranges, TCP and UDP, ip,
domain, object-storage and load-balancer origins, origin ranges, PROXY v1/v2 and SPP,
references to locals and to other resources. Applications are spread over ten agents
and every (agent, protocol, port) is used once, so the configuration validates clean.
"""

from __future__ import annotations

from pathlib import Path

AGENTS = 10
ZONE = "example.com"
PORT_BASE = 2000
PORTS_PER_APP = 40  # edge ports one application takes per protocol (30 rules use 26)

MAIN = f"""\
variable "origin_v4" {{
  type    = string
  default = "10.20.0.1"
}}

locals {{
  origin  = var.origin_v4
  storage = "bucket-1.objects.example.net"
}}

{{agents}}
resource "l4_site" "main" {{
  name   = "{ZONE}"
  plan   = "enterprise"
  agents = [agent.a0]

  ddos_protection {{
    mode       = "full"
    expires_at = "2099-06-30T00:00:00Z"
  }}

  l7_domains = ["www.{ZONE}"]
}}

resource "l4_ip_access_rule" "office" {{
  site     = l4_site.main.id
  priority = 10
  action   = "allow"
  sources  = ["192.0.2.0/24", "2001:db8:100::/48"]
}}

resource "l4_ip_access_rule" "rest" {{
  site     = l4_site.main.id
  priority = 100
  action   = "block"
  sources  = ["0.0.0.0/0", "::/0"]
}}

resource "l4_load_balancer" "pool" {{
  site     = l4_site.main.id
  domain   = "lb.{ZONE}"
  steering = "weighted"

  origin {{
    address = "10.30.0.5"
    weight  = 3
  }}

  origin {{
    address = "game-2.internal.example.net"
    weight  = 1
  }}

  health_check {{
    interval  = "5s"
    timeout   = "2s"
    healthy   = 2
    unhealthy = 3
  }}
}}
"""


def _agents() -> str:
    return "".join(
        f'agent "a{i}" {{\n  endpoint    = "http://127.0.0.1:{7700 + i}"\n'
        f'  public_ipv4 = "198.51.100.{i + 1}"\n}}\n\n'
        for i in range(AGENTS)
    )


def _edge_ports(slot: int, base: int) -> tuple[str, int]:
    """The edge port expression of a protocol's `slot`-th rule and how many ports it
    takes, in a fixed layout: 10 single ports, 3 two-port lists, then 5-port ranges."""
    if slot < 10:
        return str(base + slot), 1
    if slot < 13:
        first = base + 10 + 2 * (slot - 10)
        return f"{first},{first + 1}", 2
    first = base + 16 + 5 * (slot - 13)
    return f"{first}-{first + 4}", 5


def _rule(index: int, protocol: str, slot: int, base: int) -> str:
    edge, width = _edge_ports(slot, base)
    kind = index % 4
    if kind == 0:
        origin_type, origin = "ip", "local.origin"
    elif kind == 1:
        origin_type, origin = "domain", f'"origin-{index}.example.net"'
    elif kind == 2:
        origin_type, origin = "object_storage", "local.storage"
    else:
        origin_type, origin = "load_balancer", "l4_load_balancer.pool.id"
    if width == 5:
        origin_port = f'"{9000 + slot * 5}-{9000 + slot * 5 + 4}"'  # offset mapping
    elif slot % 3 == 0 and width == 1:
        origin_port = '"9500-9509"'  # client-hash mapping
    else:
        origin_port = f'"{8000 + slot}"'
    if protocol == "tcp":
        passthrough = ("off", "proxy_v1", "proxy_v2")[slot % 3]
    else:
        passthrough = ("off", "proxy_v2", "spp")[slot % 3]
    return f"""
  rule {{
    protocol              = "{protocol}"
    edge_port             = "{edge}"
    origin_type           = "{origin_type}"
    origin                = {origin}
    origin_port           = {origin_port}
    client_ip_passthrough = "{passthrough}"
    comment               = "rule {index}"
  }}
"""


def application(n: int, rules_per_app: int) -> str:
    agent = n % AGENTS
    base = PORT_BASE + (n // AGENTS) * PORTS_PER_APP
    rules = "".join(
        _rule(i, "tcp" if i % 2 == 0 else "udp", i // 2, base) for i in range(rules_per_app)
    )
    return f"""
resource "l4_application" "app{n:04d}" {{
  site                  = l4_site.main.id
  domain                = "app{n:04d}"
  ipv6                  = {"true" if n % 2 else "false"}
  waf_ip_access_control = {"true" if n % 3 == 0 else "false"}
  agents                = [agent.a{agent}]
{rules}}}
"""


def write_config(directory: Path, apps: int, rules_per_app: int) -> int:
    """Write the configuration; returns its size in bytes."""
    if rules_per_app > 30:
        raise ValueError("an application has at most 30 rules")
    if PORT_BASE + (apps // AGENTS + 1) * PORTS_PER_APP > 65535:
        raise ValueError(f"{apps} applications do not fit the port layout of {AGENTS} agents")
    directory.mkdir(parents=True, exist_ok=True)
    main = MAIN.replace("{agents}", _agents())
    apps_text = "".join(application(n, rules_per_app) for n in range(apps))
    (directory / "main.l4.hcl").write_text(main)
    (directory / "apps.l4.hcl").write_text(apps_text)
    return len(main.encode()) + len(apps_text.encode())
