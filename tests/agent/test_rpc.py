"""The control API on the wire: auth, the JSON-RPC error model, schemas, hostile input,
TLS, and the l4plan client's behaviour against a real agent."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from l4agent.control.schemas import METHOD_FILES, validator

from l4plan.agents.client import AgentClient
from l4plan.agents.errors import AgentError
from tests.agent.harness import ROOT, Agent, app, port, rule

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    agent = Agent(tmp_path_factory.mktemp("secured") / "state", token=TOKEN)
    try:
        yield agent.start()
    finally:
        agent.kill()


def raw(agent: Agent, data: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes to the control port; everything the agent answers until it closes."""
    with socket.create_connection(("127.0.0.1", agent.control_port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def call(method: str, params: object = None, id_: object = 1) -> bytes:
    message: dict[str, object] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def error_of(reply: dict) -> tuple[int, str]:  # type: ignore[type-arg]
    validator("error.schema.json").validate(reply["error"])
    return reply["error"]["code"], reply["error"]["data"]["status"]


# ---- authentication ------------------------------------------------------------------


def test_wrong_or_missing_token_is_unauthenticated(secured: Agent) -> None:
    for headers in ({"Authorization": "Bearer nope"}, {"Authorization": ""}):
        status, body = secured.post(call("Agent.Info"), headers)
        assert status == 401
        assert error_of(body) == (-32000, "UNAUTHENTICATED")
    with pytest.raises(AgentError) as info:
        AgentClient(secured.endpoint, token="nope", retries=0).info()
    assert info.value.status == "UNAUTHENTICATED"
    assert secured.client.info()["version"]


def test_non_loopback_control_needs_a_token(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "l4agent", "--control", "0.0.0.0:7", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=20,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'proxy-agent'}"},
    )
    assert run.returncode == 2
    assert "--token-file" in run.stderr and "Traceback" not in run.stderr


def test_a_bad_worker_count_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "l4agent", "--control", "127.0.0.1:7", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=20,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'proxy-agent'}", "L4PLAN_AGENT_WORKERS": "abc"},
    )
    assert run.returncode == 2
    assert "'abc' is not a positive whole number" in run.stderr
    assert "L4PLAN_AGENT_WORKERS" in run.stderr and "Traceback" not in run.stderr


# ---- JSON-RPC errors -------------------------------------------------------------------


def test_malformed_json_is_a_parse_error(shared_agent: Agent) -> None:
    status, body = shared_agent.post(b'{"jsonrpc": "2.0", "method": ')
    assert status == 200
    assert error_of(body) == (-32700, "INVALID_ARGUMENT")
    assert body["id"] is None


def _strict(name: str) -> object:
    raise AssertionError(f"{name} in a reply: not JSON")


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc":"2.0","id":1e400,"method":"Health.Check"}',
        b'{"jsonrpc":"2.0","id":-1e400,"method":"Health.Check"}',
        b'[{"jsonrpc":"2.0","id":1E999,"method":"Health.Check"}]',
        b'{"jsonrpc":"2.0","id":1,"method":"Config.Apply",'
        b'"params":{"request_id":"r","expected_revision":1e400}}',
        b'{"jsonrpc":"2.0","id":NaN,"method":"Health.Check"}',
    ],
)
def test_non_finite_numbers_are_a_parse_error(shared_agent: Agent, body: bytes) -> None:
    """An id or param such as 1e400 has no JSON form: refused at parse time (-32700),
    never echoed as Infinity."""
    status, reply = shared_agent.post(body)
    assert status == 200
    raw = json.dumps(reply)
    json.loads(raw, parse_constant=_strict)
    assert error_of(reply) == (-32700, "INVALID_ARGUMENT")
    assert reply["id"] is None
    assert "finite" in reply["error"]["message"] or "not valid JSON" in reply["error"]["message"]


def test_replies_are_strict_json_on_the_wire(shared_agent: Agent) -> None:
    data = call("Health.Check", None, id_=10**30)
    reply = raw(shared_agent, http_post(data, shared_agent.control_port))
    body = reply.partition(b"\r\n\r\n")[2]
    assert json.loads(body, parse_constant=_strict)["id"] == 10**30


