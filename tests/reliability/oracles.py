"""Properties checked on one input, shared by the hypothesis tests and the atheris
targets in fuzz/: each `check_*` function raises AssertionError when the code under
test breaks its contract on that input (crashes with an unexpected exception, hangs,
loses bytes, or answers differently than an independent reference).

Every parser under test promises to turn bad input into one documented error type;
anything else escaping is a bug. The functions take plain values so that a failing
input found by either fuzzer can be kept as a one-line regression case.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

from l4agent.control.schemas import problems, validator
from l4agent.control.store import ConfigStore, StateDirError
from l4agent.protocols import http11, jsonrpc, proxyproto
from l4agent.spec import check_spec

from l4plan.configs import load_config
from l4plan.ports import PortSyntaxError, parse_origin_ports, parse_ports
from l4plan.states.codec import load_state_json
from l4plan.states.errors import StateError
from tests.agent_features import pp_reference, proxyproto_parser

DIAGNOSTIC_CODE = r"^L4[EW][0-9]{3}$"

# ---- port expressions -------------------------------------------------------------


def reference_ports(text: str) -> list[tuple[int, int]] | None:
    """The port grammar of SPEC §3 (L4E003) written independently: sorted, merged ranges
    of a valid expression, None for an invalid one."""
    items: list[tuple[int, int]] = []
    for raw in text.split(","):
        # "spaces" are whatever str.isspace() calls one, as the parser's \s does
        bounds = [b.strip() for b in raw.split("-")]
        if len(bounds) > 2 or not all(b and b.isascii() and b.isdigit() for b in bounds):
            return None
        lo, hi = int(bounds[0]), int(bounds[-1])
        if not (1 <= lo <= hi <= 65535):
            return None
        items.append((lo, hi))
    items.sort()
    for (_, a_hi), (b_lo, _) in itertools.pairwise(items):
        if b_lo <= a_hi:
            return None
    merged: list[tuple[int, int]] = []
    for lo, hi in items:
        if merged and lo == merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def check_ports(text: str) -> None:
    """parse_ports agrees with the reference grammar; errors are PortSyntaxError with a
    column inside the text; a parsed set prints as an expression that parses back."""
    expected = reference_ports(text)
    try:
        parsed = parse_ports(text)
    except PortSyntaxError as e:
        assert expected is None, f"{text!r} is valid ({expected}) but was refused: {e}"
        assert 1 <= e.column <= max(len(text), 1) + 1, f"column {e.column} outside {text!r}"
        assert e.message
        return
    assert expected is not None, f"{text!r} is invalid but parsed as {parsed}"
    assert list(parsed.ranges) == expected, (text, parsed.ranges, expected)
    assert parse_ports(str(parsed)).ranges == parsed.ranges
    assert parsed.count == sum(hi - lo + 1 for lo, hi in expected)
    try:
        origin = parse_origin_ports(text)
    except PortSyntaxError:
        assert len(parsed.items) > 1
    else:
        assert len(origin.items) == 1


# ---- PROXY protocol and SPP ---------------------------------------------------------


def check_pp_roundtrip(kind: str, src: tuple[str, int], dst: tuple[str, int]) -> None:
    """The agent's writer, read back by the independent test reader, by the
    `proxy-protocol` package and by the agent's own reader, gives the addresses back."""
    import ipaddress

    from proxyprotocol.v1 import ProxyProtocolV1
    from proxyprotocol.v2 import ProxyProtocolV2

    def norm(host: str) -> str:
        ip = ipaddress.ip_address(host)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return str(ip)

    want_src, want_dst = (norm(src[0]), src[1]), (norm(dst[0]), dst[1])
    if kind == "spp":
        datagram = proxyproto.encode_spp(src, dst) + b"payload"
        client, proxy, payload = pp_reference.parse_spp(datagram)
        assert (norm(client[0]), client[1]) == want_src and payload == b"payload"
        assert (norm(proxy[0]), proxy[1]) == want_dst
        header, rest = proxyproto_parser.decode_spp(datagram)
        assert (header.client, header.proxy, rest) == (want_src, want_dst, b"payload")
        return
    if kind == "v1":
        data = proxyproto.encode_v1(src, dst)
        ref = pp_reference.parse_v1(data + b"xyz")
        package = ProxyProtocolV1().unpack(data)
    else:
        data = proxyproto.encode_v2(src, dst, dgram=kind == "v2-udp")
        ref = pp_reference.parse_v2(data + b"xyz")
        package = ProxyProtocolV2().unpack(data)
    assert ref.size == len(data)
    assert ref.src is not None and ref.dst is not None
    assert (norm(ref.src[0]), ref.src[1]) == want_src, (ref, src)
    assert (norm(ref.dst[0]), ref.dst[1]) == want_dst, (ref, dst)
    assert package.source is not None and package.dest is not None
    assert (norm(str(package.source[0])), package.source[1]) == want_src
    assert (norm(str(package.dest[0])), package.dest[1]) == want_dst
    own = proxyproto_parser.parse(data + b"xyz")
    assert own is not None and own.length == len(data)
    assert (own.source, own.dest) == (want_src, want_dst)
    # the other direction: the package writes, the agent reads
    packed = (ProxyProtocolV1() if kind == "v1" else ProxyProtocolV2()).pack(package)
    back = proxyproto_parser.parse(packed)
    assert back is not None and (back.source, back.dest) == (want_src, want_dst)


