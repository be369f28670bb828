"""examples/systemd/l4plan-agent.service read as systemd reads it, for the service tests.

The tests take the unit's command lines as they are and replace only what systemd
itself would fill in on a node: the specifiers `%S` (the state root, /var/lib) and
`%d` (the credentials directory), the executable's install path, and the values of
the unit's Environment= variables a site sets in agent.env (`L4PLAN_AGENT_CONTROL`, the
control address, and `L4PLAN_AGENT_LISTEN`, the listeners' --bind flags), so that
the agent listens on free loopback ports.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UNIT_PATH = REPO / "examples" / "systemd" / "l4plan-agent.service"
INSTALLED = "/opt/l4plan-agent/bin/l4plan-agent"  # where the unit expects the agent
LOCAL = str(Path(sys.executable).with_name("l4plan-agent"))  # scripts/setup.sh installs it

_VARIABLE = re.compile(r"\$\{(\w+)\}")
_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "": 1.0}


@dataclass
class Unit:
    """The unit's sections as name → [values] (a directive may repeat)."""

    sections: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def values(self, key: str, section: str = "Service") -> list[str]:
        return self.sections.get(section, {}).get(key, [])

    def value(self, key: str, section: str = "Service") -> str:
        [value] = self.values(key, section)
        return value

    def environment(self) -> dict[str, str]:
        """Environment= assignments in order (a later one wins), quotes removed."""
        env: dict[str, str] = {}
        for line in self.values("Environment"):
            for word in shlex.split(line):
                name, _, value = word.partition("=")
                env[name] = value
        return env

    def command(self, key: str, env: dict[str, str], specifiers: dict[str, str]) -> list[str]:
        """ExecStart=/ExecStartPre= as argv: words split as systemd splits them,
        `%X` specifiers and `${VAR}` replaced inside words, a `$VAR` word replaced by
        its value split at whitespace (zero or more words)."""
        argv: list[str] = []
        for word in shlex.split(self.value(key)):
            word = re.sub(r"%(.)", lambda m: specifiers[m.group(1)], word)
            if re.fullmatch(r"\$\w+", word):
                argv += env.get(word[1:], "").split()
                continue
            argv.append(_VARIABLE.sub(lambda m: env.get(m.group(1), ""), word))
        return argv


def parse(path: Path = UNIT_PATH) -> Unit:
    """A unit file: `[Section]` headers, `Key=value` lines, `#`/`;` comments."""
    unit = Unit()
    section: dict[str, list[str]] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        if section is None or not sep:
            raise ValueError(f"{path}:{number}: not a unit file line: {raw!r}")
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def seconds(text: str) -> float:
    """A systemd time span such as `45s`, `1min 30s` or `500ms`."""
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        total += float(number) * _SECONDS[unit]
    return total


def flag(argv: list[str], name: str) -> str:
    """The value of `name VALUE` in argv."""
    return argv[argv.index(name) + 1]
