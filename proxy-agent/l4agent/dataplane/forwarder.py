"""The forwarder interface: one way to forward the rules of a configuration.

`plane.DataPlane` owns what every way of forwarding shares — the configuration, each
rule's `Route` (origin pool, ACL, port map, counters) — and drives its forwarders
through one all-or-nothing apply. Forwarders are asked in order of preference; each
is offered the rules that no forwarder before it took:

1. ``await prepare(change)`` gets ready to forward the rules of ``change.offered``
   that it can, and returns a `Prepared` naming them (``Prepared.rules``). Nothing
   visible changes. To refuse the whole apply it raises `ForwardRefused`, whose
   failures name the listener keys (a port in use answers FAILED_PRECONDITION, fd
   exhaustion RESOURCE_EXHAUSTED); the plane then aborts the forwarders already
   prepared and nothing changed anywhere.
2. ``await commit(prepared, routes)`` starts forwarding the prepared rules (and stops
   forwarding those it no longer has) with the routes the plane built for them. It
   must not fail: whatever can fail was checked in `prepare`.
3. ``abort(prepared)`` undoes `prepare`.

Two kinds fit:

- the userspace relay (`relay.forwarder.RelayForwarder`), which takes every rule it is
  offered: prepare binds each new listening socket, commit swaps routes, serves the
  new sockets and drains the removed ones, abort closes what prepare bound;
- a forwarder that is not a relay, such as one that programs netfilter: prepare
  builds the whole transaction for the rules it can express (and holds their ports
  so that a port in use fails the apply as it does for the relay), checks it with the
  kernel (``nft -c``) and raises `ForwardRefused` if refused; commit runs it as one
  transaction; abort releases the held ports and has nothing else to undo. Such a
  forwarder reads its rules' origin health through the routes it is given.

``path`` is what `Status.Get` reports as the ``path`` of each rule a forwarder took.
``draining()`` and ``shutdown()`` let the plane report and end drains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from l4agent.spec import ListenerKey

if TYPE_CHECKING:
    from l4agent.dataplane.routes import Route

Owner = tuple[str, int]  # (application, rule index)
Apps = Mapping[str, dict[str, Any]]


class ForwardRefused(Exception):
    """A forwarder cannot take the configuration; nothing was changed."""

    def __init__(self, failures: list[tuple[ListenerKey, int, str]]) -> None:
        self.failures = failures  # (listener key, errno, message)
        super().__init__("; ".join(message for _, _, message in failures))


@dataclass(slots=True, frozen=True)
class Change:
    """What the plane asks a forwarder to prepare."""

    apps: Apps  # the whole next configuration
    offered: frozenset[Owner]  # the rules no forwarder before this one took
    best_effort: bool = False  # restore after a restart: report failures, refuse nothing


class Prepared(Protocol):
    """What a forwarder prepared; `rules` are the rules it will forward."""

    @property
    def rules(self) -> frozenset[Owner]: ...


class Forwarder(Protocol):
    @property
    def path(self) -> str:
        """How its rules are forwarded, as `Status.Get` names it ("relay", "kernel")."""
        ...

    async def prepare(self, change: Change) -> Prepared: ...

    async def commit(self, prepared: Any, routes: Mapping[Owner, Route]) -> None: ...

    def abort(self, prepared: Any) -> None: ...

    def draining(self) -> tuple[int, int]:
        """(listeners or rules, connections or flows) still draining."""
        ...

    async def shutdown(self, drain_timeout: float) -> None:
        """Stop taking new connections; let open ones finish for up to `drain_timeout`."""
        ...