def check_pp_reader(data: bytes) -> None:
    """The agent's incremental reader on arbitrary bytes: a header, None (needs more) or
    ProxyProtocolError; never another exception. A header found in `data` is found the
    same in any longer input, and every shorter prefix of it asks for more bytes."""
    try:
        header = proxyproto_parser.parse(data)
    except proxyproto_parser.ProxyProtocolError:
        return
    if header is None:
        return
    assert 0 < header.length <= len(data)
    again = proxyproto_parser.parse(data + b"\x00tail")
    assert again == header
    for cut in {0, 1, header.length // 2, header.length - 1}:
        if 0 < cut < header.length:
            assert proxyproto_parser.parse(data[:cut]) is None, (data[:cut], header)


def check_spp_reader(data: bytes) -> None:
    """decode_spp: a header and the payload after 38 bytes, as the reference reads it,
    or ProxyProtocolError; strip_spp_reply likewise never raises anything else."""
    with contextlib.suppress(proxyproto.ProxyProtocolError):
        proxyproto.strip_spp_reply(data)
    try:
        header, payload = proxyproto_parser.decode_spp(data)
    except proxyproto_parser.ProxyProtocolError:
        return
    assert len(data) >= 38 and len(payload) == len(data) - 38
    client, proxy, rest = pp_reference.parse_spp(data)
    assert (rest, client[1], proxy[1]) == (payload, header.client[1], header.proxy[1])


# ---- HTTP/1.1 framing and JSON-RPC --------------------------------------------------


def _events(chunks: list[bytes], max_body: int) -> tuple[list[Any], int | None]:
    parser = http11.RequestParser(max_body=max_body)
    events: list[Any] = []
    for chunk in chunks:
        try:
            events += parser.feed(chunk)
        except http11.HttpError as e:
            assert 400 <= e.status <= 599 and e.message
            return events + e.events, e.status
    return events, None


def _summary(events: list[Any]) -> list[Any]:
    return [
        (e.method, e.target, e.version, e.headers, e.body, e.keep_alive)
        if isinstance(e, http11.Request)
        else "continue"
        for e in events
    ]


def check_http_split(data: bytes, cuts: list[int], max_body: int = 1 << 16) -> None:
    """Any split of the same bytes gives the same requests (and the same refusal);
    only HttpError escapes the parser. `100 Continue` may depend on the split (it is
    only sent while the body is still missing), so it is left out of the comparison."""
    whole, whole_error = _events([data], max_body)
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    split, split_error = _events(chunks, max_body)
    whole_requests = [x for x in _summary(whole) if x != "continue"]
    split_requests = [x for x in _summary(split) if x != "continue"]
    assert whole_requests == split_requests, (data, points)
    assert whole_error == split_error, (data, points, whole_error, split_error)
    for event in whole:
        if isinstance(event, http11.Request):
            assert len(event.body) <= max_body


_LOOP = asyncio.new_event_loop()  # one for every call: asyncio.run per input costs more


def check_jsonrpc(body: bytes) -> None:
    """`parse` never raises and `dispatch` answers every non-notification with a JSON-RPC
    reply that is valid JSON; a handler raising is INTERNAL, never an escape."""

    async def echo(params: dict[str, Any], context: Any) -> Any:
        return params

    async def broken(params: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("boom")

    parsed = jsonrpc.parse(body, max_batch=64)
    out = _LOOP.run_until_complete(jsonrpc.dispatch(parsed, {"Echo": echo, "Broken": broken}))
    if out is None:
        assert all(not isinstance(e, dict) and e.notification for e in parsed.entries)
        return
    reply = json.loads(out)
    replies = reply if parsed.batch else [reply]
    assert isinstance(replies, list) and replies
    for r in replies:
        assert r["jsonrpc"] == "2.0" and ("result" in r) != ("error" in r)
        if "error" in r:
            assert r["error"]["code"] in (-32700, -32600, -32601, -32602, -32000)
            assert r["error"]["data"]["status"]


# ---- state files ----------------------------------------------------------------------


def check_state_text(text: str) -> None:
    """l4plan's state loader: a State or a StateError, never another exception."""
    try:
        state = load_state_json(text, source="fuzz.tfstate.json")
    except StateError as e:
        assert str(e).startswith("fuzz.tfstate.json"), str(e)
        return
    from l4plan.states.codec import dump_state_json

    again = load_state_json(dump_state_json(state), source="again")
    assert again.to_json() == state.to_json()


def check_agent_state_file(data: bytes) -> None:
    """The agent's config.json loader: a Snapshot or a StateDirError naming the file."""
    with tempfile.TemporaryDirectory() as d:
        store = ConfigStore(Path(d))
        (Path(d) / "config.json").write_bytes(data)
        try:
            snapshot = store.load(16)
        except StateDirError as e:
            assert "config.json" in str(e), str(e)
            return
        store.save(snapshot)
        again = store.load(16)
        assert again.revision == snapshot.revision and again.apps == snapshot.apps


# ---- the agent's spec validation ------------------------------------------------------


def check_spec_validation(spec: Any) -> None:
    """Schema then semantic checks, as Config.Apply runs them: lists of details with a
    field and a description; the semantic checks only see schema-valid specs."""
    found = problems(validator("app_spec.schema.json"), spec, "spec")
    for d in found:
        assert isinstance(d["field"], str) and d["description"]
    if found:
        return
    for d in check_spec(spec, "spec"):
        assert d["field"].startswith("spec") and d["description"], d


# ---- HCL ----------------------------------------------------------------------------


def load_text(text: str, **kwargs: Any) -> Any:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "main.l4.hcl").write_text(text, encoding="utf-8", errors="surrogateescape")
        return load_config(Path(d), environ={}, **kwargs)


def check_hcl_text(text: str) -> None:
    """Any text loads into diagnostics, never an exception; each diagnostic has a code
    and a position in the file."""
    import re

    config = load_text(text)
    for d in config.diagnostics:
        assert re.match(DIAGNOSTIC_CODE, d.code), d
        assert d.message
        assert d.file == "main.l4.hcl", d
