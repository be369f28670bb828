"""How an operation stops: with a message for the operator, or after its view has
shown why (configuration diagnostics, a plan with errors)."""

from __future__ import annotations

from l4plan.configs.model import Config
from l4plan.diagnostics import Diagnostic


class OperationError(Exception):
    """The operation stopped; the message says why and what to do next."""


class InvalidConfiguration(Exception):
    """The configuration has errors; nothing was read or changed."""

    def __init__(self, config: Config, diagnostics: list[Diagnostic]) -> None:
        super().__init__("the configuration has errors")
        self.config = config
        self.diagnostics = diagnostics


class Stopped(Exception):
    """The operation stopped after its view showed why (exit status 1)."""
