"""What must not change: a wrong TSIG key stops the apply before any agent or record
changes, naming the server; a record changed between l4plan's read and its update is
refused by the update's prerequisite, not overwritten."""

from __future__ import annotations

import base64

from tests.dns.publishing import FQDN, PUBLIC_IPV4, Publishing

APP = "l4_application.hello"
WRONG_SECRET = base64.b64encode(b"not-the-key-the-server-knows-32b").decode()


def test_wrong_tsig_key_names_the_server_and_changes_nothing(publishing: Publishing) -> None:
    bind = publishing.bind
    first = publishing.l4plan("apply", "--auto-approve", secret=WRONG_SECRET)
    assert first.returncode == 1, first.stdout + first.stderr
    assert f"DNS server {bind.server} refused the TSIG key" in first.stderr
    assert "(L4E108)" in first.stderr
    assert "Traceback" not in first.stderr
    assert WRONG_SECRET not in first.stdout + first.stderr
    assert publishing.agent.client.list_apps()["apps"] == []
    assert bind.records(FQDN, "A") is None
    assert not (publishing.workdir / "l4plan.tfstate.json").exists()

    publishing.apply()
    serial = publishing.state()["serial"]
    revision = int(publishing.agent.client.info()["revision"])
    publishing.edge_port = publishing.edge_port + 1  # a change for the agent
    again = publishing.l4plan("apply", "--auto-approve", secret=WRONG_SECRET)
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"DNS server {bind.server} refused the TSIG key" in again.stderr
    assert int(publishing.agent.client.info()["revision"]) == revision
    assert publishing.state()["serial"] == serial
    assert bind.records(FQDN, "A") == (300, [PUBLIC_IPV4])

    plan = publishing.l4plan("plan", "--detailed-exitcode", secret=WRONG_SECRET)
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert "(L4E108)" in plan.stderr


def test_a_record_changed_since_it_was_read_is_not_overwritten(publishing: Publishing) -> None:
    bind = publishing.bind
    publishing.apply()
    # someone else repoints the name; an apply that does not read it first works from
    # the state, whose content the update's prerequisite then requires
    bind.nsupdate(f"update delete {FQDN} A", f"update add {FQDN} 300 A 198.51.100.7")
    with_ttl = (
        (publishing.workdir / "main.l4.hcl").read_text().replace("ttl      = 300", "ttl      = 60")
    )
    (publishing.workdir / "main.l4.hcl").write_text(with_ttl)
    stale = publishing.l4plan("apply", "--auto-approve", "--refresh=false")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert f"DNS server {bind.server} did not change {FQDN} A" in stale.stderr
    assert "changed by someone else" in stale.stderr
    assert bind.records(FQDN, "A") == (300, ["198.51.100.7"])
    recorded = publishing.resource(APP)["dns"][f"{FQDN} A"]
    assert recorded == {"server": bind.server, "ttl": 300, "values": [PUBLIC_IPV4]}

    # the next apply reads the record first, shows it, and converges it
    done = publishing.apply()
    assert f"{APP}: DNS {FQDN} A updated at {bind.server}" in done.stdout
    assert bind.records(FQDN, "A") == (60, [PUBLIC_IPV4])
    assert publishing.l4plan("plan", "--detailed-exitcode").returncode == 0


def test_a_saved_plan_with_a_wrong_key_changes_nothing(publishing: Publishing) -> None:
    """A plan made without reading the server (`--refresh=false`) cannot meet the wrong
    key; the apply of the saved plan reads it first and stops before any agent."""
    saved = publishing.l4plan("plan", "--refresh=false", "--out", "wrong.plan", secret=WRONG_SECRET)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    done = publishing.l4plan("apply", "wrong.plan")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "(L4E108)" in done.stderr
    assert WRONG_SECRET not in done.stdout + done.stderr
    assert publishing.agent.client.list_apps()["apps"] == []
    assert publishing.bind.records(FQDN, "A") is None
