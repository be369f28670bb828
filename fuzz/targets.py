"""The atheris fuzz targets, one per parser: `python fuzz/targets.py NAME [libFuzzer
flags]` fuzzes one of them (fuzz/run.sh runs them all for a given time).

Each target turns libFuzzer's bytes into the input its parser takes, through
atheris' FuzzedDataProvider where a structure helps (a split point, a port pair),
and calls the property from tests/reliability/oracles.py. An AssertionError or any
other escaping exception is a crash: libFuzzer saves the input as crash-<sha1>.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import _common  # noqa: F401  (sets sys.path)
import atheris

with atheris.instrument_imports(include=["l4plan", "l4agent", "tests.agent_features"]):
    from tests.reliability import oracles


def ports(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    oracles.check_ports(fdp.ConsumeUnicodeNoSurrogates(64))


def hcl(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    oracles.check_hcl_text(fdp.ConsumeUnicodeNoSurrogates(512))


def proxy_reader(data: bytes) -> None:
    oracles.check_pp_reader(data)


def proxy_roundtrip(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = fdp.PickValueInList(["v1", "v2-tcp", "v2-udp", "spp"])
    width = 16 if fdp.ConsumeBool() else 4
    import ipaddress

    def host() -> str:
        raw = fdp.ConsumeBytes(width).ljust(width, b"\0")
        ip = ipaddress.ip_address(raw)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # the writers send mapped addresses as IPv4
            return str(ipaddress.IPv6Address(b"\x20\x01" + raw[2:]))
        return str(ip)

    low = 1 if kind == "v1" else 0
    src = (host(), fdp.ConsumeIntInRange(low, 65535))
    dst = (host(), fdp.ConsumeIntInRange(low, 65535))
    oracles.check_pp_roundtrip(kind, src, dst)


def spp_reader(data: bytes) -> None:
    oracles.check_spp_reader(data)


def http_framing(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    cuts = [fdp.ConsumeIntInRange(0, 4096) for _ in range(fdp.ConsumeIntInRange(0, 6))]
    oracles.check_http_split(fdp.ConsumeBytes(fdp.remaining_bytes()), cuts, max_body=256)


def jsonrpc(data: bytes) -> None:
    oracles.check_jsonrpc(data)


def state_file(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    oracles.check_state_text(fdp.ConsumeUnicodeNoSurrogates(2048))


def agent_state_file(data: bytes) -> None:
    oracles.check_agent_state_file(data)


def agent_spec(data: bytes) -> None:
    import json

    try:
        spec = json.loads(data)
    except (ValueError, RecursionError):
        return
    oracles.check_spec_validation(spec)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "ports": ports,
    "hcl": hcl,
    "proxy_reader": proxy_reader,
    "proxy_roundtrip": proxy_roundtrip,
    "spp_reader": spp_reader,
    "http_framing": http_framing,
    "jsonrpc": jsonrpc,
    "state_file": state_file,
    "agent_state_file": agent_state_file,
    "agent_spec": agent_spec,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer flags]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
