"""Inputs that once broke a parser (found by the fuzzers), replayed on every run.

Each entry is (oracle name, input); tests/reliability/test_fuzz_regressions.py feeds
it to the same check in oracles.py. fuzz/run.sh adds nothing here by itself: a crash
it finds is minimised, then written down here by hand with the bug it showed.
"""

from __future__ import annotations

from typing import Any

CASES: list[tuple[str, Any]] = [
    # seeds worth keeping: edges of the grammars
    ("ports", "1-65535"),
    ("ports", " 80 , 81 - 82 "),
    ("ports", "0"),
    ("ports", "65536"),
    ("ports", "80,,81"),
    ("ports", "٣"),  # a non-ASCII digit is not a port
    ("ports", "80-80-80"),
    ("pp", b"PROXY UNKNOWN\r\n"),
    ("pp", b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x00"),
    ("pp", b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\xff\xff"),
    ("http", b"POST /rpc HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"),
    ("http", b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
    ("jsonrpc", b"[1e400]"),
    ("jsonrpc", b'{"jsonrpc":"2.0","id":1e400,"method":"Echo"}'),
    ("jsonrpc", b'{"jsonrpc":"2.0","id":1,"method":"Echo","params":{"a":1e999}}'),
    ("jsonrpc", b"[" * 100000),
    ("state", '{"version": 1e999}'),
    ("state", "[]"),
    ("agent_state", b'{"format": 1, "revision": 1e999, "apps": {}}'),
    ("agent_state", b'{"format": 1, "revision": 0, "apps": {}, "requests": {"x": 1}}'),
    ("agent_state", b"\xff\xfe"),
    ("hcl", 'locals { a = "${' * 50),
    ("hcl", 'variable "v" { default = 1e99999 }\noutput "o" { value = var.v * 0 }'),
]
