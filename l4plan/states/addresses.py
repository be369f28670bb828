"""Resource addresses as the state commands take them: TYPE.NAME, TYPE.NAME[0], TYPE.NAME["k"]."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from l4plan.configs.model import instance_key_suffix
from l4plan.states.errors import StateError

_ADDRESS = re.compile(
    r"^(?P<type>[a-z][a-z0-9_]*)\.(?P<name>[A-Za-z_][A-Za-z0-9_-]*)"
    r'(?:\[(?:(?P<index>\d+)|(?P<key>"(?:[^"\\]|\\.)*"))\])?$'
)


@dataclass(frozen=True, slots=True)
class Address:
    type: str
    name: str
    key: int | str | None = None
    has_key: bool = False  # TYPE.NAME (every instance) vs TYPE.NAME[KEY] (one)

    @property
    def resource(self) -> str:
        return f"{self.type}.{self.name}"

    def __str__(self) -> str:
        return instance_address(self.type, self.name, self.key) if self.has_key else self.resource


def parse_address(text: str) -> Address:
    m = _ADDRESS.match(text.strip())
    if not m:
        raise StateError(
            f"invalid resource address {text!r}: write TYPE.NAME, TYPE.NAME[0] or "
            'TYPE.NAME["key"], e.g. l4_application.game'
        )
    if m.group("index") is not None:
        return Address(m.group("type"), m.group("name"), int(m.group("index")), True)
    if m.group("key") is not None:
        return Address(m.group("type"), m.group("name"), json.loads(m.group("key")), True)
    return Address(m.group("type"), m.group("name"))


def instance_address(type_: str, name: str, key: int | str | None) -> str:
    return f"{type_}.{name}{instance_key_suffix(key)}"


def matches(pattern: Address, address: str) -> bool:
    """Whether the instance `address` is `pattern` or, for TYPE.NAME, one of its instances."""
    if pattern.has_key:
        return address == str(pattern)
    return address == pattern.resource or address.startswith(pattern.resource + "[")
