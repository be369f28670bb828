"""`Config.Apply`: validation, idempotency, revisions, all-or-nothing bind, persistence.

Order of one apply (under the cluster lock, so applies are serialised):

1. params checked against the schema (by the API layer) and by `spec.check_spec`;
2. a known `request_id` with the same params returns the recorded result;
3. `expected_revision` must equal the current revision, else ABORTED;
4. the new application set is computed; listener conflicts between applications,
   the listener limit and the fd budget are checked;
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
from typing import Any

from l4agent.dataplane import BindFailure, desired_listeners
from l4agent.errors import Detail, RpcError, detail, invalid_argument
from l4agent.sockets import EXHAUSTION, nofile_limit, open_fds
from l4agent.spec import check_spec, spec_hash
from l4agent.store import ConfigStore, Snapshot
from l4agent.workers import Cluster

log = logging.getLogger("l4agent.apply")

# File descriptors kept free for connections, UDP flows and the control API when
# checking whether an apply's new listeners fit under RLIMIT_NOFILE.
FD_RESERVE_MIN = 256
FD_RESERVE_FRACTION = 0.1


class Applier:
    def __init__(
        self, store: ConfigStore, snapshot: Snapshot, cluster: Cluster, *, max_listeners: int
    ) -> None:
        self.store = store
        self.snapshot = snapshot
        self.cluster = cluster
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
        prepared = self.cluster.local.prepare(self.snapshot.apps, best_effort=True)
        await self.cluster.local.commit(prepared, self.snapshot.revision)
        for message in prepared.failed.values():
            log.warning("restore: %s (retrying every few seconds)", message)

    async def apply(self, params: dict[str, Any], deadline: float | None) -> dict[str, Any]:
        upserts: list[dict[str, Any]] = params.get("upsert", [])
        deletes: list[str] = params.get("delete", [])
        dry_run: bool = params.get("dry_run", False)
        _check_params(upserts, deletes)
        async with self._locked(deadline):
            if not self.accepting:
                raise RpcError("UNAVAILABLE", "the agent is not serving (starting or stopping)")
            request_id: str = params["request_id"]
            # what the change is, with defaults filled in (an omitted key equals its default)
            params_hash = spec_hash(
                {
                    "expected_revision": params.get("expected_revision"),
                    "upsert": upserts,
                    "delete": deletes,
                }
            )
            if not dry_run and (seen := self.snapshot.requests.get(request_id)) is not None:
                if seen[0] == params_hash:
                    return seen[1]
                raise RpcError(
                    "ALREADY_EXISTS",
                    f"request_id {request_id!r} was already used for a different request",
                    [detail("request_id", "use a new request_id for a new change")],
                )
            current = self.snapshot.revision
            expected = params.get("expected_revision")
            if expected is not None and expected != current:
                raise RpcError(
                    "ABORTED",
                    f"expected revision {expected} but the agent is at revision {current}; "
                    "refresh and plan again",
                    [detail("expected_revision", f"the current revision is {current}")],
                    extra={"current_revision": current},
                )
            apps, results = self._next_apps(upserts, deletes)
            upsert_index = {u["name"]: i for i, u in enumerate(upserts)}
            _check_conflicts(apps, upsert_index)
            desired = desired_listeners(apps)
            added, removed = self.cluster.local.diff(desired)
            self._check_limits(len(desired), len(added))
            changed = any(r["action"] != "none" for r in results)
            result: dict[str, Any] = {
                "revision": current,
                "changed": changed,
                "dry_run": dry_run,
                "results": results,
                "listeners": {
                    "added": len(added),
                    "removed": len(removed),
                    "kept": len(desired) - len(added),
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
                prepared = await self.cluster.prepare(apps, timeout)
            except BindFailure as e:
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
                await self.cluster.abort(prepared)
                raise
            self.hashes = {name: spec_hash(spec) for name, spec in apps.items()}
            await self.cluster.commit(prepared, current + 1)
            log.info(
                "applied revision %d: %s",
                current + 1,
                ", ".join(f"{r['action']} {r['name']}" for r in results if r["action"] != "none"),
                extra={"fields": {"revision": current + 1, "results": results}},
            )
            return result

    @asynccontextmanager
    async def _locked(self, deadline: float | None) -> AsyncIterator[None]:
        lock = self.cluster.lock
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

    def _next_apps(
        self, upserts: list[dict[str, Any]], deletes: list[str]
    ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
        apps = dict(self.snapshot.apps)
        results: list[dict[str, Any]] = []
        for entry in upserts:
            name, spec = entry["name"], entry["spec"]
            new_hash = spec_hash(spec)
            if name not in apps:
                action = "create"
            elif self.hashes.get(name) == new_hash:
                action = "none"
            else:
                action = "update"
            apps[name] = spec
            results.append({"name": name, "action": action, "spec_hash": new_hash})
        for name in deletes:
            action = "delete" if apps.pop(name, None) is not None else "none"
            results.append({"name": name, "action": action, "spec_hash": None})
        return apps, results

    def _check_limits(self, total: int, added: int) -> None:
        if total > self.max_listeners:
            raise RpcError(
                "RESOURCE_EXHAUSTED",
                f"the configuration needs {total} listening sockets; the limit is "
                f"{self.max_listeners} (--max-listeners)",
            )
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


def _check_params(upserts: list[dict[str, Any]], deletes: list[str]) -> None:
    problems: list[Detail] = []
    first: dict[str, int] = {}
    for i, entry in enumerate(upserts):
        name = entry["name"]
        if name in first:
            problems.append(
                detail(
                    f"upsert[{i}].name", f"{name!r} is already upserted by upsert[{first[name]}]"
                )
            )
        first.setdefault(name, i)
        problems += check_spec(entry["spec"], f"upsert[{i}].spec")
    for j, name in enumerate(deletes):
        if name in first:
            problems.append(detail(f"delete[{j}]", f"{name!r} is both upserted and deleted"))
    if problems:
        head = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise invalid_argument(f"{head['field']}: {head['description']}{more}", problems)


def _check_conflicts(apps: dict[str, dict[str, Any]], upsert_index: dict[str, int]) -> None:
    """Two applications may not listen on the same (protocol, port)."""
    owner: dict[tuple[str, int], tuple[str, int]] = {}
    for name, spec in apps.items():
        for index, rule in enumerate(spec["rules"]):
            protocol = rule["protocol"]
            for lo, hi in rule["edge_ports"]:
                for port in range(lo, hi + 1):
                    other = owner.setdefault((protocol, port), (name, index))
                    if other[0] == name:
                        continue
                    both_new = name in upsert_index and other[0] in upsert_index
                    mine = name if name in upsert_index else other[0]
                    rule_index = index if mine == name else other[1]
                    field = f"upsert[{upsert_index[mine]}].spec.rules[{rule_index}].edge_ports"
                    message = f"{protocol} port {port} is used by both {other[0]} and {name}"
                    raise RpcError(
                        "INVALID_ARGUMENT" if both_new else "FAILED_PRECONDITION",
                        message,
                        [detail(field, message, protocol=protocol, port=port, app=other[0])],
                        code=-32602 if both_new else -32000,
                    )


def _bind_error(
    failure: BindFailure, desired: dict[Any, tuple[str, int]], upsert_index: dict[str, int]
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
