"""`required_version` constraints, checked against the running l4plan."""

from __future__ import annotations

import re

_CONSTRAINT = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?(\d+(?:\.\d+){0,2})(?:-[0-9A-Za-z.]+)?\s*$")


def _version_tuple(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(".")]
    return tuple([*parts, 0, 0, 0][:3])  # type: ignore[return-value]


def check_required_version(constraint: str, version: str) -> str | None:
    """None when `version` satisfies a Terraform-style constraint, else the problem."""
    current = _version_tuple(re.match(r"\d+(?:\.\d+)*", version).group(0))  # type: ignore[union-attr]
    for item in constraint.split(","):
        m = _CONSTRAINT.match(item)
        if m is None:
            return (
                f'required_version "{constraint}" is not a version constraint; '
                'use e.g. ">= 0.1", "~> 0.1" or ">= 0.1, < 1.0"'
            )
        op, text = m.group(1) or "=", m.group(2)
        want = _version_tuple(text)
        if op == "~>":
            depth = text.count(".")
            upper = list(want)
            if depth == 0:
                upper = [want[0] + 1, 0, 0]
            else:
                upper[depth - 1] += 1
                for i in range(depth, 3):
                    upper[i] = 0
            ok = want <= current < tuple(upper)
        else:
            ok = {
                "=": current == want,
                "!=": current != want,
                ">": current > want,
                ">=": current >= want,
                "<": current < want,
                "<=": current <= want,
            }[op]
        if not ok:
            return (
                f"this configuration requires l4plan {constraint.strip()}, "
                f"but this is l4plan {version}; "
                "install a matching version or change required_version"
            )
    return None
