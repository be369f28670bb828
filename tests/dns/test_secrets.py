"""The TSIG secret is masked everywhere, as agent tokens are: every command, human and
--json, succeeding and failing (a wrong secret too), is searched with the
reliability suite's leak check. The secret is write-only: only a saved plan (its
variables, mode 0600) may hold it, never the state, and the server's own
configuration (an input)."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

from tests.agent.harness import Origins
from tests.dns.bind import start_bind
from tests.dns.publishing import Publishing
from tests.reliability.test_secrets import leaks

SENTINEL = base64.b64encode(b"l4plan-sentinel-" + secrets.token_bytes(16)).decode()
WRONG = base64.b64encode(b"l4plan-wrong-key-" + secrets.token_bytes(16)).decode()


def test_tsig_secret_never_printed_or_written_outside_state(
    tmp_path: Path, origins: Origins
) -> None:
    bind = start_bind(tmp_path / "bind", secret=SENTINEL)
    setup = Publishing(tmp_path, bind, origins)
    outputs: dict[str, str] = {}
    codes: dict[str, int] = {}

    def run(*args: str, secret: str | None = None) -> None:
        key = " ".join(args) + (" (wrong secret)" if secret else "")
        while key in outputs:
            key += " (again)"
        done = setup.l4plan(*args, secret=secret)
        outputs[key], codes[key] = done.stdout + done.stderr, done.returncode

    try:
        setup.start()
        run("validate")
        run("validate", "--json")
        run("plan")
        run("plan", "--json")
        run("plan", "--out", "change.plan")
        run("show", "change.plan")
        run("show", "--json", "change.plan")
        run("show", "--format", "markdown", "change.plan")
        run("apply", "change.plan")
        run("show")
        run("show", "--json")
        run("state", "show", "l4_site.main")
        run("state", "pull")
        run("drift")
        run("drift", "--json")
        setup.bind.nsupdate("update add hello.example.com 300 A 203.0.113.9")
        run("plan", "--detailed-exitcode")
        run("plan", "--json")
        run("plan", secret=WRONG)
        run("plan", "--json", secret=WRONG)
        run("apply", "--auto-approve", secret=WRONG)
        run("drift", "--json", secret=WRONG)
        run("destroy", "--auto-approve", secret=WRONG)
        run("destroy", "--auto-approve")
    finally:
        setup.stop()
        bind.stop()
    assert codes["apply change.plan"] == 0, outputs["apply change.plan"]
    assert codes["destroy --auto-approve"] == 0, outputs["destroy --auto-approve"]
    assert codes["plan --detailed-exitcode"] == 2, outputs["plan --detailed-exitcode"]
    assert "refused the TSIG key" in outputs["plan (wrong secret)"]
    assert "resource_changes" in outputs["plan --json"]
    failing = [k for k, c in codes.items() if c == 1]
    assert len(failing) >= 4, failing
    inputs = {tmp_path / "bind" / "named.conf"}
    found = [
        *leaks(outputs, tmp_path, inputs, SENTINEL, allowed=(".plan",)),
        *leaks(outputs, tmp_path, inputs, WRONG, allowed=(".plan",)),
    ]
    assert found == [], found
