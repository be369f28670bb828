"""The data plane of one process: routes, forwarders and hitless reconfiguration.

An apply is two steps, so that it can be all-or-nothing across forwarders and worker
processes (the forwarder interface is `forwarder.Forwarder`):

1. `prepare(apps)` offers the rules to each forwarder in turn (a kernel forwarder,
   when there is one, then the userspace relay, which takes the rest); each gets
   ready without changing anything visible — the relay binds every *new* socket. If
   one refuses, the others are aborted and `ForwardRefused` names the ports; nothing
   changed.
2. `commit(prepared)` builds the routes (origin pools of unchanged rules are kept,
   with their health state) and hands each forwarder its rules: kept listeners get
   their new route (new connections see the changed rule, open ones keep theirs),
   new listeners start serving, removed listeners stop accepting at once and drain
   for up to the drain timeout.

`abort(prepared)` undoes what `prepare` did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from l4agent.dataplane.acl import Acl
from l4agent.dataplane.forwarder import Change, Forwarder, ForwardRefused, Owner
from l4agent.dataplane.origins import OriginPool
from l4agent.dataplane.relay.forwarder import RelayForwarder, RelayPrepared, desired_listeners
from l4agent.dataplane.resolver import Resolver
from l4agent.dataplane.routes import Route, health_port
from l4agent.dataplane.stats import Stats
from l4agent.protocols.errors import Detail
from l4agent.settings import RelaySettings
from l4agent.spec import ListenerKey
from l4agent.spec.mapping import PortMap

__all__ = ["DataPlane", "ForwardRefused", "Prepared", "desired_listeners"]


@dataclass(slots=True)
class Prepared:
    apps: dict[str, dict[str, Any]]
    desired: dict[ListenerKey, Owner]
    steps: list[tuple[Forwarder, Any]] = field(default_factory=list)  # in commit order

    @property
    def failed(self) -> dict[ListenerKey, str]:
        """Listeners a best-effort restore could not bind (retried in the background)."""
        return {
            key: message
            for _, prepared in self.steps
            if isinstance(prepared, RelayPrepared)
            for key, message in prepared.failed.items()
        }


class DataPlane:
    def __init__(
        self,
        settings: RelaySettings,
        stats: Stats,
        resolver: Resolver,
        forwarders: Sequence[Forwarder] = (),
    ) -> None:
        self.settings = settings
        self.stats = stats
        self.resolver = resolver
        self.relay = RelayForwarder(settings)
        self.forwarders: list[Forwarder] = [*forwarders, self.relay]  # by preference
        self.revision: int | None = None
        self.apps: dict[str, dict[str, Any]] = {}
        self.desired: dict[ListenerKey, Owner] = {}
        self.routes: dict[Owner, Route] = {}
        self.paths: dict[Owner, str] = {}  # how each rule is forwarded

    # ---- reconfiguration ---------------------------------------------------------

    def diff(self, desired: dict[ListenerKey, Owner]) -> tuple[set[ListenerKey], set[ListenerKey]]:
        """(added, removed) listener keys of the whole configuration."""
        current = self.desired.keys()
        return {k for k in desired if k not in current}, {k for k in current if k not in desired}

    async def prepare(
        self, apps: dict[str, dict[str, Any]], *, best_effort: bool = False
    ) -> Prepared:
        """Every forwarder gets ready for `apps`, or none does (raises). Unless
        `best_effort` (restore after a restart), where bind failures are kept and
        retried in the background."""
        prepared = Prepared(apps, desired_listeners(apps))
        offered = frozenset(
            (name, index) for name, spec in apps.items() for index in range(len(spec["rules"]))
        )
        try:
            for forwarder in self.forwarders:
                step = await forwarder.prepare(Change(apps, offered, best_effort))
                prepared.steps.append((forwarder, step))
                offered -= step.rules
        except BaseException:
            self.abort(prepared)
            raise
        return prepared

    def abort(self, prepared: Prepared) -> None:
        for forwarder, step in reversed(prepared.steps):
            forwarder.abort(step)
        prepared.steps.clear()

    async def commit(self, prepared: Prepared, revision: int) -> None:
        old_routes = self.routes
        routes = self._build_routes(prepared.apps, old_routes)
        for name in self.apps.keys() - prepared.apps.keys():
            self.stats.drop(name)
        paths: dict[Owner, str] = {}
        for forwarder, step in prepared.steps:
            await forwarder.commit(step, {owner: routes[owner] for owner in step.rules})
            paths.update((owner, forwarder.path) for owner in step.rules)
        self.apps = prepared.apps
        self.desired = prepared.desired
        self.routes = routes
        self.paths = paths
        self.revision = revision
        in_use = {id(route.pool) for route in routes.values()}
        for route in old_routes.values():
            if id(route.pool) not in in_use:
                in_use.add(id(route.pool))
                asyncio.get_running_loop().create_task(route.pool.close())

    def _build_routes(
        self, apps: dict[str, dict[str, Any]], old_routes: dict[Owner, Route]
    ) -> dict[Owner, Route]:
        routes: dict[Owner, Route] = {}
        for name, spec in apps.items():
            rule_stats = self.stats.set_rules(name, spec["rules"])
            acl = Acl.from_spec(spec.get("acl"))
            keepalive = bool(spec.get("keepalive", False))
            for index, rule in enumerate(spec["rules"]):
                old = old_routes.get((name, index))
                if old is not None and old.rule == rule:
                    pool = old.pool
                else:
                    pool = OriginPool(rule["origin"], self.resolver, health_port=health_port(rule))
                    pool.start()
                routes[(name, index)] = Route(
                    app=name,
                    index=index,
                    protocol=rule["protocol"],
                    passthrough=rule.get("passthrough", "off"),
                    keepalive=keepalive,
                    acl=acl,
                    pool=pool,
                    ports=PortMap(rule["edge_ports"], rule.get("origin_ports")),
                    stats=rule_stats[index],
                    rule=rule,
                )
        return routes

    # ---- reporting ---------------------------------------------------------------

    def rule_listeners(self) -> dict[Owner, dict[str, Any]]:
        """Per rule: listeners expected, bound and failed (as error details)."""
        return self.relay.rule_listeners(self.routes)

    def bind_errors(self, app: str) -> list[Detail]:
        return self.relay.bind_errors(app)

    def draining(self) -> tuple[int, int]:
        """(listeners, connections) still draining, over every forwarder."""
        counts = [forwarder.draining() for forwarder in self.forwarders]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def connections_total(self) -> int:
        return sum(rs.connections_total for _, _, rs in self.stats.items())

    # ---- shutdown ----------------------------------------------------------------

    async def shutdown(self, drain_timeout: float) -> None:
        """Stop accepting everywhere, let connections finish for up to `drain_timeout`."""
        await asyncio.gather(*(f.shutdown(drain_timeout) for f in self.forwarders))
        for route in self.routes.values():
            with contextlib.suppress(Exception):
                await route.pool.close()
