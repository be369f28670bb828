"""`check`: schemas first, then the product constraints on what passed the schemas."""

from __future__ import annotations

from datetime import UTC, datetime

from l4plan.configs.model import Config
from l4plan.configs.validation.constraints import check_constraints
from l4plan.configs.validation.schema import check_schemas
from l4plan.diagnostics import Diagnostic, has_errors


def check(config: Config, *, now: datetime | None = None) -> list[Diagnostic]:
    """Schema (L4E016) and constraint diagnostics of a loaded configuration.

    `now` decides the DDoS-protection expiry warnings (L4W001/L4W002); it defaults to
    the current time. A configuration that did not load cleanly (`config.diagnostics`
    holds errors) is not checked further: its values may be partial, and the loading
    errors are what the operator must fix first. The result does not repeat
    `config.diagnostics`; it is sorted by file, line and column.
    """
    if has_errors(config.diagnostics):
        return []
    schema_diagnostics, failed = check_schemas(config)
    found = schema_diagnostics + check_constraints(config, failed, now or datetime.now(UTC))
    return sorted(found, key=lambda d: (d.file, d.line, d.column))
