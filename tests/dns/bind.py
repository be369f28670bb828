"""A real authoritative BIND 9 server on loopback, for the DNS publishing tests.

`named` runs in the foreground from a temporary directory with its own
configuration: it listens only on 127.0.0.1 on a port from `tests.ports.DNS`,
serves one zone that accepts updates signed with the test's TSIG key, and has no
control channel. `records` asks it with real queries (dnspython); `nsupdate`
changes a record behind l4plan's back with BIND's own client.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from tests.ports import DNS, free_port

NAMED = shutil.which("named") or "/usr/sbin/named"
NSUPDATE = shutil.which("nsupdate") or "/usr/bin/nsupdate"
START_TIMEOUT = 30.0
ZONE = "example.com"
KEY_NAME = "l4plan"
ALGORITHM = "hmac-sha256"
# a fixed test key, known only to this server and the tests
SECRET = base64.b64encode(b"l4plan-test-tsig-secret-32bytes!").decode()


@dataclass(slots=True)
class Bind:
    """One running `named` and what talks to it."""

    directory: Path
    port: int
    secret: str = SECRET
    process: subprocess.Popen[bytes] | None = None

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Bind:
        if not os.access(NAMED, os.X_OK):
            raise RuntimeError(
                f"{NAMED} not found: install BIND 9 (scripts/setup.sh installs bind9 as root)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o755)
        (self.directory / "named.conf").write_text(
            _named_conf(self.directory, self.port, self.secret)
        )
        (self.directory / f"{ZONE}.zone").write_text(_zone_file())
        log = (self.directory / "named.log").open("wb")
        self.process = subprocess.Popen(
            [NAMED, "-g", "-c", str(self.directory / "named.conf"), "-n", "1", "-4"],
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"named exited at start:\n{self.log()}")
            if self._answers_soa():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"named did not answer within {START_TIMEOUT}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def log(self) -> str:
        path = self.directory / "named.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def _answers_soa(self) -> bool:
        query = dns.message.make_query(ZONE, dns.rdatatype.SOA)
        try:
            answer = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.5)
        except (dns.exception.Timeout, OSError):
            return False
        return answer.rcode() == dns.rcode.NOERROR and bool(answer.answer)

    def records(self, name: str, rtype: str) -> tuple[int, list[str]] | None:
        """(TTL, sorted values) of the `rtype` record set at `name`; None when absent."""
        query = dns.message.make_query(name, rtype)
        answer = dns.query.tcp(query, "127.0.0.1", port=self.port, timeout=10)
        for rrset in answer.answer:
            if rrset.rdtype == dns.rdatatype.from_text(rtype):
                return rrset.ttl, sorted(r.to_text() for r in rrset)
        return None

    def nsupdate(self, *commands: str) -> None:
        """Run BIND's `nsupdate` with the test key: `update add ...` lines and friends."""
        script = "\n".join([f"server 127.0.0.1 {self.port}", f"zone {ZONE}", *commands, "send", ""])
        done = subprocess.run(
            [NSUPDATE, "-y", f"{ALGORITHM}:{KEY_NAME}:{self.secret}"],
            input=script,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def start_bind(directory: Path, secret: str = SECRET) -> Bind:
    return Bind(directory, free_port(DNS), secret).start()


def _named_conf(directory: Path, port: int, secret: str) -> str:
    return f"""
options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    session-keyfile "{directory}/session.key";
    managed-keys-directory "{directory}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    allow-transfer {{ none; }};
}};
controls {{ }};
key "{KEY_NAME}" {{
    algorithm {ALGORITHM};
    secret "{secret}";
}};
zone "{ZONE}" {{
    type primary;
    file "{directory}/{ZONE}.zone";
    update-policy {{ grant {KEY_NAME} subdomain {ZONE}. A AAAA; }};
}};
"""


def _zone_file() -> str:
    return f"""$TTL 300
@ IN SOA ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 300
@ IN NS ns1.{ZONE}.
ns1 IN A 192.0.2.53
"""
