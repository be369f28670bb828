"""The kept fuzz inputs (regressions.py) replayed, and the fuzz properties shown to
catch a broken parser (so that none of them passes vacuously)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase, given, settings
from l4agent.protocols import http11, proxyproto

from l4plan import ports
from tests.agent_features import proxyproto_parser
from tests.reliability import oracles, test_fuzz_hcl, test_fuzz_parsers
from tests.reliability.figures import report
from tests.reliability.regressions import CASES

CHECKS = {
    "ports": oracles.check_ports,
    "pp": oracles.check_pp_reader,
    "http": lambda data: oracles.check_http_split(data, [1, 5, 17]),
    "jsonrpc": oracles.check_jsonrpc,
    "state": oracles.check_state_text,
    "agent_state": oracles.check_agent_state_file,
    "hcl": oracles.check_hcl_text,
}


def test_kept_inputs() -> None:
    for name, value in CASES:
        CHECKS[name](value)
    report("fuzz-regressions", f"{len(CASES)}/{len(CASES)} kept inputs pass")


def test_state_with_a_non_finite_number_is_refused() -> None:
    """Found by test_state_loading_is_a_state_or_a_state_error: a state file holding
    Infinity loaded, and then no state could be written (`cannot serialise the state`);
    refused on reading since ffaec67. The same for a number too large for a float
    (1e400 reads as infinity): refused by l4plan/states/codec.py."""
    import json

    from l4plan.states.codec import load_state_json
    from l4plan.states.errors import StateError
    from tests.states.support import sample_state

    data = sample_state(1).to_json()
    data["resources"][0]["attributes"]["id"] = "INF"
    for number in ("Infinity", "-Infinity", "NaN", "1e400"):
        text = json.dumps(data).replace('"INF"', number)
        with pytest.raises(StateError):
            load_state_json(text, source="l4plan.tfstate.json")
        oracles.check_state_text(text)


# ---- tests of the tests: each property fails on a parser with a planted bug ----------


def test_port_property_catches_a_parser_that_accepts_overlaps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = ports.parse_ports

    def lax(text: Any) -> ports.PortSet:
        try:
            return real(text)
        except ports.PortSyntaxError as e:
            if "overlaps" not in e.message:
                raise
            return real(str(text).split(",")[0])

    monkeypatch.setattr(oracles, "parse_ports", lax)
    with pytest.raises(AssertionError, match="is invalid but parsed"):
        oracles.check_ports("80,80")

    @settings(max_examples=300, phases=[Phase.generate], database=None, deadline=None)
    @given(test_fuzz_parsers.port_items().map(lambda text: f"{text},{text}"))
    def duplicated(text: str) -> None:
        oracles.check_ports(text)

    with pytest.raises(AssertionError):
        duplicated()


def test_roundtrip_property_catches_a_writer_that_swaps_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = proxyproto.encode_v2

    def swapped(src: Any, dst: Any, *, dgram: bool) -> bytes:
        return real((src[0], dst[1]), (dst[0], src[1]), dgram=dgram)

    monkeypatch.setattr(proxyproto, "encode_v2", swapped)
    with pytest.raises(AssertionError):
        test_fuzz_parsers.test_writers_read_back_by_independent_readers()


def test_framing_property_catches_a_parser_that_loses_a_split_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = http11.RequestParser.feed

    def lossy(self: http11.RequestParser, data: bytes) -> list[Any]:
        return real(self, b"" if len(data) == 1 else data)  # a one-byte read is lost

    monkeypatch.setattr(http11.RequestParser, "feed", lossy)
    request = b"POST /rpc HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
    with pytest.raises(AssertionError):
        oracles.check_http_split(request + request, [len(request) - 1, len(request)])


def test_reader_property_catches_a_reader_that_raises_the_wrong_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fragile(data: bytes) -> Any:
        if data[:1] == b"P":
            raise IndexError("planted")
        return None

    monkeypatch.setattr(proxyproto_parser, "parse", fragile)
    with pytest.raises(IndexError):
        oracles.check_pp_reader(b"PROXY TCP4")


def test_evaluation_model_catches_a_wrong_value() -> None:
    with pytest.raises(AssertionError):
        values = test_fuzz_hcl.evaluate([("1 + 1", 3)])
        assert values["o0"] == 3
