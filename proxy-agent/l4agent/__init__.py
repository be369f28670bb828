"""l4plan-agent: the JSON-RPC controlled TCP/UDP data plane driven by `l4plan apply`."""

__version__ = "0.1.0"
API_VERSION = "1"
