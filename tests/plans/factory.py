"""Build evaluated configurations and states directly, without HCL.

The plan engine's unit tests use these so they exercise the engine alone; the CLI
tests go through real HCL directories.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from l4plan.agents.placement import desired_placements
from l4plan.agents.spec import EFFECTIVE_KEEPALIVE
from l4plan.configs.model import (
    UNKNOWN,
    AgentConfig,
    Config,
    Lifecycle,
    OutputValue,
    ResourceInstance,
)
from l4plan.diagnostics import Pos
from l4plan.states.model import AgentAck, OutputState, ResourceState, State


def rule(port: str, protocol: str = "tcp", origin: str = "10.0.0.1", **extra: Any) -> dict:
    return {
        "protocol": protocol,
        "edge_port": port,
        "origin_type": "ip",
        "origin": origin,
        "origin_port": None,
        "client_ip_passthrough": "off",
        "comment": None,
        **extra,
    }


def site(name: str = "main", zone: str = "example.com", **attrs: Any) -> ResourceInstance:
    values = {
        "id": zone,
        "name": zone,
        "plan": "enterprise",
        "agents": ["hz1"],
        "ddos_protection": {"mode": "full", "expires_at": "2030-01-01T00:00:00Z"},
        "revisions": UNKNOWN,
        **attrs,
    }
    return instance("l4_site", name, values)


def app(
    name: str,
    domain: str,
    rules: list[dict],
    *,
    site_name: str = "main",
    zone: str = "example.com",
    agents: list[str] | None = None,
    key: int | str | None = None,
    **attrs: Any,
) -> ResourceInstance:
    values = {
        "id": domain,
        "site": zone,
        "domain": domain,
        "ipv6": False,
        "waf_ip_access_control": False,
        "keepalive_protection": False,
        "agents": agents if agents is not None else ["hz1"],
        "rule": rules,
        "revisions": UNKNOWN,
        **attrs,
    }
    res = instance("l4_application", name, values, key=key)
    res.depends_on = [f"l4_site.{site_name}"]
    return res


def instance(
    type_: str,
    name: str,
    attrs: dict[str, Any],
    *,
    key: int | str | None = None,
    depends_on: list[str] | None = None,
    lifecycle: Lifecycle | None = None,
    sensitive: set[str] | None = None,
) -> ResourceInstance:
    suffix = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
    return ResourceInstance(
        address=f"{type_}.{name}{suffix}",
        type=type_,
        name=name,
        key=key,
        attrs=attrs,
        pos=Pos("main.l4.hcl", 1, 1),
        depends_on=depends_on or [],
        lifecycle=lifecycle or Lifecycle(),
        sensitive=sensitive or set(),
    )


def config(*resources: ResourceInstance, outputs: dict[str, Any] | None = None) -> Config:
    cfg = Config(directory=Path("."), files={"main.l4.hcl": "# test\n"})
    cfg.agents = {
        "hz1": AgentConfig("hz1", "http://127.0.0.1:7700"),
        "hz2": AgentConfig("hz2", "http://127.0.0.1:7701"),
    }
    for res in resources:
        cfg.resources[res.address] = res
    for name, value in (outputs or {}).items():
        cfg.outputs[name] = OutputValue(name, value)
    return cfg


def applied(cfg: Config, *, serial: int = 1, revision: int = 1) -> State:
    """The state a successful apply of `cfg` would record."""
    state = State(serial=serial)
    placements = desired_placements(cfg)
    for res in cfg.resources.values():
        attrs = _known(copy.deepcopy(res.attrs), revision, res.attrs.get("agents"))
        agents = {}
        if res.type == "l4_application":
            spec = placements[res.address].spec
            if spec is not None:
                attrs[EFFECTIVE_KEEPALIVE] = spec["keepalive"]
            spec_hash = placements[res.address].spec_hash or ""
            agents = {a: AgentAck(revision, spec_hash) for a in res.attrs["agents"]}
        state.resources[res.address] = ResourceState(
            address=res.address,
            type=res.type,
            name=res.name,
            index_key=res.key,
            attributes=attrs,
            dependencies=sorted(res.depends_on),
            sensitive_attributes=sorted(res.sensitive),
            agents=agents,
        )
    for name, out in cfg.outputs.items():
        value = None if out.value is UNKNOWN else out.value
        state.outputs[name] = OutputState(value, out.sensitive)
    return state


def _known(attrs: dict[str, Any], revision: int, agents: Any) -> dict[str, Any]:
    if attrs.get("revisions") is UNKNOWN:
        names = agents if isinstance(agents, list) else []
        attrs["revisions"] = {a: revision for a in names}
    return attrs
