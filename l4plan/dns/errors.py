"""What a failed exchange with a zone's server is, apart from the client that talks to
it: the plan and the apply name these on every run, and the client (dnspython: about
20 ms of `l4plan show`'s start-up) is imported only when a zone is asked
(`l4plan.dns.client`)."""

from __future__ import annotations

from typing import Literal

DEFAULT_TIMEOUT = 10.0

# unreachable: no answer; key: the server refused the TSIG key or its signature;
# conflict: the record set is not what the prerequisite says (changed meanwhile);
# refused: any other refusal (the zone is not served there, the key may not update);
# cancelled: not sent, the apply was interrupted
ErrorKind = Literal["unreachable", "key", "conflict", "refused", "cancelled"]


class DnsError(Exception):
    """A failed exchange with an authoritative server; the message names the server
    and never the key's secret."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
