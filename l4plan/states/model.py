"""The recorded state: what l4plan believes exists (schemas/state.schema.json)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from l4plan import __version__

STATE_VERSION = 1


@dataclass(slots=True)
class AgentAck:
    """What one agent acknowledged for one resource."""

    revision: int
    spec_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "spec_hash": self.spec_hash}


@dataclass(slots=True)
class DnsAck:
    """What a zone's authoritative server holds for one record set l4plan owns: the
    server, the TTL and the sorted values (after an apply, what it accepted; after a
    refresh, what it answered)."""

    server: str
    ttl: int
    values: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "ttl": self.ttl, "values": list(self.values)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DnsAck:
        return cls(d["server"], int(d["ttl"]), sorted(d["values"]))


@dataclass(slots=True)
class ResourceState:
    address: str
    type: str
    name: str
    index_key: int | str | None
    attributes: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    sensitive_attributes: list[str] = field(default_factory=list)
    agents: dict[str, AgentAck] = field(default_factory=dict)
    # record sets published for the resource, by "NAME TYPE" (l4plan.dns.records)
    dns: dict[str, DnsAck] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc = {
            "address": self.address,
            "type": self.type,
            "name": self.name,
            "index_key": self.index_key,
            "attributes": self.attributes,
            "sensitive_attributes": list(self.sensitive_attributes),
            "dependencies": list(self.dependencies),
            "agents": {k: v.to_json() for k, v in sorted(self.agents.items())},
        }
        if self.dns:  # only where a site publishes: other states read as before
            doc["dns"] = {k: v.to_json() for k, v in sorted(self.dns.items())}
        return doc

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ResourceState:
        return cls(
            address=d["address"],
            type=d["type"],
            name=d["name"],
            index_key=d.get("index_key"),
            attributes=d.get("attributes", {}),
            dependencies=list(d.get("dependencies", [])),
            sensitive_attributes=list(d.get("sensitive_attributes", [])),
            agents={
                k: AgentAck(v["revision"], v["spec_hash"]) for k, v in d.get("agents", {}).items()
            },
            dns={k: DnsAck.from_json(v) for k, v in d.get("dns", {}).items()},
        )


@dataclass(slots=True)
class OutputState:
    value: Any
    sensitive: bool = False


@dataclass(slots=True)
class State:
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    resources: dict[str, ResourceState] = field(default_factory=dict)  # by address
    outputs: dict[str, OutputState] = field(default_factory=dict)
    version: int = STATE_VERSION
    l4plan_version: str = __version__

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "l4plan_version": self.l4plan_version,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": [r.to_json() for r in self.resources.values()],
            "outputs": {
                k: {"value": v.value, "sensitive": v.sensitive} for k, v in self.outputs.items()
            },
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> State:
        """Build from already schema-validated JSON (see states.codec for validation)."""
        return cls(
            version=d["version"],
            l4plan_version=d.get("l4plan_version", ""),
            lineage=d["lineage"],
            serial=d["serial"],
            resources={r["address"]: ResourceState.from_json(r) for r in d.get("resources", [])},
            outputs={
                k: OutputState(v.get("value"), bool(v.get("sensitive", False)))
                for k, v in d.get("outputs", {}).items()
            },
        )
