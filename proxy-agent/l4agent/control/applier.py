"""`Config.Apply`: validation, idempotency, revisions, all-or-nothing bind, persistence.

Order of one apply (under the cluster lock, so applies are serialised):

1. params checked, off the event loop (`check_request`, run in a thread): the listener
   count on ranges (before any per-item work, so a request asking for too many is
   refused at once), the schema, `spec.check_spec`, and each spec's hash;
2. a known `request_id` with the same params returns the recorded result;
3. `expected_revision` must equal the current revision, else ABORTED;
4. the new application set is computed; listener conflicts between applications
   (a sweep over port ranges), the listener limit (counted on ranges) and the fd
   budget are checked;
5. `dry_run` stops here and reports what would change;
6. every new socket is bound in every process (prepare); a failure closes what was
   bound and answers FAILED_PRECONDITION / RESOURCE_EXHAUSTED naming the ports;
7. the caller's deadline is checked one last time (DEADLINE_EXCEEDED changes nothing);
8. the configuration is written to disk with fsync, and only then
9. every process swaps to it (commit) and the answer is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from l4agent.cluster.planes import DataPlanes
from l4agent.control.requests import ApplyRequest, check_request
from l4agent.control.store import ConfigStore, Snapshot
from l4agent.dataplane.plane import ForwardRefused, desired_listeners
from l4agent.dataplane.sockets import EXHAUSTION, nofile_limit, open_fds
from l4agent.protocols.errors import Detail, RpcError, detail
from l4agent.spec import ListenerKey, listener_count, overlaps, spec_hash

log = logging.getLogger("l4agent.apply")

# File descriptors kept free for connections, UDP flows and the control API when
# checking whether an apply's new listeners fit under RLIMIT_NOFILE.
FD_RESERVE_MIN = 256
FD_RESERVE_FRACTION = 0.1


@dataclass(slots=True, frozen=True)
class Plan:
    """What an apply changes: the next application set and its listeners."""

    apps: dict[str, dict[str, Any]]
    results: list[dict[str, Any]]
    desired: dict[ListenerKey, tuple[str, int]]
    upsert_index: dict[str, int]  # application name -> its index in `upsert`
    added: int  # listeners to bind
    removed: int  # listeners to drain


class Applier:
    def __init__(
        self, store: ConfigStore, snapshot: Snapshot, planes: DataPlanes, *, max_listeners: int
    ) -> None:
        self.store = store
        self.snapshot = snapshot
        self.planes = planes
        self.max_listeners = max_listeners
        self.hashes = {name: spec_hash(spec) for name, spec in snapshot.apps.items()}
        self.accepting = True  # false while shutting down

    @property
    def revision(self) -> int:
        return self.snapshot.revision

    @property
    def apps(self) -> dict[str, dict[str, Any]]:
        return self.snapshot.apps

    async def restore(self) -> None:
        """Bind the persisted configuration at start; ports that cannot be bound are
        reported (Status.Get, Apps.List bind_errors) and retried in the background."""
        prepared = await self.planes.local.prepare(self.snapshot.apps, best_effort=True)
        await self.planes.local.commit(prepared, self.snapshot.revision)
        for message in prepared.failed.values():
            log.warning("restore: %s (retrying every few seconds)", message)

    async def apply(self, params: dict[str, Any], deadline: float | None) -> dict[str, Any]:
        request = await asyncio.to_thread(check_request, params, self.max_listeners)
        dry_run = request.dry_run
        async with self._locked(deadline):
            if not self.accepting:
                raise RpcError("UNAVAILABLE", "the agent is not serving (starting or stopping)")
            request_id = request.request_id
            params_hash = request.params_hash
            if not dry_run and (seen := self.snapshot.requests.get(request_id)) is not None:
                if seen.params_hash == params_hash:
                    return seen.result(request.upserts, request.hashes, request.deletes)
                raise RpcError(
                    "ALREADY_EXISTS",
                    f"request_id {request_id!r} was already used for a different request",
                    [detail("request_id", "use a new request_id for a new change")],
                )
            current = self.snapshot.revision
            expected = request.expected_revision
            if expected is not None and expected != current:
                raise RpcError(
                    "ABORTED",
                    f"expected revision {expected} but the agent is at revision {current}; "
                    "refresh and plan again",
                    [detail("expected_revision", f"the current revision is {current}")],
                    extra={"current_revision": current},
                )
            # computed beside the loop: the snapshot and the plane's listener set change
            # only under the lock held here
            plan = await asyncio.to_thread(self._plan, request)
            apps, results, desired = plan.apps, plan.results, plan.desired
            upsert_index = plan.upsert_index
            changed = any(r["action"] != "none" for r in results)
            result: dict[str, Any] = {
                "revision": current,
                "changed": changed,
                "dry_run": dry_run,
                "results": results,
                "listeners": {
                    "added": plan.added,
                    "removed": plan.removed,
                    "kept": len(desired) - plan.added,
                },
            }
            if dry_run:
                return result
            if not changed:  # no new revision, but a retry must get this same answer
                requests = self.snapshot.requests.copy()
                requests.put(request_id, params_hash, result)
                await self._persist(Snapshot(current, self.snapshot.apps, requests))
                return result
            _check_deadline(deadline)
            timeout = _remaining(deadline, 30.0)
            try:
                prepared = await self.planes.prepare(apps, timeout)
            except ForwardRefused as e:
                raise _bind_error(e, desired, upsert_index) from None
            except TimeoutError:
                raise RpcError(
                    "DEADLINE_EXCEEDED", "the workers did not bind in time; nothing was changed"
                ) from None
            try:
                _check_deadline(deadline)
                result["revision"] = current + 1
                requests = self.snapshot.requests.copy()
                requests.put(request_id, params_hash, result)
                await self._persist(Snapshot(current + 1, apps, requests))
            except BaseException:
                await self.planes.abort(prepared)
                raise
            hashes = {name: h for name, h in self.hashes.items() if name in apps}
            hashes.update((r["name"], r["spec_hash"]) for r in results if r["spec_hash"])
            self.hashes = hashes
            await self.planes.commit(prepared, current + 1)
            log.info(
                "applied revision %d: %s",
                current + 1,
                ", ".join(f"{r['action']} {r['name']}" for r in results if r["action"] != "none"),
                extra={"fields": {"revision": current + 1, "results": results}},
            )
            return result

    @asynccontextmanager
    async def _locked(self, deadline: float | None) -> AsyncIterator[None]:
        lock = self.planes.lock
        try:
            async with asyncio.timeout_at(deadline):
                await lock.acquire()
        except TimeoutError:
            raise RpcError(
                "DEADLINE_EXCEEDED", "another apply was still running at the deadline"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def _plan(self, request: ApplyRequest) -> Plan:
        """The configuration after `request`, checked for conflicts and limits."""
        apps, results = self._next_apps(request)
        upsert_index = {u["name"]: i for i, u in enumerate(request.upserts)}
        _check_conflicts(apps, upsert_index)
        self._check_listener_limit(sum(listener_count(spec) for spec in apps.values()))
        desired = desired_listeners(apps)
        added, removed = self.planes.local.diff(desired)
        self._check_fds(len(added))
        return Plan(apps, results, desired, upsert_index, len(added), len(removed))

    def _next_apps(
        self, request: ApplyRequest
    ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        apps = dict(self.snapshot.apps)
        results: list[dict[str, Any]] = []
        for entry, new_hash in zip(request.upserts, request.hashes, strict=True):
            name, spec = entry["name"], entry["spec"]
            if name not in apps:
                action = "create"
            elif self.hashes.get(name) == new_hash:
                action = "none"
            else:
                action = "update"
            apps[name] = spec
            results.append({"name": name, "action": action, "spec_hash": new_hash})
        for name in request.deletes:
            action = "delete" if apps.pop(name, None) is not None else "none"
            results.append({"name": name, "action": action, "spec_hash": None})
        return apps, results

    def _check_listener_limit(self, total: int) -> None:
        if total > self.max_listeners:
            raise RpcError(
                "RESOURCE_EXHAUSTED",
                f"the configuration needs {total} listening sockets; the limit is "
                f"{self.max_listeners} (--max-listeners)",
            )

    def _check_fds(self, added: int) -> None:
        limit = nofile_limit()
        reserve = max(FD_RESERVE_MIN, int(limit * FD_RESERVE_FRACTION))
        if open_fds() + added + reserve > limit:
            raise RpcError(
                "RESOURCE_EXHAUSTED",
                f"binding {added} more listening sockets would leave fewer than {reserve} "
                f"of the {limit} file descriptors (RLIMIT_NOFILE) for connections",
            )

    async def _persist(self, snapshot: Snapshot) -> None:
        try:
            await asyncio.to_thread(self.store.save, snapshot)
        except OSError as e:
            raise RpcError(
                "UNAVAILABLE", f"cannot persist the configuration in {self.store.dir}: {e}"
            ) from e
        self.snapshot = snapshot


def _check_conflicts(apps: dict[str, dict[str, Any]], upsert_index: dict[str, int]) -> None:
    """Two applications may not listen on the same (protocol, port)."""
    order = {name: i for i, name in enumerate(apps)}
    ranges = [
        (rule["protocol"], lo, hi, (name, index))
        for name, spec in apps.items()
        for index, rule in enumerate(spec["rules"])
        for lo, hi in rule["edge_ports"]
    ]
    for a, b, protocol, port in overlaps(ranges):
        (first, first_rule), (second, second_rule) = sorted((a, b), key=lambda o: order[o[0]])
        both_new = first in upsert_index and second in upsert_index
        mine, rule_index = (second, second_rule) if second in upsert_index else (first, first_rule)
        field = f"upsert[{upsert_index[mine]}].spec.rules[{rule_index}].edge_ports"
        message = f"{protocol} port {port} is used by both {first} and {second}"
        raise RpcError(
            "INVALID_ARGUMENT" if both_new else "FAILED_PRECONDITION",
            message,
            [detail(field, message, protocol=protocol, port=port, app=first)],
            code=-32602 if both_new else -32000,
        )


def _bind_error(
    failure: ForwardRefused, desired: dict[Any, tuple[str, int]], upsert_index: dict[str, int]
) -> RpcError:
    details: list[Detail] = []
    for key, _errno, message in failure.failures:
        protocol, port, family = key
        app, rule = desired.get(key, ("", 0))
        field = f"upsert[{upsert_index[app]}].spec.rules[{rule}].edge_ports" if app else ""
        details.append(detail(field, message, protocol=protocol, port=port, family=family, app=app))
    exhausted = any(code in EXHAUSTION for _, code, _ in failure.failures)
    first = failure.failures[0][2]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return RpcError(
        "RESOURCE_EXHAUSTED" if exhausted else "FAILED_PRECONDITION",
        f"{first}{more}; the previous configuration is still in place",
        details,
    )


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and asyncio.get_running_loop().time() >= deadline:
        raise RpcError("DEADLINE_EXCEEDED", "the deadline passed; nothing was changed")


def _remaining(deadline: float | None, default: float) -> float:
    if deadline is None:
        return default
    return max(0.0, deadline - asyncio.get_running_loop().time())
