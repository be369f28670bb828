"""The configuration an operation works from: loaded, then checked."""

from __future__ import annotations

from pathlib import Path

from l4plan.configs import load_config
from l4plan.configs.model import Config
from l4plan.configs.validate import check
from l4plan.diagnostics import Diagnostic, has_errors
from l4plan.workflows.errors import InvalidConfiguration
from l4plan.workflows.options import RunOptions


def loaded_config(
    workdir: Path, options: RunOptions, *, environ: dict[str, str] | None = None
) -> tuple[Config, list[Diagnostic]]:
    """The configuration and its diagnostics: loading, then (when loading found no
    error) schemas and constraints."""
    config = load_config(
        workdir, var_args=options.var_args, var_files=options.var_files, environ=environ
    )
    diagnostics = [*config.diagnostics]
    if not has_errors(diagnostics):
        diagnostics += check(config)
    return config, diagnostics


def checked_config(
    workdir: Path, options: RunOptions, *, environ: dict[str, str] | None = None
) -> Config:
    """The configuration, or InvalidConfiguration with its diagnostics."""
    config, diagnostics = loaded_config(workdir, options, environ=environ)
    if has_errors(diagnostics):
        raise InvalidConfiguration(config, diagnostics)
    return config
