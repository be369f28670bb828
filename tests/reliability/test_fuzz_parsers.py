"""Property-based fuzzing of the input parsers (issue 16, item 1).

Structured inputs come from the grammars (valid port expressions, real headers,
well-formed requests), mutated or cut into pieces; raw bytes check that refusals are
the documented error types. Each property lives in oracles.py, where the atheris
targets in fuzz/ check the same thing coverage-guided.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability import oracles
from tests.reliability.figures import report, trials

EXAMPLES = trials("L4PLAN_FUZZ_EXAMPLES", 100, 5000)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

# ---- port expressions -------------------------------------------------------------

PORT = st.integers(1, 65535)
SPACE = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def port_items(draw: st.DrawFn) -> str:
    """A valid expression: disjoint items in any order, with optional spaces."""
    cuts = sorted(draw(st.sets(PORT, min_size=1, max_size=12)))
    items = []
    for i in range(0, len(cuts) - 1, 2):
        lo, hi = cuts[i], cuts[i + 1]
        if draw(st.booleans()):
            items.append(f"{draw(SPACE)}{lo}{draw(SPACE)}-{draw(SPACE)}{hi}{draw(SPACE)}")
        else:
            items.append(f"{draw(SPACE)}{lo}{draw(SPACE)}")
    if not items:
        items.append(str(cuts[0]))
    return ",".join(draw(st.permutations(items)))


MUTATION = st.sampled_from(["", "0", ",", "-", " ", "65536", "a", "1", "99999999999"])


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    text = draw(base)
    pos = draw(st.integers(0, len(text)))
    cut = draw(st.integers(0, 3))
    return text[:pos] + draw(MUTATION) + text[pos + cut :]


@FUZZ
@given(port_items())
def test_valid_port_expressions_parse_as_the_reference(text: str) -> None:
    oracles.check_ports(text)


@FUZZ
@given(st.one_of(mutated(port_items()), st.text(max_size=30)))
def test_any_port_text_parses_or_is_refused_with_a_column(text: str) -> None:
    oracles.check_ports(text)


# ---- PROXY v1/v2 and SPP ------------------------------------------------------------

IPV4 = st.ip_addresses(v=4).map(str)
# IPv4-mapped IPv6 addresses are written as IPv4 (docs/passthrough-and-origins.md)
IPV6 = st.ip_addresses(v=6).filter(lambda ip: ip.ipv4_mapped is None).map(str)
PPORT = st.integers(0, 65535)


@st.composite
def address_pairs(draw: st.DrawFn) -> tuple[tuple[str, int], tuple[str, int]]:
    hosts = draw(st.sampled_from([IPV4, IPV6]))
    return (draw(hosts), draw(PPORT)), (draw(hosts), draw(PPORT))


@FUZZ
@given(st.sampled_from(["v1", "v2-tcp", "v2-udp", "spp"]), address_pairs())
def test_writers_read_back_by_independent_readers(
    kind: str, pair: tuple[tuple[str, int], tuple[str, int]]
) -> None:
    src, dst = pair
    if kind == "v1" and (src[1] == 0 or dst[1] == 0):
        src, dst = (src[0], src[1] or 1), (dst[0], dst[1] or 1)
    oracles.check_pp_roundtrip(kind, src, dst)


@st.composite
def damaged_headers(draw: st.DrawFn) -> bytes:
    from l4agent.protocols import proxyproto

    src, dst = draw(address_pairs())
    kind = draw(st.sampled_from(["v1", "v2", "local"]))
    if kind == "v1":
        data = proxyproto.encode_v1((src[0], src[1] or 1), (dst[0], dst[1] or 1))
    elif kind == "v2":
        data = proxyproto.encode_v2(src, dst, dgram=draw(st.booleans()))
    else:
        data = proxyproto.encode_v2_local()
    data += draw(st.binary(max_size=8))
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, len(data) - 1))
        data = data[:pos] + bytes([draw(st.integers(0, 255))]) + data[pos + 1 :]
    return data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data


@FUZZ
@given(st.one_of(damaged_headers(), st.binary(max_size=300)))
def test_proxy_reader_refuses_cleanly_and_incrementally(data: bytes) -> None:
    oracles.check_pp_reader(data)


@FUZZ
@given(st.one_of(st.binary(min_size=36, max_size=60), st.binary(max_size=40)))
def test_spp_reader_refuses_cleanly(data: bytes) -> None:
    oracles.check_spp_reader(b"\x56\xec" + data if len(data) % 2 else data)


# ---- the control API's HTTP/1.1 and JSON-RPC framing ----------------------------------

HEADER_NAMES = st.sampled_from(
    ["Content-Type", "Authorization", "L4-Timeout-Ms", "Connection", "Expect", "X-A", "Host"]
)


@st.composite
def http_stream(draw: st.DrawFn) -> bytes:
    """One to four pipelined requests, sometimes damaged."""
    out = b""
    for _ in range(draw(st.integers(1, 4))):
        body = draw(st.binary(max_size=64))
        headers = [
            f"{draw(HEADER_NAMES)}: {draw(st.text('ab 1-', max_size=8))}".encode()
            for _ in range(draw(st.integers(0, 4)))
        ]
        length = draw(st.sampled_from([str(len(body)), str(len(body)), f"{len(body)}, 1", "x"]))
        headers.append(f"Content-Length: {length}".encode())
        method = draw(st.sampled_from([b"POST", b"GET", b"P OST", b"POST"]))
        version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1"]))
        out += method + b" /rpc " + version + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n"
        out += body
    if draw(st.booleans()):
        pos = draw(st.integers(0, len(out)))
        out = out[:pos] + draw(st.binary(max_size=4)) + out[pos:]
    return out


@FUZZ
@given(st.one_of(http_stream(), st.binary(max_size=200)), st.lists(st.integers(0, 10**6)))
def test_http_framing_is_the_same_however_bytes_are_split(data: bytes, cuts: list[int]) -> None:
    oracles.check_http_split(data, cuts)


@FUZZ
@given(st.binary(max_size=64), st.lists(st.integers(0, 10**6)))
def test_http_framing_of_a_valid_request_with_any_body(body: bytes, cuts: list[int]) -> None:
    data = b"POST /rpc HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    oracles.check_http_split(data * 2, cuts)


def test_pipelined_request_before_a_bad_one_is_served() -> None:
    good = b"POST /rpc HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
    oracles.check_http_split(good + b"P OST /rpc HTTP/1.1\r\n\r\n", [len(good)])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@st.composite
def rpc_bodies(draw: st.DrawFn) -> bytes:
    def call() -> dict[str, Any]:
        message: dict[str, Any] = {}
        for key, value in (
            ("jsonrpc", st.sampled_from(["2.0", "2.0", "1.0", 2])),
            ("id", st.one_of(st.integers(), st.text(max_size=4), st.none(), JSON)),
            ("method", st.sampled_from(["Echo", "Broken", "Nope", "", 7])),
            ("params", st.one_of(st.dictionaries(st.text(max_size=4), JSON), JSON)),
        ):
            if draw(st.integers(0, 5)):
                message[key] = draw(value)
        return message

    size = draw(st.sampled_from([0, 1, 2, 3, 5, 64, 65]))  # the batch limit is 64
    body: Any = [call() for _ in range(size)] if draw(st.booleans()) else call()
    text = json.dumps(body)
    if draw(st.integers(0, 4)) == 0:
        pos = draw(st.integers(0, len(text)))
        text = (
            text[:pos] + draw(st.sampled_from(["NaN", "Infinity", "\ud800", "{", "]"])) + text[pos:]
        )
    return text.encode("utf-8", errors="surrogatepass")


@FUZZ
@given(st.one_of(rpc_bodies(), st.binary(max_size=100)))
def test_jsonrpc_answers_every_body(body: bytes) -> None:
    oracles.check_jsonrpc(body)


# ---- state files --------------------------------------------------------------------


def _valid_state() -> dict[str, Any]:
    from tests.states.support import sample_state

    return sample_state(2).to_json()


def _paths(value: Any, path: list[Any] | None = None) -> list[list[Any]]:
    """The path of every value inside `value` (itself first), through dicts and lists."""
    here = path or []
    found = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, [*here, k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, [*here, i])
    return found


@st.composite
def damaged_states(draw: st.DrawFn) -> str:
    """A valid state with one value somewhere replaced by any JSON value."""
    data = _valid_state()
    paths = _paths(data)
    path = draw(st.sampled_from(paths))
    replacement = draw(JSON)
    if not path:
        data = replacement
    else:
        target = data
        for part in path[:-1]:
            target = target[part]
        if draw(st.booleans()) and isinstance(target, dict):
            target.pop(path[-1], None)
        else:
            target[path[-1]] = replacement
    text = json.dumps(data)
    if draw(st.integers(0, 5)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


@FUZZ
@given(st.one_of(damaged_states(), st.text(max_size=50)))
def test_state_loading_is_a_state_or_a_state_error(text: str) -> None:
    oracles.check_state_text(text)


@FUZZ
@given(st.one_of(damaged_states().map(lambda t: t.encode()), st.binary(max_size=60)))
def test_agent_config_file_loading(data: bytes) -> None:
    # the agent's own file format around the same kind of damage
    try:
        inner = json.loads(data)
    except ValueError:
        inner = None
    wrapped = json.dumps({"format": 1, "revision": 3, "apps": inner, "requests": []}).encode()
    oracles.check_agent_state_file(data)
    oracles.check_agent_state_file(wrapped)


# ---- the agent's spec validation ----------------------------------------------------


def _good_spec() -> dict[str, Any]:
    from tests.agent.harness import app, rule

    spec = app(rule("tcp", [[3000, 3010]], [5000, 5010]), rule("udp", 53), ipv6=True)
    spec["acl"] = {"rules": [{"action": "allow", "sources": ["192.0.2.0/24"]}]}
    return spec


@st.composite
def damaged_specs(draw: st.DrawFn) -> Any:
    spec = _good_spec()
    paths = _paths(spec)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths[1:]))
        target: Any = spec
        try:
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = draw(
                st.one_of(
                    JSON,
                    st.integers(-5, 70000),
                    st.lists(st.lists(st.integers(-1, 70000), max_size=3), max_size=3),
                    st.sampled_from(["tcp", "udp", "spp", "proxy_v1", "::1", "a..b", "0/33"]),
                )
            )
        except (KeyError, IndexError, TypeError):
            continue
    return spec


@FUZZ
@given(damaged_specs())
def test_spec_validation_reports_details(spec: Any) -> None:
    oracles.check_spec_validation(spec)


@pytest.fixture(scope="module", autouse=True)
def _figure(request: pytest.FixtureRequest) -> Any:
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed == failed:
        report("fuzz-hypothesis-parsers", f"{EXAMPLES} examples per property, 0 failures")
