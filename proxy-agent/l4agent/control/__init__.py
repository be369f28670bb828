"""The control plane: the HTTP/JSON-RPC endpoint (`server`, `admission`), the methods
(`api`, `schemas`, `errors`), `Config.Apply` (`requests`, `applier`), what is kept on
disk (`store`, `idempotency`) and the Prometheus exposition (`metrics`)."""
