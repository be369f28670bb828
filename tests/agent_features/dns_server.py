"""A small authoritative DNS server for tests: real UDP on 127.0.0.1, answers from a dict.

Records are set per name as (rdtype, address, ttl) tuples; unknown names get NXDOMAIN.
`mode` switches the whole server to answering SERVFAIL or to dropping queries (a
timeout for the client). Every query is counted per (name, rdtype).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from typing import Literal

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Mode = Literal["answer", "servfail", "drop"]


class DnsServer:
    def __init__(self, port: int, *, delay: float = 0.0) -> None:
        self.port = port
        self.delay = delay
        self.mode: Mode = "answer"
        self.records: dict[str, list[tuple[str, str, int]]] = {}
        self.queries: Counter[tuple[str, str]] = Counter()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", port))
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def count(self, name: str) -> int:
        return sum(n for (qname, _), n in self.queries.items() if qname == name)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._answer, args=(data, peer), daemon=True).start()

    def _answer(self, data: bytes, peer: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries[(name, rdtype)] += 1
        if self.mode == "drop":
            return
        if self.delay:
            time.sleep(self.delay)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if self.mode == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            matching = [(a, ttl) for t, a, ttl in self.records[name] if t == rdtype]
            if matching:
                ttl = min(ttl for _, ttl in matching)
                rrset = dns.rrset.from_text_list(
                    question.name, ttl, dns.rdataclass.IN, question.rdtype, [a for a, _ in matching]
                )
                response.answer.append(rrset)
        with contextlib.suppress(OSError):
            self._sock.sendto(response.to_wire(), peer)
