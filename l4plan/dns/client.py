"""Talking to a zone's authoritative server: TSIG-signed queries of one record set,
and RFC 2136 updates of one record set guarded by a prerequisite.

Every message goes over TCP (no truncation, and a server that is down is told at
once), signed with the site's key; the answer's signature is checked by dnspython,
so a server that does not know the key, or a wrong secret, is an error here.
"""

from __future__ import annotations

import socket

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataset
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

from l4plan.dns.errors import DEFAULT_TIMEOUT, DnsError
from l4plan.dns.records import RecordSet
from l4plan.dns.settings import ALGORITHMS, DnsSettings


class DnsClient:
    def __init__(self, settings: DnsSettings, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.settings = settings
        self.timeout = timeout
        self._keyring = {
            dns.name.from_text(settings.key_name): dns.tsig.Key(
                settings.key_name, settings.secret, ALGORITHMS[settings.algorithm]
            )
        }
        self._address: str | None = None

    def __repr__(self) -> str:  # dnspython's Key repr shows the secret: never that
        return f"DnsClient({self.settings!r})"

    def read(self, name: str, rtype: str) -> RecordSet | None:
        """The record set at `name` of `rtype` as the server holds it; None when absent."""
        query = dns.message.make_query(name, rtype)
        query.use_tsig(self._keyring, keyname=self.settings.key_name)
        answer = self._exchange(query, f"reading {name} {rtype}")
        rcode = answer.rcode()
        if rcode == dns.rcode.NXDOMAIN:
            return None
        if rcode != dns.rcode.NOERROR:
            raise DnsError("refused", self._says(rcode, f"reading {name} {rtype}"))
        wanted = dns.rdatatype.from_text(rtype)
        for rrset in answer.answer:
            if rrset.rdtype == wanted and rrset.name == dns.name.from_text(name):
                return RecordSet.of(rrset.ttl, [r.to_text() for r in rrset])
        return None

    def write(
        self, name: str, rtype: str, expected: RecordSet | None, desired: RecordSet | None
    ) -> None:
        """Make the record set `desired` (None: delete it), provided it is `expected`
        now (None: absent). A record set that differs is a "conflict": nothing changed."""
        owner = dns.name.from_text(name)  # absolute: not relative to the zone
        update = dns.update.UpdateMessage(dns.name.from_text(self.settings.zone))
        update.use_tsig(self._keyring, keyname=self.settings.key_name)
        if expected is None:
            update.absent(owner, rtype)
        else:  # value-dependent (RFC 2136, 2.4.2), whose TTL must be zero
            update.present(owner, _rdataset(rtype, RecordSet(0, expected.values)))
        if desired is None:
            update.delete(owner, rtype)
        else:
            update.replace(owner, _rdataset(rtype, desired))
        doing = f"updating {name} {rtype}"
        answer = self._exchange(update, doing)
        rcode = answer.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        if rcode in (dns.rcode.NXRRSET, dns.rcode.YXRRSET):
            now = "exists" if rcode == dns.rcode.YXRRSET else "differs or is gone"
            raise DnsError(
                "conflict",
                f"DNS server {self.settings.server} did not change {name} {rtype}: the record"
                f" {now} since l4plan read it (changed by someone else); nothing was"
                " overwritten, plan again to see what it holds",
            )
        raise DnsError("refused", self._says(rcode, doing))

    def _exchange(self, message: dns.message.Message, doing: str) -> dns.message.Message:
        server = self.settings.server
        try:
            return dns.query.tcp(
                message, self._resolve(), port=self.settings.port, timeout=self.timeout
            )
        except dns.tsig.PeerError as e:
            raise DnsError(
                "key",
                f'DNS server {server} refused the TSIG key "{self.settings.key_name}" while'
                f" {doing} ({_tsig_word(e)}): check the key's name, algorithm and secret"
                " against the server's configuration",
            ) from None
        except dns.exception.Timeout:
            raise DnsError(
                "unreachable", f"DNS server {server} did not answer within {self.timeout:g}s"
            ) from None
        except (OSError, EOFError, dns.exception.DNSException) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
            raise DnsError("unreachable", f"DNS server {server} cannot be reached: {why}") from None

    def _resolve(self) -> str:
        if self._address is None:
            host = self.settings.host
            try:
                found = socket.getaddrinfo(host, self.settings.port, type=socket.SOCK_STREAM)
            except OSError as e:
                raise DnsError(
                    "unreachable",
                    f"DNS server {self.settings.server}: cannot resolve {host}: {e.strerror or e}",
                ) from None
            self._address = str(found[0][4][0])
        return self._address

    def _says(self, rcode: dns.rcode.Rcode, doing: str) -> str:
        text = dns.rcode.to_text(rcode)
        hint = {
            "NOTAUTH": f"it is not authoritative for {self.settings.zone}, or does not accept"
            " this key for it",
            "NOTZONE": f"the name is not in the zone {self.settings.zone}",
            "REFUSED": f"it does not serve {self.settings.zone} to this key, or its update"
            " policy does not let the key change the record",
            "SERVFAIL": "it failed; see its log",
        }.get(text, "see its log")
        return f"DNS server {self.settings.server} answered {text} while {doing}: {hint}"


def _rdataset(rtype: str, records: RecordSet) -> dns.rdataset.Rdataset:
    return dns.rdataset.from_text("IN", rtype, records.ttl, *records.values)


def _tsig_word(error: dns.tsig.PeerError) -> str:
    if isinstance(error, dns.tsig.PeerBadKey):
        return "BADKEY: it does not know a key of that name and algorithm"
    if isinstance(error, dns.tsig.PeerBadSignature):
        return "BADSIG: the signature does not verify, the secret differs"
    if isinstance(error, dns.tsig.PeerBadTime):
        return "BADTIME: the clocks differ by more than the allowed fudge"
    return type(error).__name__
