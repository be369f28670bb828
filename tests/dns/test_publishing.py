"""Publishing through the command line: apply creates the application's A record on
a real BIND 9 with a TSIG-signed update, plan and drift see what changed behind
l4plan's back, apply converges it, destroy removes it."""

from __future__ import annotations

import json

import jsonschema

from tests.dns.publishing import FQDN, PUBLIC_IPV4, Publishing
from tests.e2e.test_drift import DRIFT_SCHEMA
from tests.plans.schema_check import assert_valid_plan_json

APP = "l4_application.hello"


def test_apply_publishes_the_record_and_destroy_removes_it(publishing: Publishing) -> None:
    bind = publishing.bind
    assert bind.records(FQDN, "A") is None
    plan = publishing.l4plan("plan", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert f"# dns: {FQDN} A (create)" in plan.stdout

    done = publishing.apply()
    assert f"{APP}: DNS {FQDN} A published at {bind.server}" in done.stdout
    assert bind.records(FQDN, "A") == (300, [PUBLIC_IPV4])
    assert publishing.served()
    assert publishing.resource(APP)["dns"] == {
        f"{FQDN} A": {"server": bind.server, "ttl": 300, "values": [PUBLIC_IPV4]}
    }
    # the TSIG secret is write-only: the state records its digest, not the secret
    key = publishing.resource("l4_site.main")["attributes"]["dns"]["tsig_key"]
    assert key["secret"].startswith("sha256:") and publishing.secret not in json.dumps(key)
    again = publishing.l4plan("plan", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr

    gone = publishing.l4plan("destroy", "--auto-approve")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert f"{APP}: DNS {FQDN} A removed at {bind.server}" in gone.stdout
    assert bind.records(FQDN, "A") is None
    assert publishing.state()["resources"] == []


def test_record_changed_behind_l4plans_back_is_drift_and_apply_converges(
    publishing: Publishing,
) -> None:
    bind = publishing.bind
    publishing.apply()
    bind.nsupdate(f"update add {FQDN} 300 A 203.0.113.99")
    assert bind.records(FQDN, "A") == (300, [PUBLIC_IPV4, "203.0.113.99"])

    plan = publishing.l4plan("plan", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "changed outside of l4plan" in plan.stdout.lower() or "has changed" in plan.stdout
    assert f"dns: {FQDN} A (changed on the server)" in plan.stdout
    assert f"dns: {FQDN} A (update)" in plan.stdout
    as_json = publishing.l4plan("plan", "--json")
    planned = json.loads(as_json.stdout)
    assert_valid_plan_json(planned)
    [change] = [c for c in planned["resource_changes"] if c["address"] == APP]
    assert change["action"] == ["update"]
    assert change["action_reason"] == "update_because_dns_records_differ"
    assert change["dns"] == [{"name": FQDN, "type": "A", "action": "update"}]

    drift = publishing.l4plan("drift", "--json")
    assert drift.returncode == 2, drift.stdout + drift.stderr
    report = json.loads(drift.stdout)
    jsonschema.Draft202012Validator(DRIFT_SCHEMA).validate(report)
    assert report["in_sync"] is False
    assert report["summary"]["dns_changed"] == 1
    [changed] = report["dns"][0]["changed"]
    assert changed["address"] == APP
    assert changed["name"] == FQDN and changed["type"] == "A"
    assert changed["recorded"] == {"ttl": 300, "values": [PUBLIC_IPV4]}
    assert changed["found"] == {"ttl": 300, "values": ["127.0.0.1", "203.0.113.99"]}

    publishing.apply()
    assert bind.records(FQDN, "A") == (300, [PUBLIC_IPV4])
    assert publishing.l4plan("plan", "--detailed-exitcode").returncode == 0

    # a record deleted behind l4plan's back is missing, and apply creates it again
    bind.nsupdate(f"update delete {FQDN} A")
    plan = publishing.l4plan("plan", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert f"dns: {FQDN} A (missing)" in plan.stdout
    assert f"dns: {FQDN} A (create)" in plan.stdout
    publishing.apply()
    assert bind.records(FQDN, "A") == (300, [PUBLIC_IPV4])
    drift = publishing.l4plan("drift")
    assert drift.returncode == 0, drift.stdout + drift.stderr


def test_aaaa_records_follow_ipv6_and_the_ttl_follows_the_block(publishing: Publishing) -> None:
    bind, main = publishing.bind, publishing.workdir / "main.l4.hcl"
    text = main.read_text()
    with_ipv6 = text.replace(
        'public_ipv4 = "127.0.0.1"', 'public_ipv4 = "127.0.0.1"\n  public_ipv6 = "::1"'
    ).replace('domain = "hello"', 'ipv6   = true\n  domain = "hello"')
    assert with_ipv6.count("::1") == 1 and "ipv6   = true" in with_ipv6
    main.write_text(with_ipv6)
    plan = publishing.l4plan("plan")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert f"# dns: {FQDN} A (create), {FQDN} AAAA (create)" in plan.stdout
    publishing.apply()
    assert bind.records(FQDN, "A") == (300, [PUBLIC_IPV4])
    assert bind.records(FQDN, "AAAA") == (300, ["::1"])
    assert publishing.l4plan("plan", "--detailed-exitcode").returncode == 0

    main.write_text(with_ipv6.replace("ttl      = 300", "ttl      = 60"))
    plan = publishing.l4plan("plan", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert f"# dns: {FQDN} A (update), {FQDN} AAAA (update)" in plan.stdout
    publishing.apply()
    assert bind.records(FQDN, "A") == (60, [PUBLIC_IPV4])
    assert bind.records(FQDN, "AAAA") == (60, ["::1"])

    main.write_text(text.replace("ttl      = 300", "ttl      = 60"))  # ipv6 off again
    done = publishing.apply()
    assert f"{APP}: DNS {FQDN} AAAA removed at {bind.server}" in done.stdout
    assert bind.records(FQDN, "AAAA") is None
    assert bind.records(FQDN, "A") == (60, [PUBLIC_IPV4])
    assert list(publishing.resource(APP)["dns"]) == [f"{FQDN} A"]