def http_post(body: bytes, port_: int) -> bytes:
    head = (
        f"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1:{port_}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def test_unknown_method(shared_agent: Agent) -> None:
    _, body = shared_agent.post(call("Apps.Explode", {}))
    assert error_of(body) == (-32601, "NOT_FOUND")
    assert body["id"] == 1


def test_schema_invalid_params_name_the_field(shared_agent: Agent) -> None:
    spec = app(rule("tcp", port(), port()))
    spec["rules"][0]["protocol"] = "sctp"
    params = {"upsert": [{"name": "bad.example.com", "spec": spec}], "request_id": "x"}
    _, body = shared_agent.post(call("Config.Apply", params))
    assert error_of(body) == (-32602, "INVALID_ARGUMENT")
    fields = [d["field"] for d in body["error"]["data"]["details"]]
    assert fields == ["upsert[0].spec.rules[0].protocol"]
    assert "upsert[0].spec.rules[0].protocol" in body["error"]["message"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.update(origin_ports=[[1, 2]]), "upsert[0].spec.rules[0].origin_ports[0]"),
        (lambda r: r.update(edge_ports=[[10, 5]]), "upsert[0].spec.rules[0].edge_ports[0]"),
        (
            lambda r: r.update(edge_ports=[[10, 20]], origin_ports=[30, 35]),
            "upsert[0].spec.rules[0].origin_ports",
        ),
        (lambda r: r.update(passthrough="spp"), "upsert[0].spec.rules[0].passthrough"),
        (
            lambda r: r["origin"]["targets"][0].update(host="not an ip"),
            "upsert[0].spec.rules[0].origin.targets[0].host",
        ),
        (
            lambda r: r.update(edge_ports=[[70000, 70000]]),
            "upsert[0].spec.rules[0].edge_ports[0][0]",
        ),
        (lambda r: r.update(extra=1), "upsert[0].spec.rules[0]"),
    ],
)
def test_invalid_specs(shared_agent: Agent, mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    spec = app(rule("tcp", 20001, 20002))
    mutate(spec["rules"][0])
    params = {"upsert": [{"name": "bad.example.com", "spec": spec}], "request_id": "x"}
    _, body = shared_agent.post(call("Config.Apply", params))
    assert error_of(body) == (-32602, "INVALID_ARGUMENT"), body
    assert field in [d["field"] for d in body["error"]["data"]["details"]], body


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"[]", -32600),
        (b"42", -32600),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "Agent.Info"}', -32600),
        (b'{"jsonrpc": "2.0", "id": true, "method": "Agent.Info"}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": 5}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "Agent.Info", "params": [1]}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "Apps.Get", "params": {"name": 5}}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "Agent.Info", "params": {"x": 1}}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "Agent.Info", "x": NaN}', -32700),
        (b"\xff\xfe garbage", -32700),
        (b"[" * 100000 + b"]" * 100000, -32700),
    ],
)
def test_wrong_shapes_get_clean_errors(shared_agent: Agent, message: bytes, code: int) -> None:
    status, body = shared_agent.post(message)
    assert status == 200
    assert error_of(body)[0] == code


def test_batches(shared_agent: Agent) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": "a", "method": "Health.Check"},
        {"jsonrpc": "2.0", "method": "Health.Check"},  # a notification: no reply
        {"jsonrpc": "2.0", "id": "b", "method": "Nope"},
        7,
    ]
    status, body = shared_agent.post(json.dumps(batch).encode())
    assert status == 200
    assert [r["id"] for r in body] == ["a", "b", None]
    assert body[0]["result"] == {"status": "SERVING"}
    assert body[1]["error"]["code"] == -32601
    assert body[2]["error"]["code"] == -32600
    status, body = shared_agent.post(b'[{"jsonrpc": "2.0", "method": "Health.Check"}]')
    assert (status, body) == (204, None)
    too_many = [{"jsonrpc": "2.0", "id": i, "method": "Health.Check"} for i in range(65)]
    assert error_of(shared_agent.post(json.dumps(too_many).encode())[1])[0] == -32600


def test_not_found_answers(shared_agent: Agent) -> None:
    assert error_of(shared_agent.rpc("Apps.Get", {"name": "nope.example.com"})) == (
        -32000,
        "NOT_FOUND",
    )
    assert error_of(shared_agent.rpc("Status.Get", {"names": ["nope.example.com"]}))[1] == (
        "NOT_FOUND"
    )


def test_results_follow_the_schemas(shared_agent: Agent) -> None:
    edge, origin = port(), port()
    name = "schema.example.com"
    spec = app(rule("tcp", edge, origin), rule("udp", edge, origin), ipv6=True)
    params = {"upsert": [{"name": name, "spec": spec}], "request_id": "schema-1"}
    calls = {
        "Config.Apply": params,
        "Agent.Info": {},
        "Apps.List": {},
        "Apps.Get": {"name": name},
        "Status.Get": {},
        "Health.Check": {},
    }
    for method, method_params in calls.items():
        reply = shared_agent.rpc(method, method_params)
        assert "result" in reply, reply
        validator(f"{METHOD_FILES[method]}.schema.json#/$defs/result").validate(reply["result"])
    validator("app_spec.schema.json").validate(spec)


# ---- HTTP-level hostility ----------------------------------------------------------------


