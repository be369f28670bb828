"""The JSON-RPC methods of the control API (docs/agent.md, "Methods"; schemas/rpc/)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from l4agent import API_VERSION, __version__
from l4agent.cluster.planes import DataPlanes
from l4agent.control.applier import Applier
from l4agent.control.schemas import params_validator, problems
from l4agent.control.server import CallContext
from l4agent.dataplane.stats import Stats
from l4agent.protocols.errors import RpcError, invalid_argument
from l4agent.protocols.jsonrpc import Handler

CAPABILITIES = [
    "tcp",
    "udp",
    "ipv6",
    "proxy_v1",
    "proxy_v2",
    "spp",
    "acl",
    "load_balancer",
    "health_check",
    "keepalive",
    "dry_run",
    "batch",
    "workers",
    "metrics",
]


@dataclass(slots=True, frozen=True)
class Identity:
    """What `Agent.Info` reports besides the revision."""

    node_id: str
    limits: dict[str, int]
    capabilities: list[str] = field(default_factory=lambda: list(CAPABILITIES))


class Api:
    """The method table, over the parts each method reads: the applier (configuration,
    revision, `Config.Apply`), the data planes (listeners, counters, origin health)
    and whether the agent serves."""

    def __init__(
        self,
        *,
        identity: Identity,
        applier: Applier,
        planes: DataPlanes,
        serving: Callable[[], bool],
    ) -> None:
        self.identity = identity
        self.applier = applier
        self.planes = planes
        self.plane = planes.local
        self.serving = serving
        table: dict[str, Callable[[dict[str, Any], CallContext], Awaitable[Any]]] = {
            "Agent.Info": self.agent_info,
            "Apps.List": self.apps_list,
            "Apps.Get": self.apps_get,
            "Config.Apply": self.config_apply,
            "Status.Get": self.status_get,
            "Health.Check": self.health_check,
        }
        # Config.Apply checks its params itself, in a thread (applier.check_request)
        self.methods: dict[str, Handler] = {
            name: _checked(name, fn, validate=name != "Config.Apply") for name, fn in table.items()
        }

    async def agent_info(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        return {
            "node_id": self.identity.node_id,
            "version": __version__,
            "api_version": API_VERSION,
            "revision": self.applier.revision,
            "capabilities": self.identity.capabilities,
            "limits": dict(self.identity.limits),
        }

    def _app(self, name: str) -> dict[str, Any]:
        applier = self.applier
        return {
            "name": name,
            "spec": applier.apps[name],
            "spec_hash": applier.hashes[name],
            "bind_errors": self.plane.bind_errors(name),
        }

    async def apps_list(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        applier = self.applier
        return {
            "revision": applier.revision,
            "apps": [self._app(name) for name in sorted(applier.apps)],
        }

    async def apps_get(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        name = params["name"]
        if name not in self.applier.apps:
            raise RpcError("NOT_FOUND", f"application {name!r} is not configured on this agent")
        return {"revision": self.applier.revision, "app": self._app(name)}

    async def config_apply(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        return await self.applier.apply(params, ctx.deadline)

    async def status_get(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        applier = self.applier
        names = params.get("names")
        if names is None:
            names = sorted(applier.apps)
        else:
            unknown = [n for n in names if n not in applier.apps]
            if unknown:
                raise RpcError(
                    "NOT_FOUND", f"application {unknown[0]!r} is not configured on this agent"
                )
        workers, snapshots = await self.planes.worker_rows()
        stats = Stats.merged([self.plane.stats.snapshot(), *snapshots])
        plane = self.plane
        listeners = plane.rule_listeners()
        apps = []
        for name in names:
            rules = []
            for index, rs in enumerate(stats.rules(name)):
                route = plane.routes.get((name, index))
                counters = rs.to_json()
                for label in ("protocol", "edge_ports", "comment"):
                    del counters[label]
                rules.append(
                    {
                        "index": index,
                        "protocol": rs.protocol,
                        "edge_ports": route.rule["edge_ports"] if route else [],
                        "path": plane.paths.get((name, index), "relay"),
                        "comment": route.rule.get("comment") if route else None,
                        "listeners": listeners.get(
                            (name, index), {"expected": 0, "bound": 0, "failed": []}
                        ),
                        "counters": counters,
                        "origins": route.pool.health() if route else [],
                    }
                )
            apps.append({"name": name, "spec_hash": applier.hashes[name], "rules": rules})
        draining_listeners, draining_connections = plane.draining()
        return {
            "revision": applier.revision,
            "serving": self.serving(),
            "workers": workers,
            "draining": {"listeners": draining_listeners, "connections": draining_connections},
            "apps": apps,
        }

    async def health_check(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        return {"status": "SERVING" if self.serving() else "NOT_SERVING"}


def _checked(
    method: str,
    fn: Callable[[dict[str, Any], CallContext], Awaitable[Any]],
    *,
    validate: bool,
) -> Handler:
    """Deadline and (when `validate`) schema checks before the method runs."""
    validator = params_validator(method)

    async def handler(params: dict[str, Any], ctx: CallContext) -> Any:
        if ctx.deadline is not None and asyncio.get_running_loop().time() >= ctx.deadline:
            raise RpcError("DEADLINE_EXCEEDED", f"the deadline passed before {method} started")
        found = problems(validator, params) if validate else []
        if found:
            head = found[0]
            where = f"{head['field']}: " if head["field"] else ""
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise invalid_argument(f"{where}{head['description']}{more}", found)
        return await fn(params, ctx)

    return handler
