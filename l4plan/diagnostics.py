"""Diagnostics: the one shape every stage uses to report a problem to the operator.

Codes are part of the public interface (docs/constraints.md lists them); messages say
what to change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Pos:
    """A source position: file name relative to the configuration directory, 1-based."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_POS = Pos("", 0, 0)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    address: str = ""
    file: str = ""
    line: int = 0
    column: int = 0

    @classmethod
    def at(
        cls,
        code: str,
        message: str,
        pos: Pos | None = None,
        address: str = "",
        severity: Severity = "error",
    ) -> Diagnostic:
        pos = pos or NO_POS
        return cls(code, severity, message, address, pos.file, pos.line, pos.column)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def location(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}:{self.column}"

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class DiagnosticError(Exception):
    """Raised when a stage cannot go on; carries the diagnostics that explain why."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("; ".join(d.message for d in diagnostics))


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)