def test_huge_content_length_is_refused_before_reading(shared_agent: Agent) -> None:
    started = time.monotonic()
    answer = raw(
        shared_agent,
        b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000\r\n\r\n{",
    )
    assert answer.startswith(b"HTTP/1.1 413 ")
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert body["error"]["data"]["status"] == "RESOURCE_EXHAUSTED"
    assert time.monotonic() - started < 20  # refused from the header, not after reading


def test_body_over_the_limit_via_the_client(shared_agent: Agent) -> None:
    big = "x" * (9 << 20)
    status, body = shared_agent.post(call("Apps.Get", {"name": big}))
    assert status == 413
    assert body["error"]["data"]["status"] == "RESOURCE_EXHAUSTED"


@pytest.mark.parametrize(
    "data",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(200)) + b"\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"POST /rpc HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /rpc HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"POST /rpc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /rpc HTTP/1.1\r\nbad header line\r\n\r\n",
        b"POST /rpc HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
    ],
)
def test_garbage_http_gets_an_error_status(shared_agent: Agent, data: bytes) -> None:
    answer = raw(shared_agent, data)
    assert answer[:9] == b"HTTP/1.1 " and answer[9:10] in (b"4", b"5"), answer[:100]
    assert shared_agent.client.health()["status"] == "SERVING"


def test_truncated_body_and_abrupt_close(shared_agent: Agent) -> None:
    with socket.create_connection(("127.0.0.1", shared_agent.control_port)) as s:
        s.sendall(b'POST /rpc HTTP/1.1\r\nContent-Length: 500\r\n\r\n{"jsonrpc":')
    with socket.create_connection(("127.0.0.1", shared_agent.control_port)) as s:
        s.sendall(b"POST /rpc HTTP/1.1\r\nContent-Le")
    assert shared_agent.client.health()["status"] == "SERVING"


def test_wrong_path_and_method(shared_agent: Agent) -> None:
    assert raw(shared_agent, b"GET /rpc HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 405 "
    )
    assert raw(shared_agent, b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 404 "
    )


def test_keep_alive_and_pipelining(shared_agent: Agent) -> None:
    one = call("Health.Check", id_=1)
    two = call("Agent.Info", id_=2)
    request = b"".join(
        b"POST /rpc HTTP/1.1\r\nContent-Length: %d\r\n%s\r\n%s"
        % (len(body), b"Connection: close\r\n" if last else b"", body)
        for body, last in ((one, False), (two, True))
    )
    answer = raw(shared_agent, request)
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.index(b'"id":1') < answer.index(b'"id":2')


def test_metrics_endpoint(secured: Agent) -> None:
    auth = f"Authorization: Bearer {TOKEN}\r\n".encode()
    answer = raw(secured, b"GET /metrics HTTP/1.1\r\n" + auth + b"Connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b"l4agent_build_info" in answer
    assert raw(secured, b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 401 "
    )


# ---- TLS and the client ----------------------------------------------------------------


def test_tls_control_endpoint(agent_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    agent = agent_factory("--tls-cert", str(cert), "--tls-key", str(key), ca_file=str(cert))
    assert agent.endpoint.startswith("https://")
    assert agent.client.info()["revision"] == 0
    with pytest.raises(AgentError) as info:  # without the CA the certificate is refused
        AgentClient(agent.endpoint, token=None, retries=0).info()
    assert info.value.status == "UNAVAILABLE"
    assert "CERTIFICATE_VERIFY_FAILED" in info.value.message
    # plain HTTP to the TLS port gets nowhere, and the agent keeps serving
    with pytest.raises(AgentError):
        AgentClient(f"http://127.0.0.1:{agent.control_port}", token=None, retries=0).info()
    assert agent.client.health()["status"] == "SERVING"


def test_client_reports_an_unreachable_agent() -> None:
    endpoint = f"http://127.0.0.1:{port()}"
    client = AgentClient(endpoint, token=None, timeout=2, retries=2)
    started = time.monotonic()
    with pytest.raises(AgentError) as info:
        client.info()
    assert info.value.status == "UNAVAILABLE"
    assert endpoint in str(info.value)
    assert time.monotonic() - started < 20  # the retries stop at the deadline
    with pytest.raises(AgentError) as info:
        AgentClient("ftp://x", token=None)
    assert info.value.status == "INVALID_ARGUMENT"


def test_client_survives_an_agent_restart(agent_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "s"
    agent = agent_factory(state_dir=state)
    client = AgentClient(agent.endpoint, token=None, timeout=10)
    assert client.health()["status"] == "SERVING"  # leaves a kept-alive connection open
    agent.kill()
    with pytest.raises(AgentError) as info:
        AgentClient(agent.endpoint, token=None, timeout=1, retries=0).info()
    assert info.value.status == "UNAVAILABLE"
    agent_factory(state_dir=state, control_port=agent.control_port)
    # the kept-alive connection died with the old process: the client reconnects
    assert client.info()["revision"] == 0
