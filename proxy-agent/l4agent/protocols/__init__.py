"""Sans-IO codecs: bytes in, events or values out, no sockets and no event loop.

- `http11`: the control API's HTTP/1.1 framing;
- `jsonrpc`: JSON-RPC 2.0 parsing, dispatch and encoding;
- `strictjson`: JSON whose numbers are always finite;
- `frames`: the length-prefixed JSON frames of the control ↔ worker link;
- `proxyproto`: PROXY protocol v1/v2 and Simple Proxy Protocol headers.
"""
